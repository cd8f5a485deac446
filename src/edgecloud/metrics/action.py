"""Per-frame metrics for temporal action recognition with sliding windows, as in section VI-A/B of
Nigade et al., "Clownfish: Edge and Cloud Symbiosis for Video Stream Analytics", SEC 2020.

Window ``t`` (0-based) holds frames ``t * stride <= f < t * stride + size``; class ids are those
of edgecloud.data.action_video (0 = background, actions ``1..C``), and a window's prediction is
a class id (the argmax of its fused probability row when the columns are the class ids).

Which frame a window's prediction belongs to: its *newest* frame ``t * stride + size - 1``, the
moment the edge can show it (the paper's wording, "windows starting from each of these frames",
would use results before their frames were even captured). Frames between two window ends keep
the last prediction shown, as does the tail after the last window; frames before the first
window's end have no prediction and are never scored.

Scored frames: the first ``skip_frames`` (8 in the paper) frames of every *context* are skipped,
a context being a maximal run of frames with one ground-truth label, background runs included
(a window ending there is still mostly the previous context); with ``actions_only`` (the paper's
"frames that contain an action") only frames whose ground truth is an action (>= 1) count.

Accuracy is the fraction of scored frames predicted correctly; weighted F1 is scikit-learn's
``f1_score(average="weighted")`` over the same frames: per-class F1 over every label that
appears in truth or prediction, averaged with the true frame counts as weights. Aggregating
several videos means concatenating their scored frames (:func:`scored_frames`), not averaging
per-video values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ScoredFrames",
    "accuracy",
    "action_accuracy",
    "action_weighted_f1",
    "frame_predictions",
    "frame_windows",
    "scored_frames",
    "weighted_f1",
    "window_labels",
]

NO_PREDICTION = -1
"""Window index (and prediction) of frames before the first window's end."""


def _window_count(num_frames: int, window_size: int, window_stride: int) -> int:
    if window_size < 1 or window_stride < 1:
        raise ValueError(
            f"window_size and window_stride must be >= 1, got {window_size} and {window_stride}"
        )
    return 0 if num_frames < window_size else (num_frames - window_size) // window_stride + 1


