"""Clownfish's window selection policies and their bandwidth, checked against the paper's numbers
(16-frame windows every 4 frames: 33.3% at n_w = 6, 42.9% at n_w = 7, nothing for n_w <= 4)."""

from __future__ import annotations

import numpy as np
import pytest

from edgecloud.fusion.clownfish_filter import (
    bandwidth_reduction,
    context_aware_periodic_windows,
    frames_sent,
    num_windows,
    periodic_bandwidth_reduction,
    periodic_windows,
    relevance_windows,
)

PAPER = {"window_size": 16, "window_stride": 4}


def test_num_windows():
    assert num_windows(64, **PAPER) == 13  # starts 0, 4, ..., 48
    assert num_windows(67, **PAPER) == 13  # 3 trailing frames make no window
    assert num_windows(15, **PAPER) == 0
    assert num_windows(16, **PAPER) == 1


def test_periodic_sends_the_first_window_then_every_interval():
    assert periodic_windows(10, interval=3).tolist() == [0, 3, 6, 9]
    assert periodic_windows(4, interval=1).tolist() == [0, 1, 2, 3]
    assert periodic_windows(0, interval=5).tolist() == []
    with pytest.raises(ValueError, match="interval"):
        periodic_windows(10, interval=0)


def test_context_aware_periodic_restarts_the_timer_at_a_similarity_rise():
    # rho:      t=0   1    2    3    4    5    6    7    8    9    10
    rho = [0.0, 0.9, 0.9, 0.1, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    # rise: rho_5 - rho_4 = .7 >= .5 -> send 5, next periodic at 9. (rho_1 - rho_0 = .9 is not
    # a transition: rho_0 is no score.) Periodic: 0, 4.
    assert context_aware_periodic_windows(rho, interval=4).tolist() == [0, 4, 5, 9]
    # drop: rho_2 - rho_3 = .8 -> send 3, then 7 (11 is past the end).
    assert context_aware_periodic_windows(rho, interval=4, direction="drop").tolist() == [
        0,
        3,
        7,
    ]
    # Without transitions it is the plain periodic policy.
    flat = np.full(11, 0.9)
    assert context_aware_periodic_windows(flat, interval=4).tolist() == [0, 4, 8]
    assert context_aware_periodic_windows([], interval=4).tolist() == []


def test_relevance_filter_keeps_scores_at_or_above_the_cutoff():
    assert relevance_windows(np.array([0.2, 0.5, 0.7, 0.49])).tolist() == [1, 2]
    assert relevance_windows(np.array([0.2, 0.5, 0.7]), cutoff=0.6).tolist() == [2]


def brute_force_frames(windows, *, window_size, window_stride):
    frames = set()
    for t in windows:
        frames.update(range(t * window_stride, t * window_stride + window_size))
    return len(frames)


def test_frames_sent_counts_each_frame_once():
    # 64 frames, 13 windows. Windows 0, 1, 5 start at 0, 4, 20: 16 + 4 (overlap) + 16.
    assert frames_sent([0, 1, 5], num_frames=64, **PAPER) == 36
    assert frames_sent([5, 1, 0, 1], num_frames=64, **PAPER) == 36  # order, repeats
    assert frames_sent([], num_frames=64, **PAPER) == 0
    assert frames_sent(np.arange(13), num_frames=64, **PAPER) == 64
    rng = np.random.default_rng(0)
    for _ in range(50):
        size, stride = int(rng.integers(1, 20)), int(rng.integers(1, 8))
        count = int(rng.integers(1, 40))
        chosen = np.flatnonzero(rng.uniform(size=count) < 0.3)
        frames = size + stride * (count - 1) + int(rng.integers(0, stride))
        assert frames_sent(
            chosen, window_size=size, window_stride=stride, num_frames=frames
        ) == brute_force_frames(chosen, window_size=size, window_stride=stride)
    with pytest.raises(ValueError, match="selected windows"):
        frames_sent([13], num_frames=64, **PAPER)


def test_bandwidth_reduction_on_a_short_video():
    # 13 windows, 64 frames. n_w = 6 sends windows 0, 6, 12: 3 x 16 = 48 frames -> 25%.
    assert bandwidth_reduction(periodic_windows(13, interval=6), num_frames=64, **PAPER) == 0.25
    # n_w = 2, 3, 4 cover every frame (consecutive sends overlap or touch).
    for interval in (2, 3, 4):
        reduction = bandwidth_reduction(
            periodic_windows(13, interval=interval), num_frames=64, **PAPER
        )
        assert reduction == 0.0
    assert np.isnan(bandwidth_reduction([], num_frames=10, **PAPER))


@pytest.mark.parametrize(
    ("interval", "expected"), [(1, 0.0), (4, 0.0), (5, 0.2), (6, 1 / 3), (7, 3 / 7), (10, 0.6)]
)
def test_periodic_bandwidth_reduction_limit(interval, expected):
    assert periodic_bandwidth_reduction(interval, **PAPER) == pytest.approx(expected)
    # A long video (6,000 windows, about 13 minutes at 30 FPS) approaches the limit.
    count = 6000
    frames = PAPER["window_size"] + PAPER["window_stride"] * (count - 1)
    exact = bandwidth_reduction(
        periodic_windows(count, interval=interval), num_frames=frames, **PAPER
    )
    assert exact == pytest.approx(expected, abs=1e-3)


def test_paper_numbers():
    assert round(100 * periodic_bandwidth_reduction(6, **PAPER), 2) == 33.33
    assert round(100 * periodic_bandwidth_reduction(7, **PAPER), 2) == 42.86
    assert all(periodic_bandwidth_reduction(n, **PAPER) == 0.0 for n in range(1, 5))
