"""In-memory annotation types shared by every dataset format.

Boxes are float32 ``(x1, y1, x2, y2)`` in pixels of the original frame. Labels are contiguous
class ids ``1..C`` in the order of the data config's ``class_names``; 0 is reserved for the
background, as torchvision detectors expect. Ignore regions are areas where a detection is
neither a true nor a false positive (VisDrone category 0, boxes flagged ``score=0``, and
configurable "others"); evaluation treats them as COCO ``iscrowd`` regions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgecloud.data.frames import FrameSource


def empty_boxes() -> np.ndarray:
    return np.zeros((0, 4), dtype=np.float32)


@dataclass(frozen=True)
class FrameAnnotations:
    """Ground truth of one frame."""

    boxes: np.ndarray = field(default_factory=empty_boxes)
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), dtype=np.int64))
    track_ids: np.ndarray = field(default_factory=lambda: np.zeros((0,), dtype=np.int64))
    ignore_boxes: np.ndarray = field(default_factory=empty_boxes)

    def __post_init__(self) -> None:
        if self.boxes.shape != (len(self.labels), 4) or len(self.track_ids) != len(self.labels):
            raise ValueError(
                f"inconsistent annotation arrays: boxes {self.boxes.shape}, "
                f"labels {self.labels.shape}, track_ids {self.track_ids.shape}"
            )
        if self.ignore_boxes.ndim != 2 or self.ignore_boxes.shape[1] != 4:
            raise ValueError(f"ignore_boxes must be (M, 4), got {self.ignore_boxes.shape}")


@dataclass(frozen=True)
class VideoAnnotations:
    """One annotated video: where its frames come from and the ground truth of each frame."""

    name: str
    frames: FrameSource
    annotations: list[FrameAnnotations]
    fps: float

    def __post_init__(self) -> None:
        if len(self.annotations) != len(self.frames):
            raise ValueError(
                f"video {self.name!r}: {len(self.annotations)} annotated frames "
                f"but {len(self.frames)} frames in {self.frames.location}"
            )

    def __len__(self) -> int:
        return len(self.annotations)
