"""Box geometry shared by the fusion algorithms."""

from __future__ import annotations

import numpy as np


def pairwise_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Intersection over union of every ``(x1, y1, x2, y2)`` box in ``first`` (N, 4) with every
    box in ``second`` (M, 4), as an (N, M) float64 matrix. Degenerate boxes have IoU 0."""
    first = np.asarray(first, dtype=np.float64)
    second = np.asarray(second, dtype=np.float64)
    x1 = np.maximum(first[:, None, 0], second[None, :, 0])
    y1 = np.maximum(first[:, None, 1], second[None, :, 1])
    x2 = np.minimum(first[:, None, 2], second[None, :, 2])
    y2 = np.minimum(first[:, None, 3], second[None, :, 3])
    intersection = np.clip(x2 - x1, 0.0, None) * np.clip(y2 - y1, 0.0, None)
    area_first = (first[:, 2] - first[:, 0]) * (first[:, 3] - first[:, 1])
    area_second = (second[:, 2] - second[:, 0]) * (second[:, 3] - second[:, 1])
    union = area_first[:, None] + area_second[None, :] - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0.0, intersection / union, 0.0)
    return iou
