"""The window manager: window positions, the half-coverage labels and lazy window clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgecloud.data.action_video import ActionSegment, ActionVideo
from edgecloud.data.action_windows import (
    FrameCache,
    WindowClips,
    read_frames,
    window_clips,
    window_starts,
)
from edgecloud.metrics.action import window_labels

HEIGHT, WIDTH = 6, 8


class CountingFrames:
    """An in-memory FrameSource whose frame ``i`` is filled with ``i``; it counts its reads."""

    def __init__(self, num_frames: int) -> None:
        self.num_frames = num_frames
        self.reads: list[int] = []

    @property
    def location(self) -> Path:
        return Path("memory://counting")

    def __len__(self) -> int:
        return self.num_frames

    def read(self, index: int) -> np.ndarray:
        if not 0 <= index < self.num_frames:
            raise IndexError(index)
        self.reads.append(index)
        return np.full((HEIGHT, WIDTH, 3), index, dtype=np.uint8)


def frame_ids(clip: np.ndarray) -> list[int]:
    return [int(frame[0, 0, 0]) for frame in clip]


def naive_window_labels(labels: np.ndarray, *, window_size: int, window_stride: int) -> list[int]:
    """The rule written out window by window, to check the vectorised version against."""
    result = []
    for start in range(0, len(labels) - window_size + 1, window_stride):
        window = labels[start : start + window_size]
        winners = [c for c in set(window.tolist()) - {0} if 2 * (window == c).sum() >= window_size]
        result.append(0 if not winners else winners[0] if len(winners) == 1 else int(window[-1]))
    return result


# ------------------------------------------------------------------------------ window_starts


def test_window_starts_of_the_paper_setting():
    starts = window_starts(40, window_size=16, window_stride=4)
    assert starts.dtype == np.int64
    np.testing.assert_array_equal(starts, [0, 4, 8, 12, 16, 20, 24])


@pytest.mark.parametrize(
    ("num_frames", "size", "stride", "expected"),
    [
        (15, 16, 4, []),  # shorter than one window: no window at all
        (16, 16, 4, [0]),
        (19, 16, 4, [0]),  # the 3 trailing frames never fill a window
        (20, 16, 4, [0, 4]),
        (20, 4, 8, [0, 8, 16]),  # stride larger than the window skips frames
        (5, 1, 1, [0, 1, 2, 3, 4]),
        (0, 16, 4, []),
    ],
)
def test_window_starts_keep_windows_fully_inside(num_frames, size, stride, expected):
    starts = window_starts(num_frames, window_size=size, window_stride=stride)
    np.testing.assert_array_equal(starts, expected)
    assert len(starts) == max(0, (num_frames - size) // stride + 1)
    assert all(start + size <= num_frames for start in starts)


@pytest.mark.parametrize(("size", "stride"), [(0, 4), (16, 0), (-1, 1)])
def test_window_starts_reject_bad_parameters(size, stride):
    with pytest.raises(ValueError, match="must be >= 1"):
        window_starts(40, window_size=size, window_stride=stride)


# ------------------------------------------------------------------------------ window_labels


def test_window_labels_half_coverage_by_hand():
    # Windows of 4 frames, stride 1:
    #   [0 0 1 1] 1 holds half -> 1      [0 1 1 2] 1 holds half -> 1
    #   [1 1 2 2] tie -> last frame's 2  [1 2 2 0] -> 2
    #   [2 2 0 0] -> 2                   [2 0 0 0] a quarter -> background
    labels = np.array([0, 0, 1, 1, 2, 2, 0, 0, 0])
    np.testing.assert_array_equal(
        window_labels(labels, window_size=4, window_stride=1), [1, 1, 2, 2, 2, 0]
    )


def test_window_labels_tie_goes_to_the_last_frame_whatever_the_ids():
    # The same tie the other way round: the later action wins even with the smaller id.
    assert window_labels(np.array([2, 2, 1, 1]), window_size=4, window_stride=1).tolist() == [1]
    assert window_labels(np.array([1, 1, 2, 2]), window_size=4, window_stride=1).tolist() == [2]


def test_window_labels_less_than_half_is_background():
    # 16-frame windows, stride 4: an action of 7 frames never holds half a window.
    labels = np.zeros(40, dtype=np.int64)
    labels[20:27] = 3
    assert window_labels(labels, window_size=16, window_stride=4).tolist() == [0] * 7


def test_window_labels_of_the_paper_setting_by_hand():
    # Action 5 on frames 10..29. Windows [0,16) holds 6 frames -> 0; [4,20) 10 -> 5;
    # [8,24) 14; [12,28) 16; [16,32) 14; [20,36) 10; [24,40) 6 -> 0.
    labels = np.zeros(40, dtype=np.int64)
    labels[10:30] = 5
    assert window_labels(labels, window_size=16, window_stride=4).tolist() == [0, 5, 5, 5, 5, 5, 0]


def test_window_labels_count_frames_per_class():
    # Two instances of class 1 with background between add up to half the window.
    assert window_labels(np.array([1, 0, 0, 1]), window_size=4, window_stride=4).tolist() == [1]


def test_window_labels_odd_window_needs_a_strict_majority():
    labels = np.array([1, 0, 0, 1, 1])
    assert window_labels(labels, window_size=3, window_stride=1).tolist() == [0, 0, 1]


def test_window_labels_agree_with_the_rule_written_out():
    rng = np.random.default_rng(0)
    for _ in range(50):
        # Runs of random classes (0..3) with random lengths, like segments with gaps.
        runs = [np.full(rng.integers(1, 9), rng.integers(0, 4)) for _ in range(12)]
        labels = np.concatenate(runs)
        for size, stride in [(4, 1), (6, 2), (5, 3), (16, 4)]:
            assert window_labels(labels, window_size=size, window_stride=stride).tolist() == (
                naive_window_labels(labels, window_size=size, window_stride=stride)
            )


def test_window_labels_of_an_action_video():
    video = ActionVideo(
        name="v",
        frames=CountingFrames(24),
        fps=30.0,
        segments=(ActionSegment(label=2, start=0, end=6), ActionSegment(label=1, start=12, end=20)),
    )
    # Windows of 8, stride 4: [0,8) 6 of 2; [4,12) 2 of 2; [8,16) 4 of 1; [12,20) 8; [16,24) 4.
    labels = window_labels(video.frame_labels(), window_size=8, window_stride=4)
    assert labels.tolist() == [2, 0, 1, 1, 1]


def test_window_labels_edge_cases():
    assert window_labels(np.array([1, 1]), window_size=4, window_stride=1).tolist() == []
    zeros = np.zeros(10, dtype=np.int64)
    assert window_labels(zeros, window_size=4, window_stride=2).tolist() == [0] * 4
    with pytest.raises(ValueError, match="1-D"):
        window_labels(np.zeros((2, 8), dtype=np.int64), window_size=4, window_stride=1)
    with pytest.raises(ValueError, match=">= 0"):
        window_labels(np.array([0, -1, 0, 0]), window_size=4, window_stride=1)


# ------------------------------------------------------------------------------ reading clips


def test_window_clips_are_lazy_and_cover_the_right_frames():
    frames = CountingFrames(40)
    clips = window_clips(frames, window_size=16, window_stride=4)
    assert isinstance(clips, WindowClips)
    assert frames.reads == []  # nothing decoded yet
    assert len(clips) == 7
    clip = clips[2]
    assert clip.shape == (16, HEIGHT, WIDTH, 3) and clip.dtype == np.uint8
    assert frame_ids(clip) == list(range(8, 24))
    assert frame_ids(clips[-1]) == list(range(24, 40))
    with pytest.raises(IndexError):
        clips[7]


def test_iterating_windows_reads_every_frame_once_in_order():
    frames = CountingFrames(40)
    clips = list(WindowClips(frames, window_size=16, window_stride=4))
    assert np.stack(clips).shape == (7, 16, HEIGHT, WIDTH, 3)
    for t, clip in enumerate(clips):
        assert frame_ids(clip) == list(range(4 * t, 4 * t + 16))
    assert frames.reads == list(range(40))


def test_a_video_shorter_than_a_window_has_no_clips():
    assert list(window_clips(CountingFrames(10), window_size=16, window_stride=4)) == []


def test_read_frames_reads_repeats_once_and_keeps_their_order():
    frames = CountingFrames(10)
    clip = read_frames(frames, [5, 3, 4, 3, 5])
    assert frame_ids(clip) == [5, 3, 4, 3, 5]
    assert frames.reads == [3, 4, 5]
    with pytest.raises(IndexError, match="out of range"):
        read_frames(frames, [9, 10])
    with pytest.raises(ValueError, match="non-empty"):
        read_frames(frames, [])


def test_frame_cache_keeps_at_most_capacity_frames_of_one_source():
    frames, other = CountingFrames(10), CountingFrames(10)
    cache = FrameCache(capacity=3)
    for index in [0, 1, 2, 1, 3]:
        cache.read(frames, index)
    assert frames.reads == [0, 1, 2, 3]  # 1 came from the cache
    cache.read(frames, 0)  # evicted (least recently used): read again
    assert frames.reads[-1] == 0
    cache.read(other, 1)  # another source empties the cache
    cache.read(frames, 1)
    assert other.reads == [1] and frames.reads[-1] == 1
    with pytest.raises(ValueError, match="capacity"):
        FrameCache(capacity=0)