def _labels_1d(frame_labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(frame_labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"frame_labels must be a 1-D integer array, got {labels.dtype} {labels.shape}"
        )
    if len(labels) and labels.min() < 0:
        raise ValueError("frame labels must be >= 0 (0 is background)")
    return labels.astype(np.int64, copy=False)


def window_labels(frame_labels: np.ndarray, *, window_size: int, window_stride: int) -> np.ndarray:
    """Ground-truth label of every window: the action covering at least half of its frames, else
    background (0).

    A window can have two such actions only when each covers exactly half of it; the tie goes to
    the action of the window's newest frame (the newer context), the frame its prediction is
    shown at. Background never wins a tie with an action: an action covering half the window
    labels it.
    """
    labels = _labels_1d(frame_labels)
    count = _window_count(len(labels), window_size, window_stride)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    num_labels = int(labels.max()) + 1
    onehot = np.zeros((len(labels) + 1, num_labels), dtype=np.int32)
    onehot[np.arange(1, len(labels) + 1), labels] = 1
    cumulative = np.cumsum(onehot, axis=0)
    starts = np.arange(count) * window_stride
    covered = cumulative[starts + window_size] - cumulative[starts]  # (T, labels)
    covered[:, 0] = 0  # background is what is left, never a candidate
    majority = 2 * covered >= window_size
    newest = labels[starts + window_size - 1]
    newest_wins = majority[np.arange(count), newest] & (newest > 0)
    first = np.where(majority.any(axis=1), majority.argmax(axis=1), 0)
    return np.where(newest_wins, newest, first).astype(np.int64)


def frame_windows(num_frames: int, *, window_size: int, window_stride: int) -> np.ndarray:
    """``(num_frames,)`` int64: the window whose prediction each frame shows (the last window
    ending at or before it), :data:`NO_PREDICTION` before the first window's end."""
    count = _window_count(num_frames, window_size, window_stride)
    index = np.full(num_frames, NO_PREDICTION, dtype=np.int64)
    if count:
        frames = np.arange(window_size - 1, num_frames)
        index[window_size - 1 :] = np.minimum(
            (frames - (window_size - 1)) // window_stride, count - 1
        )
    return index


def frame_predictions(
    window_predictions: np.ndarray, *, window_size: int, window_stride: int, num_frames: int
) -> np.ndarray:
    """``(num_frames,)`` int64 prediction shown at every frame (see the module docstring),
    :data:`NO_PREDICTION` before the first window's end. ``window_predictions`` is ``(T,)``
    class ids or ``(T, C)`` probabilities (argmax taken)."""
    predictions = _window_predictions(window_predictions)
    count = _window_count(num_frames, window_size, window_stride)
    if len(predictions) != count:
        raise ValueError(
            f"{num_frames} frames make {count} windows, got {len(predictions)} predictions"
        )
    index = frame_windows(num_frames, window_size=window_size, window_stride=window_stride)
    return np.where(index >= 0, predictions[np.maximum(index, 0)] if count else -1, NO_PREDICTION)


def _window_predictions(window_predictions: np.ndarray) -> np.ndarray:
    predictions = np.asarray(window_predictions)
    if predictions.ndim == 2:
        predictions = predictions.argmax(axis=1)
    if predictions.ndim != 1:
        raise ValueError(f"window predictions must be (T,) or (T, C), got {predictions.shape}")
    return predictions.astype(np.int64, copy=False)


@dataclass(frozen=True)
class ScoredFrames:
    """The frames a video is scored on: ``frames`` (indices), the ``windows`` whose predictions
    they show and their ground-truth ``labels``; all ``(M,)`` int64. ``windows`` lets many
    configurations be scored at once: ``predictions[..., scored.windows]``."""

    frames: np.ndarray
    windows: np.ndarray
    labels: np.ndarray


def scored_frames(
    frame_labels: np.ndarray,
    *,
    window_size: int,
    window_stride: int,
    skip_frames: int = 8,
    actions_only: bool = True,
) -> ScoredFrames:
    """Frames that count (see the module docstring): with a prediction, at least
    ``skip_frames`` frames into their context, and an action if ``actions_only``."""
    if skip_frames < 0:
        raise ValueError(f"skip_frames must be >= 0, got {skip_frames}")
    labels = _labels_1d(frame_labels)
    windows = frame_windows(len(labels), window_size=window_size, window_stride=window_stride)
    frames = np.arange(len(labels))
    changes = np.ones(len(labels), dtype=bool)
    changes[1:] = labels[1:] != labels[:-1]
    context_start = np.maximum.accumulate(np.where(changes, frames, 0)) if len(labels) else frames
    keep = (windows >= 0) & (frames - context_start >= skip_frames)
    if actions_only:
        keep &= labels >= 1
    return ScoredFrames(frames=frames[keep], windows=windows[keep], labels=labels[keep])


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float | np.ndarray:
    """Fraction of ``predictions`` equal to ``labels`` (``(M,)``). ``predictions`` may have
    leading axes (``(..., M)``, e.g. one row per configuration), which the result keeps. NaN
    without frames."""
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    if predictions.shape[-1:] != labels.shape or labels.ndim != 1:
        raise ValueError(
            f"labels (M,) and predictions (..., M) differ: {labels.shape}, {predictions.shape}"
        )
    if len(labels) == 0:
        result = np.full(predictions.shape[:-1], np.nan)
    else:
        result = (predictions == labels).mean(axis=-1)
    return float(result) if result.ndim == 0 else result


def weighted_f1(labels: np.ndarray, predictions: np.ndarray) -> float | np.ndarray:
    """Support-weighted mean of the per-class F1 scores, equal to scikit-learn's
    ``f1_score(labels, predictions, average="weighted")``: ``sum_k n_k F1_k / sum_k n_k`` with
    ``n_k`` the frames truly of class ``k`` and ``F1_k = 2 tp_k / (2 tp_k + fp_k + fn_k)``.
    Classes only ever predicted have weight 0 (their false positives lower the recall of the
    true classes). ``predictions`` may have leading axes like in :func:`accuracy`. NaN
    without frames (scikit-learn raises)."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if predictions.shape[-1:] != labels.shape or labels.ndim != 1:
        raise ValueError(
            f"labels (M,) and predictions (..., M) differ: {labels.shape}, {predictions.shape}"
        )
    batch_shape = predictions.shape[:-1]
    if len(labels) == 0:
        result = np.full(batch_shape, np.nan)
        return float(result) if result.ndim == 0 else result
    offset = min(int(labels.min()), int(predictions.min()))
    truth = labels - offset
    flat = predictions.reshape(-1, len(labels)) - offset
    num_rows = len(flat)
    width = max(int(truth.max()), int(flat.max())) + 1
    rows = np.arange(num_rows)[:, None] * width
    support = np.bincount(truth, minlength=width).astype(np.float64)  # tp + fn
    predicted = np.bincount((rows + flat).ravel(), minlength=num_rows * width).reshape(
        num_rows, width
    )  # tp + fp
    hits = flat == truth
    true_positive = np.bincount((rows + flat)[hits], minlength=num_rows * width).reshape(
        num_rows, width
    )
    denominator = support + predicted  # 2 tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denominator > 0, 2.0 * true_positive / denominator, 0.0)
    result = (f1 * support).sum(axis=1) / support.sum()
    result = result.reshape(batch_shape)
    return float(result) if result.ndim == 0 else result


def _scored(
    frame_labels: np.ndarray,
    window_predictions: np.ndarray,
    window_size: int,
    window_stride: int,
    skip_frames: int,
    actions_only: bool,
) -> tuple[np.ndarray, np.ndarray]:
    scored = scored_frames(
        frame_labels,
        window_size=window_size,
        window_stride=window_stride,
        skip_frames=skip_frames,
        actions_only=actions_only,
    )
    predictions = _window_predictions(window_predictions)
    expected = _window_count(len(np.asarray(frame_labels)), window_size, window_stride)
    if len(predictions) != expected:
        raise ValueError(
            f"{len(np.asarray(frame_labels))} frames make {expected} windows, "
            f"got {len(predictions)} predictions"
        )
    return scored.labels, predictions[scored.windows]


def action_accuracy(
    frame_labels: np.ndarray,
    window_predictions: np.ndarray,
    *,
    window_size: int,
    window_stride: int,
    skip_frames: int = 8,
    actions_only: bool = True,
) -> float:
    """Per-frame accuracy of one video (module docstring): ``frame_labels`` is ``(F,)`` ground
    truth, ``window_predictions`` ``(T,)`` class ids or ``(T, C)`` probabilities."""
    truth, predicted = _scored(
        frame_labels, window_predictions, window_size, window_stride, skip_frames, actions_only
    )
    return accuracy(truth, predicted)


def action_weighted_f1(
    frame_labels: np.ndarray,
    window_predictions: np.ndarray,
    *,
    window_size: int,
    window_stride: int,
    skip_frames: int = 8,
    actions_only: bool = True,
) -> float:
    """Weighted F1 of one video over the frames :func:`action_accuracy` scores."""
    truth, predicted = _scored(
        frame_labels, window_predictions, window_size, window_stride, skip_frames, actions_only
    )
    return weighted_f1(truth, predicted)
