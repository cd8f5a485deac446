"""Builders for hand-written frames, shared by the metric tests."""

from __future__ import annotations

import numpy as np

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections


def boxes(*rows: tuple[float, float, float, float]) -> np.ndarray:
    return np.array(rows, dtype=np.float32).reshape(-1, 4)


def annotations(
    box_rows: list, labels: list[int], ignore_rows: list | None = None
) -> FrameAnnotations:
    return FrameAnnotations(
        boxes=boxes(*box_rows),
        labels=np.array(labels, dtype=np.int64),
        track_ids=np.arange(len(labels), dtype=np.int64),
        ignore_boxes=boxes(*(ignore_rows or [])),
    )


def detections(box_rows: list, labels: list[int], scores: list[float]) -> FrameDetections:
    return FrameDetections(
        boxes=boxes(*box_rows),
        labels=np.array(labels, dtype=np.int64),
        scores=np.array(scores, dtype=np.float32),
    )
