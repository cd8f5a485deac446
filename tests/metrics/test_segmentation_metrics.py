"""Segmentation metrics: confusion matrix, per-class IoU, mIoU and pixel accuracy on hand-computed
label maps, against scikit-learn's confusion_matrix and jaccard_score on random maps, and
properties (perfect predictions, accumulation in parts) with hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import jaccard_score

from edgecloud.data.formats.cityscapes_labels import IGNORE_INDEX, NUM_CLASSES
from edgecloud.metrics.segmentation import (
    ConfusionMatrix,
    confusion_matrix,
    frame_mean_iou,
    mean_iou,
    per_class_iou,
    pixel_accuracy,
)

X = IGNORE_INDEX

# 3x3: eight scored pixels, the ignored corner is predicted 0 but does not count.
TARGET_3 = np.array([[0, 0, 1], [0, 1, 1], [2, 2, X]], dtype=np.uint8)
PREDICTION_3 = np.array([[0, 1, 1], [0, 1, 2], [2, 0, 0]], dtype=np.uint8)
# rows target, columns prediction:
#   t0: p0 2, p1 1        t1: p1 2, p2 1        t2: p0 1, p2 1
MATRIX_3 = [[2, 1, 0], [0, 2, 1], [1, 0, 1]]
# IoU_0 = 2 / (3 + 3 - 2) = 1/2, IoU_1 = 2 / (3 + 3 - 2) = 1/2, IoU_2 = 1 / (2 + 2 - 1) = 1/3

# 4x4: class 3 is only predicted (IoU 0); class 2 is predicted only on ignored pixels (no IoU).
TARGET_4 = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, X, X], [1, 1, X, X]], dtype=np.uint8)
PREDICTION_4 = np.array([[0, 0, 0, 3], [0, 0, 0, 0], [1, 3, 3, 3], [1, 1, 2, 2]], dtype=np.uint8)
# t0: p0 7, p3 1; t1: p1 3, p3 1 -> IoU_0 = 7/8, IoU_1 = 3/4, IoU_2 NaN, IoU_3 = 0 / 2 = 0


def test_hand_computed_3x3():
    matrix = confusion_matrix(PREDICTION_3, TARGET_3, num_classes=3)
    assert matrix.tolist() == MATRIX_3
    assert matrix.dtype == np.int64
    np.testing.assert_allclose(per_class_iou(matrix), [1 / 2, 1 / 2, 1 / 3])
    assert mean_iou(matrix) == pytest.approx(4 / 9)
    assert pixel_accuracy(matrix) == 5 / 8
    # an extra class seen nowhere has no IoU and leaves the mean alone
    wider = confusion_matrix(PREDICTION_3, TARGET_3, num_classes=4)
    assert np.isnan(per_class_iou(wider)[3])
    assert mean_iou(wider) == pytest.approx(4 / 9)
    assert frame_mean_iou(PREDICTION_3, TARGET_3, num_classes=4) == pytest.approx(4 / 9)


def test_hand_computed_4x4_false_positives_and_ignored_predictions():
    matrix = confusion_matrix(PREDICTION_4, TARGET_4, num_classes=4)
    assert matrix.tolist() == [[7, 0, 0, 1], [0, 3, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    iou = per_class_iou(matrix)
    np.testing.assert_allclose(iou[[0, 1, 3]], [7 / 8, 3 / 4, 0.0])
    assert np.isnan(iou[2])
    assert mean_iou(matrix) == pytest.approx((7 / 8 + 3 / 4 + 0) / 3)  # 13/24
    assert pixel_accuracy(matrix) == pytest.approx(10 / 12)


def test_accumulator_and_per_frame_mean():
    accumulator = ConfusionMatrix(num_classes=4)
    assert np.isnan(accumulator.mean_iou()) and np.isnan(accumulator.pixel_accuracy())
    perfect = np.array([[0, 0, 1, 1]] * 4, dtype=np.uint8)
    batch_prediction = np.stack([PREDICTION_4, perfect])
    batch_target = np.stack([TARGET_4, perfect])
    accumulator.update(batch_prediction, batch_target)
    # accumulated: t0 p0 7 + 8, p3 1; t1 p1 3 + 8, p3 1 -> 15/16, 11/12, 0
    np.testing.assert_allclose(accumulator.iou()[[0, 1, 3]], [15 / 16, 11 / 12, 0.0])
    assert accumulator.mean_iou() == pytest.approx((15 / 16 + 11 / 12) / 3)
    assert accumulator.pixel_accuracy() == pytest.approx(26 / 28)
    # per frame: 13/24 and 1, not the accumulated value
    per_frame = frame_mean_iou(batch_prediction, batch_target, num_classes=4)
    np.testing.assert_allclose(per_frame, [13 / 24, 1.0])
    assert frame_mean_iou(PREDICTION_4, TARGET_4, num_classes=4) == pytest.approx(13 / 24)
    # a frame whose pixels are all ignored has no mIoU
    nothing = np.full((4, 4), X, dtype=np.uint8)
    both = frame_mean_iou(np.stack([perfect, perfect]), np.stack([perfect, nothing]), num_classes=4)
    assert both[0] == 1.0 and np.isnan(both[1])
    # merging and resetting
    other = ConfusionMatrix(num_classes=4)
    other.merge(accumulator)
    other.merge(accumulator.matrix)
    assert (other.matrix == 2 * accumulator.matrix).all()
    other.reset()
    assert other.matrix.sum() == 0


def _jaccard(truth: np.ndarray, predicted: np.ndarray, labels: list[int]) -> np.ndarray:
    """scikit-learn's per-class IoU, NaN (its zero_division accepts 0 or 1 only) for classes
    in neither truth nor prediction."""
    iou = jaccard_score(truth, predicted, labels=labels, average=None, zero_division=0)
    seen = np.isin(labels, truth) | np.isin(labels, predicted)
    return np.where(seen, iou, np.nan)


def test_matches_scikit_learn_on_random_maps():
    rng = np.random.default_rng(7)
    target = rng.integers(0, NUM_CLASSES, size=(3, 64, 48)).astype(np.uint8)
    target[rng.random(target.shape) < 0.2] = X
    # mostly right, some noise; classes 17 and 18 never appear in the target
    target[target >= 17] = 0
    prediction = np.where(
        rng.random(target.shape) < 0.6, target, rng.integers(0, NUM_CLASSES, size=target.shape)
    ).astype(np.uint8)
    prediction[target == X] = rng.integers(0, NUM_CLASSES, size=int((target == X).sum()))
    scored = target != X
    truth, predicted = target[scored], prediction[scored]
    labels = list(range(NUM_CLASSES))
    matrix = confusion_matrix(prediction, target, num_classes=NUM_CLASSES)
    assert (matrix == sk_confusion_matrix(truth, predicted, labels=labels)).all()
    expected = _jaccard(truth, predicted, labels)
    np.testing.assert_allclose(per_class_iou(matrix), expected, rtol=0, atol=1e-12)
    assert mean_iou(matrix) == pytest.approx(np.nanmean(expected), abs=1e-12)
    assert pixel_accuracy(matrix) == pytest.approx(np.mean(truth == predicted), abs=1e-12)
    # per-frame mIoU against scikit-learn frame by frame
    per_frame = frame_mean_iou(prediction, target, num_classes=NUM_CLASSES)
    for frame in range(3):
        keep = target[frame] != X
        frame_iou = _jaccard(target[frame][keep], prediction[frame][keep], labels)
        assert per_frame[frame] == pytest.approx(np.nanmean(frame_iou), abs=1e-12)


maps = st.integers(1, 12).flatmap(
    lambda height: st.integers(1, 12).flatmap(
        lambda width: st.tuples(
            arrays(np.uint8, (height, width), elements=st.integers(0, 4)),
            arrays(np.uint8, (height, width), elements=st.integers(0, 5)),  # 5 -> ignored
        )
    )
)


@settings(max_examples=150, deadline=None)
@given(maps)
def test_properties(case):
    prediction, target = case
    target = np.where(target == 5, X, target).astype(np.uint8)
    scored = target != X
    # a perfect prediction: IoU 1 on every class in the scored target, NaN elsewhere
    perfect = np.where(scored, target, 0).astype(np.uint8)
    iou = per_class_iou(confusion_matrix(perfect, target, num_classes=5))
    present = np.isin(np.arange(5), target[scored])
    assert (iou[present] == 1.0).all() and np.isnan(iou[~present]).all()
    if scored.any():
        assert frame_mean_iou(perfect, target, num_classes=5) == 1.0
    # accumulating two halves (and pixel by pixel rows) equals one update of the whole
    whole = ConfusionMatrix(num_classes=5)
    whole.update(prediction, target)
    parts = ConfusionMatrix(num_classes=5)
    split = len(target) // 2
    parts.update(prediction[:split], target[:split])
    parts.update(prediction[split:], target[split:])
    assert (parts.matrix == whole.matrix).all()
    assert whole.matrix.sum() == scored.sum()
    # IoU lies in [0, 1] and mIoU between the extreme class IoUs
    iou = whole.iou()
    defined = iou[~np.isnan(iou)]
    assert ((defined >= 0) & (defined <= 1)).all()
    if defined.size:
        assert defined.min() - 1e-12 <= whole.mean_iou() <= defined.max() + 1e-12


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="shapes differ"):
        confusion_matrix(PREDICTION_3, TARGET_4, num_classes=4)
    with pytest.raises(ValueError, match=r"prediction values must lie in 0\.\.2, got 0\.\.3"):
        confusion_matrix(PREDICTION_4, TARGET_4, num_classes=3)
    with pytest.raises(ValueError, match="prediction values"):  # no ignore value in predictions
        confusion_matrix(np.where(TARGET_4 == X, X, 0), TARGET_4, num_classes=4)
    with pytest.raises(ValueError, match=r"target values must lie in 0\.\.1 or be 255"):
        confusion_matrix(np.zeros_like(TARGET_3), TARGET_3, num_classes=2)
    with pytest.raises(ValueError, match="target values"):
        confusion_matrix(np.zeros((2, 2), int), np.array([[0, -1], [0, 0]]), num_classes=2)
    with pytest.raises(ValueError, match="integer label map"):
        confusion_matrix(PREDICTION_3.astype(float), TARGET_3, num_classes=3)
    with pytest.raises(ValueError, match="is a class id"):
        ConfusionMatrix(num_classes=3, ignore_index=2)
    with pytest.raises(ValueError, match=r"\(H, W\) or \(N, H, W\)"):
        frame_mean_iou(PREDICTION_3.ravel(), TARGET_3.ravel(), num_classes=3)
    with pytest.raises(ValueError, match=r"\(\.\.\., C, C\)"):
        per_class_iou(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"expected a \(3, 3\) matrix"):
        ConfusionMatrix(num_classes=3).merge(np.zeros((4, 4), int))
