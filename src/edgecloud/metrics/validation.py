"""Input checks shared by the detection metrics (COCO, TIDE): each names the frame at fault."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections


def check_labels(labels: np.ndarray, num_classes: int, where: str) -> None:
    if labels.size and (labels.min() < 1 or labels.max() > num_classes):
        raise ValueError(
            f"{where}: labels must lie in 1..{num_classes}, got {labels.min()}..{labels.max()}"
        )


def check_boxes(boxes: np.ndarray, where: str) -> None:
    if not np.all(np.isfinite(boxes)):
        raise ValueError(f"{where}: coordinates must be finite")
    if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
        raise ValueError(f"{where}: boxes must be (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1")


def check_frames(
    ground_truth: Sequence[FrameAnnotations],
    detections: Sequence[FrameDetections],
    *,
    num_classes: int,
) -> None:
    """Labels in ``1..num_classes``, finite well-ordered boxes and scores in [0, 1], per frame."""
    for index, (gt, det) in enumerate(zip(ground_truth, detections, strict=True)):
        check_labels(gt.labels, num_classes, f"frame {index} ground truth")
        check_labels(det.labels, num_classes, f"frame {index} detections")
        check_boxes(gt.boxes, f"frame {index} ground-truth boxes")
        check_boxes(gt.ignore_boxes, f"frame {index} ignore boxes")
        check_boxes(det.boxes, f"frame {index} detection boxes")
        if not np.all((det.scores >= 0.0) & (det.scores <= 1.0)):
            raise ValueError(f"frame {index} detections: scores must lie in [0, 1]")
