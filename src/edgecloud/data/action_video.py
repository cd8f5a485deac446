"""In-memory types for temporal action data (PKU-MMD and the synthetic action world).

A long video holds several actions, each a contiguous run of frames; every other frame is
background. Frame indices are 0-based and segments half-open (``start <= f < end``), whatever
the file format counts from. Class ids are contiguous ``1..C`` in the order of the data
config's ``class_names``; 0 is the background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgecloud.data.frames import FrameSource

BACKGROUND = 0
"""Class id of frames that belong to no action."""


@dataclass(frozen=True)
class ActionSegment:
    """One action instance: class ``label`` over frames ``start <= f < end``."""

    label: int
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.label < 1:
            raise ValueError(f"an action label is at least 1 (0 is background), got {self.label}")
        if not 0 <= self.start < self.end:
            raise ValueError(f"a segment needs 0 <= start < end, got [{self.start}, {self.end})")


@dataclass(frozen=True)
class ActionVideo:
    """One untrimmed video with its action segments, sorted by start and not overlapping."""

    name: str
    frames: FrameSource
    fps: float
    segments: tuple[ActionSegment, ...]

    def __post_init__(self) -> None:
        for before, after in zip(self.segments, self.segments[1:], strict=False):
            if after.start < before.end:
                raise ValueError(
                    f"{self.name}: segments must be sorted and disjoint, got "
                    f"[{before.start}, {before.end}) then [{after.start}, {after.end})"
                )
        if self.segments and self.segments[-1].end > len(self.frames):
            raise ValueError(
                f"{self.name}: a segment ends at frame {self.segments[-1].end} "
                f"but the video has {len(self.frames)} frames"
            )

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def frame_labels(self) -> np.ndarray:
        """``(num_frames,)`` int64 class id of every frame, :data:`BACKGROUND` outside actions."""
        labels = np.full(self.num_frames, BACKGROUND, dtype=np.int64)
        for segment in self.segments:
            labels[segment.start : segment.end] = segment.label
        return labels
