"""Semantic segmentation metrics from a confusion matrix: per-class IoU, mIoU and pixel accuracy,
as reported for Cityscapes (Cordts et al., CVPR 2016) and in section IV/V of Wang et al.,
"Enabling Edge-Cloud Video Analytics for Robotics Applications" (Runespoor).

Label maps hold train ids ``0..C-1`` (19 Cityscapes classes, see
:mod:`edgecloud.data.formats.cityscapes_labels`); target pixels equal to ``ignore_index`` (255)
are left out entirely: whatever is predicted there counts neither as a hit nor as a false
positive. Predictions have no ignore value, every predicted pixel must be a class.

The confusion matrix is ``(C, C)`` int64 with rows the target class and columns the predicted
class (scikit-learn's ``confusion_matrix`` layout). For class ``k``, with ``tp`` its diagonal
entry, ``IoU_k = tp / (row_k + column_k - tp)`` (``tp / (tp + fp + fn)``). A class absent from
both the (scored) target and the prediction has no IoU: NaN. A class only predicted scores 0.

mIoU is the mean over classes with an IoU. Over a dataset it comes from *one* matrix
accumulated over all frames (:class:`ConfusionMatrix`), the Cityscapes benchmark's number;
:func:`frame_mean_iou` instead scores every frame on its own, over the classes present in that
frame's target or prediction (the per-frame mIoU of the paper's Fig. 6 and Fig. 10, lower
than the accumulated one). Pixel accuracy is the fraction of scored pixels predicted right.
"""

from __future__ import annotations

import numpy as np

from edgecloud.data.formats.cityscapes_labels import IGNORE_INDEX

__all__ = [
    "ConfusionMatrix",
    "confusion_matrix",
    "frame_mean_iou",
    "mean_iou",
    "per_class_iou",
    "pixel_accuracy",
]


def _check_setup(num_classes: int, ignore_index: int) -> None:
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if 0 <= ignore_index < num_classes:
        raise ValueError(
            f"ignore_index {ignore_index} is a class id (classes are 0..{num_classes - 1})"
        )


def _integer_map(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be an integer label map, got dtype {array.dtype}")
    return array


def _flat_indices(
    prediction: np.ndarray, target: np.ndarray, num_classes: int, ignore_index: int
) -> np.ndarray:
    """Checked ``target * C + prediction`` of the scored pixels (target not ``ignore_index``)."""
    prediction = _integer_map(prediction, "prediction")
    target = _integer_map(target, "target")
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction and target shapes differ: {prediction.shape} vs {target.shape}"
        )
    if prediction.size:
        low, high = int(prediction.min()), int(prediction.max())
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"prediction values must lie in 0..{num_classes - 1}, got {low}..{high}"
            )
    scored = target != ignore_index
    truth = target[scored]
    if truth.size:
        low, high = int(truth.min()), int(truth.max())
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"target values must lie in 0..{num_classes - 1} or be {ignore_index} "
                f"(ignored), got {low}..{high}"
            )
    return truth.astype(np.int64) * num_classes + prediction[scored]


def confusion_matrix(
    prediction: np.ndarray,
    target: np.ndarray,
    *,
    num_classes: int,
    ignore_index: int = IGNORE_INDEX,
) -> np.ndarray:
    """``(C, C)`` int64 counts of scored pixels, ``[target class, predicted class]``, of
    integer label maps of equal shape (any shape: one frame ``(H, W)`` or a batch)."""
    _check_setup(num_classes, ignore_index)
    index = _flat_indices(prediction, target, num_classes, ignore_index)
    counts = np.bincount(index, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def per_class_iou(matrix: np.ndarray) -> np.ndarray:
    """IoU of every class from a ``(..., C, C)`` confusion matrix (leading axes kept): ``tp /
    (tp + fp + fn)``, NaN for classes absent from both target and prediction."""
    matrix = np.asarray(matrix)
    if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2]:
        raise ValueError(f"confusion matrix must be (..., C, C), got {matrix.shape}")
    hits = np.diagonal(matrix, axis1=-2, axis2=-1).astype(np.float64)
    union = matrix.sum(axis=-1) + matrix.sum(axis=-2) - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, hits / union, np.nan)


