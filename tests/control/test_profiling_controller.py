"""Tail-aware profiling picks per-bandwidth configurations; the controller switches on a tail
burst and back."""

from __future__ import annotations

import pytest

from edgecloud.control.controller import TailAwareController
from edgecloud.control.profiling import KnobProfile, choose_policy, profile_knobs
from edgecloud.data.degradation import Knobs

X2_Q40, X2_Q90 = Knobs(scale=2, quality=40), Knobs(scale=2, quality=90)
X4_Q90, X8_Q90 = Knobs(scale=4, quality=90), Knobs(scale=8, quality=90)

# Frames 0-2 are ordinary, 3 is a tail frame. Bytes per frame and per-frame accuracy:
FRAME_BYTES = {
    X8_Q90: [1000, 1000, 1000, 1000],
    X4_Q90: [3000, 3000, 3000, 3000],
    X2_Q40: [2800, 3000, 3200, 3000],
    X2_Q90: [9000, 9000, 9000, 9000],
}
FRAME_ACCURACY = {
    X8_Q90: [0.5, 0.5, 0.5, 0.1],
    X4_Q90: [0.8, 0.8, 0.8, 0.3],  # best ordinary accuracy at 3 kB
    X2_Q40: [0.7, 0.7, 0.7, 0.6],  # best tail accuracy at 3 kB: more pixels, coarser JPEG
    X2_Q90: [0.9, 0.9, 0.9, 0.7],
}
IS_TAIL = [False, False, False, True]


@pytest.fixture
def profiles() -> list[KnobProfile]:
    return profile_knobs(FRAME_BYTES, FRAME_ACCURACY, is_tail=IS_TAIL)


def test_profiles_average_bytes_and_split_accuracy(profiles) -> None:
    by_knobs = {profile.knobs: profile for profile in profiles}
    assert by_knobs[X2_Q40].bytes_per_frame == 3000
    assert by_knobs[X2_Q40].ordinary_accuracy == pytest.approx(0.7)
    assert by_knobs[X2_Q40].tail_accuracy == pytest.approx(0.6)
    assert [p.knobs for p in profiles] == [X8_Q90, X2_Q40, X4_Q90, X2_Q90]


def test_policy_per_bandwidth(profiles) -> None:
    # 10 fps: 3 kB per frame is 240 kbit/s
    policy = choose_policy(profiles, bandwidth_bps=240_000, fps=10)
    assert (policy.standard, policy.tail, policy.fits) == (X4_Q90, X2_Q40, True)
    rich = choose_policy(profiles, bandwidth_bps=1_000_000, fps=10)
    assert rich.standard == rich.tail == X2_Q90
    poor = choose_policy(profiles, bandwidth_bps=50_000, fps=10)
    assert (poor.standard, poor.tail, poor.fits) == (X8_Q90, X8_Q90, False)


def test_profiling_rejects_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="both tail and ordinary"):
        profile_knobs(FRAME_BYTES, FRAME_ACCURACY, is_tail=[False] * 4)
    with pytest.raises(ValueError, match="x8_q90: 3 sizes"):
        profile_knobs(FRAME_BYTES | {X8_Q90: [1000, 1000, 1000]}, FRAME_ACCURACY, is_tail=IS_TAIL)


def test_controller_switches_on_a_tail_burst_and_back(profiles) -> None:
    controller = TailAwareController(profiles, fps=10)
    signals = [False, False, True, True, True, False, False]
    sent = []
    for tail_frame in signals:
        sent.append(controller.knobs(bandwidth_bps=240_000))
        controller.observe(tail_frame=tail_frame)
    # each frame follows the signal of the response before it
    assert sent == [X4_Q90, X4_Q90, X4_Q90, X2_Q40, X2_Q40, X2_Q40, X4_Q90]


def test_awstream_style_controller_ignores_tail_signals(profiles) -> None:
    controller = TailAwareController(profiles, fps=10, tail_aware=False)
    controller.observe(tail_frame=True)
    assert controller.knobs(bandwidth_bps=240_000) == X4_Q90
    assert controller.knobs(bandwidth_bps=1_000_000) == X2_Q90
