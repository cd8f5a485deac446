"""Action-vs-background windows for the relevance filter (Clownfish section VI-G baseline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgecloud.data.action_transforms import EvalClipTransform
from edgecloud.data.action_video import ActionSegment, ActionVideo
from edgecloud.data.relevance_dataset import (
    IRRELEVANT,
    RELEVANCE_CLASS_NAMES,
    RELEVANT,
    RelevanceDataModule,
    RelevanceWindowDataset,
)
from edgecloud.metrics.action import window_labels

SIDE = 8
RAW = EvalClipTransform(input_size=SIDE, mean=(0, 0, 0), std=(1, 1, 1))


class IndexFrames:
    """In-memory frames whose pixels hold their index."""

    def __init__(self, num_frames: int) -> None:
        self.num_frames = num_frames

    @property
    def location(self) -> Path:
        return Path("memory://frames")

    def __len__(self) -> int:
        return self.num_frames

    def read(self, index: int) -> np.ndarray:
        if not 0 <= index < self.num_frames:
            raise IndexError(index)
        return np.full((SIDE, SIDE, 3), index, dtype=np.uint8)


def _video(num_frames: int = 60) -> ActionVideo:
    segments = (ActionSegment(2, 10, 30), ActionSegment(3, 40, 52))
    return ActionVideo(name="v", frames=IndexFrames(num_frames), fps=30.0, segments=segments)


def _frames_of(clip) -> np.ndarray:
    """Frame indices a RAW clip ``(3, T, S, S)`` was read from."""
    return np.round(clip[0].mean(dim=(1, 2)).numpy() * 255).astype(int)


def test_stream_windows_are_labelled_by_the_half_coverage_rule():
    video = _video()
    dataset = RelevanceWindowDataset([video], window_size=8, window_stride=4, transform=RAW)
    expected = window_labels(video.frame_labels(), window_size=8, window_stride=4) != 0
    np.testing.assert_array_equal(dataset.labels(), expected.astype(np.int64))
    assert {IRRELEVANT, RELEVANT} == set(dataset.labels().tolist())
    for item in range(len(dataset)):
        clip, target = dataset[item]
        start = 4 * item
        assert int(target["window_index"]) == item and int(target["start"]) == start
        np.testing.assert_array_equal(_frames_of(clip), np.arange(start, start + 8))
        assert int(target["label"]) == expected[item]


def test_shifted_training_windows_stay_in_their_stride_and_are_relabelled():
    video = _video()
    dataset = RelevanceWindowDataset(
        [video], window_size=8, window_stride=16, random_offset=True, transform=RAW, seed=3
    )
    by_start = window_labels(video.frame_labels(), window_size=8, window_stride=1)
    starts = []
    for item in range(len(dataset)):
        clip, target = dataset[item]
        start = int(target["start"])
        starts.append(start)
        assert 16 * item <= start < 16 * item + 16 and start + 8 <= video.num_frames
        assert int(target["window_label"]) == by_start[start]
        assert int(target["label"]) == int(by_start[start] != 0)
        np.testing.assert_array_equal(_frames_of(clip), np.arange(start, start + 8))
    # seeded: the same shifts again; not all shifts zero
    assert starts == [int(dataset[i][1]["start"]) for i in range(len(dataset))]
    assert any(start % 16 for start in starts)


def test_datamodule_serves_binary_targets_and_checks_the_action_ids():
    names = ["a", "b", "c"]
    datamodule = RelevanceDataModule(
        class_names=names,
        train_videos=lambda: [_video()],
        val_videos=lambda: [_video(56)],
        window_size=8,
        window_stride=4,
        input_size=SIDE,
    )
    assert datamodule.class_names == list(RELEVANCE_CLASS_NAMES)
    assert datamodule.action_names == names
    datamodule.setup("fit")
    assert datamodule.train_set.window_stride == 8  # default: one window length
    assert datamodule.train_set.random_offset and not datamodule.val_set.random_offset
    _, target = next(iter(datamodule.val_dataloader()))
    assert set(target["label"].tolist()) <= {IRRELEVANT, RELEVANT}
    too_few = RelevanceDataModule(
        class_names=["a", "b"], train_videos=lambda: [_video()], val_videos=lambda: [_video()]
    )
    with pytest.raises(ValueError, match=r"outside 1\.\.2"):
        too_few.setup("fit")
