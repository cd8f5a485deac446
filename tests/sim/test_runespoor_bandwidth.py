"""The Runespoor edge's bandwidth estimators on hand-computed sends: the harmonic mean of the
goodput of the last usable sends, learnt in order from the feedback, and the configured-rate
oracle that refuses trace uplinks."""

from __future__ import annotations

import pytest

from edgecloud.sim.network import ConstantRateLinkSpec, IdealLinkSpec, MahimahiLinkSpec
from edgecloud.sim.network.piecewise import PiecewiseRateLinkSpec
from edgecloud.sim.runespoor.bandwidth import ConfiguredRate, HarmonicThroughput


def _estimator(*, window: int = 3, uplink_delay_s: float = 0.0) -> HarmonicThroughput:
    return HarmonicThroughput(window=window, initial_bps=5e5, uplink_delay_s=uplink_delay_s)


def test_no_usable_send_gives_the_initial_estimate() -> None:
    estimator = _estimator()
    assert estimator.estimate_bps(0.0) == 5e5
    estimator.observe(sent_s=0.0, delivered_s=0.1, num_bytes=1000, feedback_s=0.15)
    # delivered, but the edge learns it only with the response
    assert estimator.estimate_bps(0.149) == 5e5
    assert estimator.estimate_bps(0.15) == pytest.approx(80_000)  # 8000 bits in 0.1 s


def test_harmonic_mean_of_goodputs_not_counting_the_wait_behind_earlier_sends() -> None:
    estimator = _estimator()
    # 8000 bits in 0.1 s: 80 kbit/s
    estimator.observe(sent_s=0.0, delivered_s=0.1, num_bytes=1000, feedback_s=0.15)
    # 8000 bits in 0.05 s (the link was free at 0.1): 160 kbit/s
    estimator.observe(sent_s=0.1, delivered_s=0.15, num_bytes=1000, feedback_s=0.2)
    # sent at 0.12 behind the previous send, delivered 0.1 s after it: 16000 bits in 0.1 s
    estimator.observe(sent_s=0.12, delivered_s=0.25, num_bytes=2000, feedback_s=0.3)
    assert estimator.estimate_bps(0.2) == pytest.approx(2 / (1 / 80e3 + 1 / 160e3))
    assert estimator.estimate_bps(0.3) == pytest.approx(3 / (1 / 80e3 + 1 / 160e3 + 1 / 160e3))


def test_the_window_keeps_the_latest_sends() -> None:
    estimator = _estimator(window=2)
    for n, seconds in enumerate((0.1, 0.05, 0.025)):  # 80, 160, 320 kbit/s
        sent = float(n)
        estimator.observe(
            sent_s=sent, delivered_s=sent + seconds, num_bytes=1000, feedback_s=sent + 0.5
        )
    assert estimator.estimate_bps(1.5) == pytest.approx(2 / (1 / 80e3 + 1 / 160e3))
    assert estimator.estimate_bps(2.5) == pytest.approx(2 / (1 / 160e3 + 1 / 320e3))


def test_feedback_is_taken_in_send_order() -> None:
    estimator = _estimator()
    estimator.observe(sent_s=0.0, delivered_s=0.1, num_bytes=1000, feedback_s=0.5)
    # this response comes earlier, but the connection delivers it after the first one's
    estimator.observe(sent_s=0.1, delivered_s=0.15, num_bytes=1000, feedback_s=0.3)
    assert estimator.estimate_bps(0.4) == 5e5
    assert estimator.estimate_bps(0.5) == pytest.approx(2 / (1 / 80e3 + 1 / 160e3))


def test_the_known_propagation_delay_is_taken_off_idle_link_sends_only() -> None:
    estimator = _estimator(uplink_delay_s=0.02)
    # idle link: 8000 bits in 0.12 - 0.02 s
    estimator.observe(sent_s=0.0, delivered_s=0.12, num_bytes=1000, feedback_s=0.2)
    # behind the previous send: its delivery, not the delay, bounds the transmission
    estimator.observe(sent_s=0.05, delivered_s=0.17, num_bytes=1000, feedback_s=0.25)
    assert estimator.estimate_bps(0.25) == pytest.approx(2 / (0.1 / 8000 + 0.05 / 8000))


def test_sends_without_a_rate_are_skipped() -> None:
    estimator = _estimator(uplink_delay_s=0.02)
    estimator.observe(sent_s=0.0, delivered_s=0.1, num_bytes=1000, feedback_s=0.2)
    # overtook the previous send (jitter), delivered within the known delay, no bytes
    estimator.observe(sent_s=0.01, delivered_s=0.09, num_bytes=1000, feedback_s=0.2)
    estimator.observe(sent_s=0.2, delivered_s=0.21, num_bytes=1000, feedback_s=0.3)
    estimator.observe(sent_s=0.3, delivered_s=0.4, num_bytes=0, feedback_s=0.5)
    assert estimator.estimate_bps(1.0) == pytest.approx(8000 / 0.08)


def test_queries_go_forward_in_time_and_settings_are_checked() -> None:
    estimator = _estimator()
    estimator.estimate_bps(1.0)
    with pytest.raises(ValueError, match="queries come in time order"):
        estimator.estimate_bps(0.5)
    with pytest.raises(ValueError, match="window must be a positive integer"):
        HarmonicThroughput(window=0, initial_bps=1e6, uplink_delay_s=0.0)
    with pytest.raises(ValueError, match="initial_bps must be positive"):
        HarmonicThroughput(window=5, initial_bps=0.0, uplink_delay_s=0.0)
    with pytest.raises(ValueError, match="uplink_delay_s"):
        HarmonicThroughput(window=5, initial_bps=1e6, uplink_delay_s=-0.1)


def test_configured_rate_is_the_rate_delay_s_earlier() -> None:
    spec = PiecewiseRateLinkSpec(
        segments=[
            {"name": "fast", "duration_s": 2.0, "rate_mbps": 1.0},
            {"name": "open", "duration_s": None, "rate_mbps": None},
        ]
    )
    estimator = ConfiguredRate(spec=spec, delay_s=0.5, unlimited_mbps=100.0)
    estimator.observe(sent_s=0.0, delivered_s=1.0, num_bytes=10**6, feedback_s=1.0)
    assert estimator.estimate_bps(2.4) == 1e6
    assert estimator.estimate_bps(2.5) == 100e6
    constant = ConfiguredRate(
        spec=ConstantRateLinkSpec(rate_mbps=0.3, delay_s=0.0), delay_s=0.0, unlimited_mbps=1.0
    )
    assert constant.estimate_bps(7.0) == 0.3e6


def test_configured_rate_refuses_a_trace_uplink(tmp_path) -> None:
    trace = tmp_path / "link.up"
    trace.write_text("1\n")
    for spec in (MahimahiLinkSpec(trace_file=trace), IdealLinkSpec()):
        with pytest.raises(ValueError, match=r"edge\.bandwidth_estimator=throughput"):
            ConfiguredRate(spec=spec, delay_s=0.5, unlimited_mbps=1000.0)
