"""The piecewise-rate link: rates switch at segment boundaries, a message spanning one drains at
both rates, unlimited segments serialise instantly, and schedules are validated."""

from __future__ import annotations

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from edgecloud.sim.network import ConstantRateLinkSpec
from edgecloud.sim.network.piecewise import PiecewiseRateLinkSpec

RNG = np.random.default_rng(0)


def schedule(**kwargs) -> PiecewiseRateLinkSpec:
    """A: unlimited for 10 s, B: 1 Mbps for 10 s, C: 0.5 Mbps for ever (1 Mbps = 125 kB/s)."""
    return PiecewiseRateLinkSpec(
        segments=[
            {"name": "A", "duration_s": 10.0, "rate_mbps": None},
            {"name": "B", "duration_s": 10.0, "rate_mbps": 1.0},
            {"name": "C", "duration_s": None, "rate_mbps": 0.5},
        ],
        **kwargs,
    )


def test_each_segment_serialises_at_its_rate():
    link = schedule(delay_s=0.25).build(rng=RNG)
    assert link.transmit(send_time_s=1.0, num_bytes=10**6) == 1.25  # unlimited: only the delay
    assert link.transmit(send_time_s=11.0, num_bytes=125_000) == 12.25  # 1 s at 1 Mbps
    assert link.transmit(send_time_s=21.0, num_bytes=125_000) == 23.25  # 2 s at 0.5 Mbps


def test_a_message_spanning_a_boundary_drains_at_both_rates():
    """250 kB handed over at 19 s: 125 kB leave by 20 s at 1 Mbps, the other 125 kB need 2 s
    at 0.5 Mbps: done at 22 s. One handed over at 9 s, still in A, leaves at once."""
    link = schedule().build(rng=RNG)
    assert link.transmit(send_time_s=9.0, num_bytes=10**9) == 9.0
    assert link.transmit(send_time_s=19.0, num_bytes=250_000) == pytest.approx(22.0)
    # FIFO: the next message waits for the serializer
    assert link.transmit(send_time_s=20.0, num_bytes=62_500) == pytest.approx(23.0)


def test_a_single_segment_is_a_constant_rate_link():
    piecewise = PiecewiseRateLinkSpec(
        segments=[{"name": "only", "duration_s": None, "rate_mbps": 7.5}], delay_s=0.013
    ).build(rng=RNG)
    constant = ConstantRateLinkSpec(rate_mbps=7.5, delay_s=0.013).build(rng=RNG)
    for send, size in ((0.0, 30_000), (0.01, 45_000), (1.0, 1_000), (1.0, 0)):
        assert piecewise.transmit(send_time_s=send, num_bytes=size) == pytest.approx(
            constant.transmit(send_time_s=send, num_bytes=size), abs=1e-12
        )


def test_phase_names_and_retiming():
    spec = schedule()
    assert spec.starts == (0.0, 10.0, 20.0)
    assert [spec.segment_name(t) for t in (0.0, 9.99, 10.0, 25.0, 1e9)] == ["A", "A", "B", "C", "C"]
    assert spec.phase_names == ("A", "B", "C")
    retimed = spec.with_durations([3.0, 4.0])
    assert retimed.starts == (0.0, 3.0, 7.0)
    assert [s.rate_mbps for s in retimed.segments] == [None, 1.0, 0.5]
    with pytest.raises(ValueError, match="need 2 durations"):
        spec.with_durations([1.0])


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ([], "non-empty"),
        ([{"name": "A", "duration_s": 5.0, "rate_mbps": 1.0}], "lasts for ever"),
        ([{"name": "A", "duration_s": None, "rate_mbps": 1.0}] * 2, "positive number"),
        ([{"name": "A", "duration_s": None, "rate_mbps": -1.0}], "rate_mbps"),
        ([{"name": "A", "duration_s": None, "rate": 1.0}], "unknown keys"),
    ],
)
def test_bad_schedules_are_refused(segments, message):
    with pytest.raises(ValueError, match=message):
        PiecewiseRateLinkSpec(segments=segments)


def test_jitter_may_not_exceed_the_delay_and_sends_stay_ordered():
    with pytest.raises(ValueError, match="jitter_s"):
        schedule(delay_s=0.01, jitter_s=0.02)
    link = schedule().build(rng=RNG)
    link.transmit(send_time_s=5.0, num_bytes=1)
    with pytest.raises(ValueError, match="earlier"):
        link.transmit(send_time_s=4.0, num_bytes=1)


def test_instantiates_from_a_hydra_config():
    config = OmegaConf.create(
        {
            "_target_": "edgecloud.sim.network.piecewise.PiecewiseRateLinkSpec",
            "segments": [
                {"name": "A", "duration_s": 1.0, "rate_mbps": None},
                {"name": "B", "duration_s": None, "rate_mbps": 5.0},
            ],
            "delay_s": 0.0,
        }
    )
    spec = instantiate(config, _convert_="all")
    assert spec.segments[1].rate_mbps == 5.0
    assert instantiate(config).segments[0].name == "A"  # DictConfig entries work too
