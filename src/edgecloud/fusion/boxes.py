"""Box geometry shared by the fusion algorithms."""

from __future__ import annotations

import numpy as np

# Smallest union treated as non-empty; boxes are in pixels, so anything below is degenerate.
TINY_AREA = 1e-12


def pairwise_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Intersection over union of every ``(x1, y1, x2, y2)`` box in ``first`` (N, 4) with every
    box in ``second`` (M, 4), as an (N, M) float64 matrix. Degenerate boxes have IoU 0."""
    first = np.asarray(first, dtype=np.float64)
    second = np.asarray(second, dtype=np.float64)
    top_left = np.maximum(first[:, None, :2], second[None, :, :2])
    bottom_right = np.minimum(first[:, None, 2:], second[None, :, 2:])
    overlap = np.maximum(bottom_right - top_left, 0.0)
    intersection = overlap[..., 0] * overlap[..., 1]
    size_first = first[:, 2:] - first[:, :2]
    size_second = second[:, 2:] - second[:, :2]
    union = (
        (size_first[:, 0] * size_first[:, 1])[:, None]
        + size_second[:, 0] * size_second[:, 1]
        - intersection
    )
    return intersection / np.maximum(union, TINY_AREA)
