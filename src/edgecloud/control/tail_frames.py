"""Tail-frame detection, the first half of Runespoor's content-aware adaptive controller (§III-B).

The server sees only its own inference output, so it judges a frame by the *small-region
ratio* of the predicted label map (the share of the frame covered by small regions,
:func:`~edgecloud.metrics.regions.small_region_ratio`): a frame whose ratio is *below* a
threshold is a tail frame, likely among the worst-scored ones (with few small regions, the
accuracy of the hard classes, and so of the frame, is volatile).

The threshold comes from offline profiling: per-frame accuracy and small-region ratio on
profiling frames. :func:`fit_tail_threshold` regresses accuracy on the ratio (least squares)
and takes the ratio at which the fitted line reaches the tail cutoff (the accuracy of the
``tail_fraction`` worst frames), then raises it, if needed, until at least ``min_recall`` of
the profiled tail frames are caught: recall matters, precision does not (a simple frame sent
with the tail configuration loses nothing at the same bandwidth). The paper finds 1% on
Cityscapes with recall over 90% and precision of 25-35%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TailThresholdFit:
    """A fitted tail-frame threshold and how it does on the profiling frames.

    ``threshold``: frames with a small-region ratio below it are tail frames.
    ``regression_threshold``: where the fitted line ``accuracy = intercept + slope·ratio``
    reaches ``tail_cutoff`` (NaN when the slope is not positive: more small regions do not
    mean higher accuracy on these frames, and only the recall rule sets the threshold).
    ``recall`` and ``precision`` of the detector on the profiling frames' tail frames
    (accuracy at or below ``tail_cutoff``).
    """

    threshold: float
    regression_threshold: float
    slope: float
    intercept: float
    tail_cutoff: float
    recall: float
    precision: float


def detect_tail_frames(small_region_ratios: np.ndarray, *, threshold: float) -> np.ndarray:
    """Bool per frame: its small-region ratio is below ``threshold``."""
    return np.asarray(small_region_ratios, dtype=np.float64) < threshold


def recall_precision(detected: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    """Recall and precision of bool detections against bool truth (NaN when undefined)."""
    detected, actual = np.asarray(detected, bool), np.asarray(actual, bool)
    hits = float(np.sum(detected & actual))
    recall = hits / actual.sum() if actual.any() else float("nan")
    precision = hits / detected.sum() if detected.any() else float("nan")
    return recall, precision


def _profiling_arrays(ratios, accuracies) -> tuple[np.ndarray, np.ndarray]:
    ratios = np.asarray(ratios, dtype=np.float64)
    accuracies = np.asarray(accuracies, dtype=np.float64)
    if ratios.ndim != 1 or ratios.shape != accuracies.shape:
        raise ValueError(
            f"small-region ratios {ratios.shape} and accuracies {accuracies.shape} must be "
            "1-D and of equal length"
        )
    if len(ratios) < 2:
        raise ValueError(f"fitting a threshold needs at least 2 profiled frames, got {len(ratios)}")
    if not (np.all(np.isfinite(ratios)) and np.all(np.isfinite(accuracies))):
        raise ValueError("small-region ratios and accuracies must be finite")
    return ratios, accuracies


def _least_squares_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of the least-squares line of ``y`` on ``x``; a flat line through
    the mean when ``x`` does not vary (measurably)."""
    centred = x - x.mean()
    variance = float(np.dot(centred, centred))
    slope = float(np.dot(centred, y - y.mean())) / variance if variance > 0 else 0.0
    if not np.isfinite(slope):
        slope = 0.0
    return slope, float(y.mean() - slope * x.mean())


def fit_tail_threshold(
    small_region_ratios: np.ndarray,
    accuracies: np.ndarray,
    *,
    tail_fraction: float = 0.1,
    min_recall: float = 0.9,
) -> TailThresholdFit:
    """Fit the tail-frame threshold on profiling frames (module docstring).

    Args:
        small_region_ratios: ``(F,)`` small-region ratio of each frame's inference output.
        accuracies: ``(F,)`` each frame's accuracy (per-frame mIoU).
        tail_fraction: the worst share of frames that are tail frames (0.1: the 90%-100%
            tail, the paper's).
        min_recall: the threshold is raised until at least this share of tail frames is
            detected.
    """
    ratios, accuracies = _profiling_arrays(small_region_ratios, accuracies)
    if not 0.0 < tail_fraction < 1.0:
        raise ValueError(f"tail_fraction must lie in (0, 1), got {tail_fraction}")
    if not 0.0 < min_recall <= 1.0:
        raise ValueError(f"min_recall must lie in (0, 1], got {min_recall}")
    tail_cutoff = float(np.quantile(accuracies, tail_fraction, method="lower"))
    is_tail = accuracies <= tail_cutoff
    slope, intercept = _least_squares_line(ratios, accuracies)
    regression_threshold = (tail_cutoff - intercept) / slope if slope > 0 else float("nan")
    # The smallest threshold catching min_recall of the tail frames: just above the
    # ceil(min_recall·n)-th smallest tail ratio (detection is "ratio < threshold").
    tail_ratios = np.sort(ratios[is_tail])
    needed = int(np.ceil(min_recall * len(tail_ratios) - 1e-9))
    recall_threshold = float(np.nextafter(tail_ratios[needed - 1], np.inf))
    threshold = (
        max(regression_threshold, recall_threshold)
        if np.isfinite(regression_threshold)
        else recall_threshold
    )
    recall, precision = recall_precision(detect_tail_frames(ratios, threshold=threshold), is_tail)
    return TailThresholdFit(
        threshold=float(threshold),
        regression_threshold=float(regression_threshold),
        slope=slope,
        intercept=intercept,
        tail_cutoff=tail_cutoff,
        recall=recall,
        precision=precision,
    )
