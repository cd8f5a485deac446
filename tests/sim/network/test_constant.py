"""Constant-rate (tc/netem) and ideal links: serialization and queueing by hand, jitter bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgecloud.sim.network import ConstantRateLinkSpec, IdealLinkSpec


def build(rng_seed: int = 0, **spec_kwargs):
    return ConstantRateLinkSpec(**spec_kwargs).build(rng=np.random.default_rng(rng_seed))


def test_serialization_and_fifo_queueing():
    link = build(rate_mbps=8.0, delay_s=0.01)  # 8 Mbps: one byte per microsecond
    assert link.transmit(send_time_s=0.0, num_bytes=1000) == pytest.approx(0.001 + 0.01)
    # handed over at 0.5 ms while the first is still serializing: starts at 1 ms, done at 3 ms
    assert link.transmit(send_time_s=0.0005, num_bytes=2000) == pytest.approx(0.003 + 0.01)
    # the link is idle again by 10 ms
    assert link.transmit(send_time_s=0.010, num_bytes=1000) == pytest.approx(0.011 + 0.01)
    assert link.transmit(send_time_s=0.010, num_bytes=0) == pytest.approx(0.011 + 0.01)


def test_unlimited_rate_only_delays():
    link = build(rate_mbps=None, delay_s=0.153)
    assert link.transmit(send_time_s=1.0, num_bytes=10**9) == pytest.approx(1.153)
    assert link.transmit(send_time_s=1.0, num_bytes=10**9) == pytest.approx(1.153)


def test_jitter_is_uniform_within_bounds_deterministic_and_may_reorder():
    def arrivals(seed: int) -> np.ndarray:
        link = build(seed, rate_mbps=None, delay_s=0.03, jitter_s=0.01)
        return np.array([link.transmit(send_time_s=i * 1e-4, num_bytes=100) for i in range(2000)])

    sent = np.arange(2000) * 1e-4
    jitter = arrivals(7) - sent - 0.03
    assert jitter.min() >= -0.01 and jitter.max() <= 0.01
    assert jitter.min() < -0.009 and jitter.max() > 0.009
    assert abs(jitter.mean()) < 0.001
    np.testing.assert_array_equal(arrivals(7), arrivals(7))
    assert not np.array_equal(arrivals(7), arrivals(8))
    assert np.any(np.diff(arrivals(7)) < 0)  # as under netem, jitter reorders close messages


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate_mbps": 0.0, "delay_s": 0.0}, "rate_mbps must be a positive finite number"),
        ({"rate_mbps": -1.0, "delay_s": 0.0}, "rate_mbps must be a positive finite number"),
        ({"rate_mbps": math.inf, "delay_s": 0.0}, "rate_mbps must be a positive finite number"),
        ({"rate_mbps": "fast", "delay_s": 0.0}, "rate_mbps must be a positive finite number"),
        ({"rate_mbps": True, "delay_s": 0.0}, "rate_mbps must be a positive finite number"),
        ({"rate_mbps": 1.0, "delay_s": -0.001}, "delay_s must be >= 0"),
        ({"rate_mbps": 1.0, "delay_s": math.nan}, "delay_s must be a finite number"),
        ({"rate_mbps": 1.0, "delay_s": None}, "delay_s must be a finite number"),
        ({"rate_mbps": 1.0, "delay_s": 0.01, "jitter_s": -0.001}, "jitter_s must be >= 0"),
        ({"rate_mbps": 1.0, "delay_s": 0.01, "jitter_s": 0.02}, "may not exceed delay_s"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConstantRateLinkSpec(**kwargs)


def test_out_of_order_sends_are_refused():
    link = build(rate_mbps=10.0, delay_s=0.0)
    link.transmit(send_time_s=1.0, num_bytes=1)
    with pytest.raises(ValueError, match="earlier than the previous message's"):
        link.transmit(send_time_s=0.5, num_bytes=1)


def test_ideal_link_delivers_at_the_send_time():
    link = IdealLinkSpec().build(rng=np.random.default_rng(0))
    assert link.transmit(send_time_s=0.25, num_bytes=10**9) == 0.25
    assert link.transmit(send_time_s=0.25, num_bytes=0) == 0.25
    with pytest.raises(ValueError, match=r"ideal link: send_time_s 0\.1 is earlier"):
        link.transmit(send_time_s=0.1, num_bytes=1)