def _nanmean_last(values: np.ndarray) -> float | np.ndarray:
    defined = ~np.isnan(values)
    count = defined.sum(axis=-1)
    total = np.where(defined, values, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return float(result) if result.ndim == 0 else result


def mean_iou(matrix: np.ndarray) -> float | np.ndarray:
    """Mean IoU over the classes that have one (:func:`per_class_iou`); NaN if none has (no
    scored pixel). Leading axes of a ``(..., C, C)`` matrix are kept."""
    return _nanmean_last(per_class_iou(matrix))


def pixel_accuracy(matrix: np.ndarray) -> float | np.ndarray:
    """Fraction of scored pixels predicted right, ``trace / sum`` of a ``(..., C, C)``
    confusion matrix; NaN without scored pixels."""
    matrix = np.asarray(matrix)
    if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2]:
        raise ValueError(f"confusion matrix must be (..., C, C), got {matrix.shape}")
    hits = np.trace(matrix, axis1=-2, axis2=-1).astype(np.float64)
    total = matrix.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(total > 0, hits / np.maximum(total, 1), np.nan)
    return float(result) if result.ndim == 0 else result


def frame_mean_iou(
    prediction: np.ndarray,
    target: np.ndarray,
    *,
    num_classes: int,
    ignore_index: int = IGNORE_INDEX,
) -> float | np.ndarray:
    """Per-frame mIoU: one ``(H, W)`` frame gives a float, a batch ``(N, H, W)`` an ``(N,)``
    array, each frame scored on its own confusion matrix (classes present in its target or
    prediction at scored pixels). NaN for a frame without scored pixels."""
    _check_setup(num_classes, ignore_index)
    prediction = _integer_map(prediction, "prediction")
    target = _integer_map(target, "target")
    if prediction.ndim not in (2, 3):
        raise ValueError(f"label maps must be (H, W) or (N, H, W), got {prediction.shape}")
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction and target shapes differ: {prediction.shape} vs {target.shape}"
        )
    batch = prediction if prediction.ndim == 3 else prediction[None]
    truth = target if target.ndim == 3 else target[None]
    matrices = np.zeros((len(batch), num_classes, num_classes), dtype=np.int64)
    for index, (frame_prediction, frame_target) in enumerate(zip(batch, truth, strict=True)):
        matrices[index] = confusion_matrix(
            frame_prediction, frame_target, num_classes=num_classes, ignore_index=ignore_index
        )
    result = mean_iou(matrices)
    return float(result[0]) if prediction.ndim == 2 else result


class ConfusionMatrix:
    """Accumulates a confusion matrix over many frames (module docstring for the
    conventions). ``update`` takes integer label maps of equal shape, one frame or a batch;
    ``merge`` adds another accumulator's counts (e.g. gathered from other ranks)."""

    def __init__(self, *, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        _check_setup(num_classes, ignore_index)
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def update(self, prediction: np.ndarray, target: np.ndarray) -> None:
        """Add the scored pixels of ``prediction`` against ``target``."""
        self.matrix += confusion_matrix(
            prediction, target, num_classes=self.num_classes, ignore_index=self.ignore_index
        )

    def merge(self, other: ConfusionMatrix | np.ndarray) -> None:
        """Add the counts of another accumulator or of a ``(C, C)`` matrix."""
        matrix = other.matrix if isinstance(other, ConfusionMatrix) else np.asarray(other)
        if matrix.shape != self.matrix.shape:
            raise ValueError(f"expected a {self.matrix.shape} matrix, got {matrix.shape}")
        self.matrix += matrix.astype(np.int64)

    def reset(self) -> None:
        """Forget every count."""
        self.matrix[...] = 0

    def iou(self) -> np.ndarray:
        """``(C,)`` per-class IoU, NaN for classes never seen in target nor prediction."""
        return per_class_iou(self.matrix)

    def mean_iou(self) -> float:
        """mIoU over the classes with an IoU (NaN before any scored pixel)."""
        return mean_iou(self.matrix)

    def pixel_accuracy(self) -> float:
        """Fraction of scored pixels predicted right (NaN before any scored pixel)."""
        return pixel_accuracy(self.matrix)


def accumulated_miou(intersection: np.ndarray, union: np.ndarray) -> float:
    """mIoU of frames' summed ``(F, C)`` per-class intersections and unions, over the classes
    with a non-empty union (NaN when there is none): the exact mIoU of those frames together."""
    totals_i, totals_u = np.sum(intersection, axis=0), np.sum(union, axis=0)
    present = totals_u > 0
    return float(np.mean(totals_i[present] / totals_u[present])) if present.any() else np.nan
