"""Tail accuracy: class-wise on the numbers of Runespoor's Table I, frame-wise episodes and
percentiles on hand-computed sequences, and the detection tail classes."""

from __future__ import annotations

import numpy as np
import pytest

from edgecloud.data.formats.cityscapes_labels import CITYSCAPES_CLASS_NAMES, NUM_CLASSES
from edgecloud.metrics.tail import (
    class_tail_accuracy,
    detection_tail_classes,
    episode_values,
    frame_tail_accuracy,
    normalized_scores,
    select_tail_classes,
)

# Table I (x4 inputs): per-class IoU (%) of the nine tail classes, in the table's row order.
TABLE_I = {
    #                Bilinear, standard SR, CloudSeg, ASR,   HR
    "train": (45.45, 58.12, 68.95, 70.41, 70.41),
    "fence": (41.83, 50.09, 55.49, 61.12, 56.20),
    "motorcycle": (45.96, 53.38, 53.22, 59.02, 58.44),
    "traffic light": (54.54, 63.80, 63.82, 65.01, 67.65),
    "rider": (47.34, 51.64, 52.87, 55.96, 58.28),
    "bus": (70.69, 76.71, 78.33, 82.66, 85.17),
    "pole": (52.73, 59.05, 60.54, 61.24, 62.91),
    "bicycle": (63.57, 70.78, 70.23, 72.25, 75.77),
    "traffic sign": (64.91, 71.96, 71.84, 74.60, 76.95),
}
METHODS = ("Bilinear", "standard SR", "CloudSeg", "ASR", "HR")
# The other ten classes are not in the paper: made up (Bilinear / HR between 0.86 and 0.99)
# so that the 19-class means equal Table I's overall mIoU row, 65.87 and 75.35.
OTHER_CLASSES = {
    #            Bilinear, HR
    "road": (96.59, 98.06),
    "sidewalk": (79.16, 85.12),
    "building": (88.18, 92.34),
    "wall": (52.50, 58.40),
    "vegetation": (87.98, 92.61),
    "terrain": (55.53, 64.25),
    "sky": (91.98, 94.82),
    "person": (71.61, 81.37),
    "car": (91.10, 94.90),
    "truck": (49.88, 58.00),
}


def _table_iou(method: str) -> np.ndarray:
    """Per-class IoU (%) of a method indexed by Cityscapes train id; NaN where not given."""
    column = METHODS.index(method)
    iou = np.full(NUM_CLASSES, np.nan)
    for name, row in TABLE_I.items():
        iou[CITYSCAPES_CLASS_NAMES.index(name)] = row[column]
    if method in ("Bilinear", "HR"):
        for name, row in OTHER_CLASSES.items():
            iou[CITYSCAPES_CLASS_NAMES.index(name)] = row[0 if method == "Bilinear" else 1]
    return iou


def test_table_i_tail_classes_are_the_worst_half_by_normalized_bilinear():
    bilinear, hr = _table_iou("Bilinear"), _table_iou("HR")
    assert np.mean(bilinear) == pytest.approx(65.87, abs=5e-3)  # the fixture's own check
    assert np.mean(hr) == pytest.approx(75.35, abs=5e-3)
    tail = select_tail_classes(normalized_scores(bilinear, hr))
    assert len(tail) == 9  # floor(19 / 2)
    # worst first, in Table I's row order
    assert [CITYSCAPES_CLASS_NAMES[k] for k in tail] == list(TABLE_I)
    assert tail.tolist() == [16, 4, 17, 6, 12, 15, 5, 18, 7]


def test_table_i_tail_means_and_normalization():
    hr = _table_iou("HR")
    tail = select_tail_classes(normalized_scores(_table_iou("Bilinear"), hr))
    results = {
        method: class_tail_accuracy(_table_iou(method), tail_classes=tail, reference=hr)
        for method in METHODS
    }
    # the "tail classes" row: reproduced for Bilinear, standard SR and ASR ...
    assert round(results["Bilinear"].mean, 2) == 54.11
    assert round(results["standard SR"].mean, 2) == 61.73
    assert round(results["ASR"].mean, 2) == 66.92
    # ... but the printed IoUs of CloudSeg and HR average to 63.92 and 67.98, not the printed
    # 62.72 and 68.30 (an inconsistency of the paper's table, see the module docstring)
    assert round(results["CloudSeg"].mean, 2) == 63.92
    assert round(results["HR"].mean, 2) == 67.98
    assert results["HR"].normalized == 1.0
    # normalized = tail mean / HR's tail mean: from the per-class IoUs ...
    normalized = {method: round(result.normalized, 2) for method, result in results.items()}
    assert normalized == {
        "Bilinear": 0.80,
        "standard SR": 0.91,
        "CloudSeg": 0.94,
        "ASR": 0.98,
        "HR": 1.0,
    }
    # ... and Table I's "normalized" row, which divides the printed means by the printed 68.30
    for method, mean, printed in [
        ("Bilinear", 54.11, 0.79),
        ("standard SR", 61.73, 0.90),
        ("CloudSeg", 62.72, 0.92),
        ("ASR", 66.92, 0.98),
    ]:
        # one "class" standing for the whole tail: its mean over HR's
        result = class_tail_accuracy(
            {"tail": mean}, tail_classes=["tail"], reference={"tail": 68.30}
        )
        assert round(result.normalized, 2) == printed, method


def test_selection_rules():
    # half of the classes with a score, rounded down; NaN never ranked; ties to the lower index
    assert select_tail_classes([0.5, 0.2, 0.2, 0.9]).tolist() == [1, 2]
    assert select_tail_classes([0.5, np.nan, 0.2, 0.9, 0.1]).tolist() == [4, 2]
    assert select_tail_classes([0.5, np.nan, 0.2, 0.9, 0.1], count=3).tolist() == [4, 2, 0]
    assert select_tail_classes([0.5]).tolist() == []
    scores = np.linspace(1.0, 0.1, 19)
    scores[[3, 18]] = np.nan  # 17 classes with a score: 8 selected, the lowest first
    assert select_tail_classes(scores).tolist() == [17, 16, 15, 14, 13, 12, 11, 10]
    # normalizing by a zero or missing reference gives no score
    np.testing.assert_array_equal(
        normalized_scores([0.5, 0.3, 0.2], [1.0, 0.0, np.nan]), [0.5, np.nan, np.nan]
    )
    with pytest.raises(ValueError, match=r"count must lie in 0\.\.2"):
        select_tail_classes([0.5, np.nan, 0.2], count=3)
    with pytest.raises(ValueError, match="1-D"):
        select_tail_classes(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="differ"):
        normalized_scores([0.5, 0.3], [1.0])
    with pytest.raises(ValueError, match="empty"):
        class_tail_accuracy([0.5], tail_classes=[], reference=[1.0])


def test_detection_tail_classes():
    # per-class AP as evaluate_detections reports it: name -> AP, None without ground truth
    ap = {
        "pedestrian": 0.25,
        "people": 0.10,
        "bicycle": 0.0625,
        "car": 0.60,
        "van": None,
        "truck": 0.40,
    }
    # five classes with an AP: the two lowest, worst first
    assert detection_tail_classes(ap) == ["bicycle", "people"]
    # normalized by HR: 0.25/0.5 = 0.5, 0.10/0.125 = 0.8, 0.0625/0.125 = 0.5, 0.60/0.70 = 0.86,
    # 0.40/0.45 = 0.89 -> pedestrian and bicycle tie at 0.5, pedestrian comes first
    hr = {
        "pedestrian": 0.5,
        "people": 0.125,
        "bicycle": 0.125,
        "car": 0.70,
        "van": 0.2,
        "truck": 0.45,
    }
    assert detection_tail_classes(ap, reference_ap=hr) == ["pedestrian", "bicycle"]
    assert detection_tail_classes(ap, reference_ap=hr, count=3) == [
        "pedestrian",
        "bicycle",
        "people",
    ]
    # arrays give class indices
    values = [ap[name] if ap[name] is not None else np.nan for name in ap]
    assert detection_tail_classes(np.array(values)).tolist() == [2, 1]
    # and the tail AP of a method over those classes, mappings throughout
    tail = detection_tail_classes(ap, reference_ap=hr)
    result = class_tail_accuracy(ap, tail_classes=tail, reference=hr)
    assert result.mean == (0.25 + 0.0625) / 2
    assert result.normalized == 0.15625 / 0.3125
    with pytest.raises(ValueError, match="same classes"):
        detection_tail_classes(ap, reference_ap={"car": 0.7})


# Two clips: "a" has 25 frames (episodes 0-9, 10-19, and a remainder of 5), "b" 12 frames
# (one episode and a remainder of 2).
CLIP_A = [0.4, 0.6] * 5 + [0.8, 1.0] * 5 + [0.1] * 5  # episodes 0.5, 0.9, remainder 0.1
CLIP_B = [0.7] * 10 + [0.2, 0.4]  # episode 0.7, remainder 0.3
FRAMES = np.array(CLIP_A + CLIP_B)
CLIPS = np.array(["a"] * 25 + ["b"] * 12)


def test_frame_tail_hand_computed():
    # drop_last: episodes 0.5, 0.9, 0.7 -> sorted 0.5 0.7 0.9; linear percentile at position
    # (n - 1) q: 10% -> 0.2 -> 0.5 + 0.2 * 0.2 = 0.54; 1% -> 0.02 -> 0.504
    result = frame_tail_accuracy(FRAMES, clip_ids=CLIPS)
    np.testing.assert_allclose(result.episodes, [0.5, 0.9, 0.7])
    assert result.mean == pytest.approx(0.7)
    assert result.tail_90 == pytest.approx(0.54)
    assert result.tail_99 == pytest.approx(0.504)
    # keeping the remainders: 0.5 0.9 0.1 | 0.7 0.3 -> sorted 0.1 0.3 0.5 0.7 0.9;
    # 10% -> position 0.4 -> 0.18; 1% -> 0.04 -> 0.108; mean 2.5 / 5
    kept = frame_tail_accuracy(FRAMES, clip_ids=CLIPS, drop_last=False)
    np.testing.assert_allclose(kept.episodes, [0.5, 0.9, 0.1, 0.7, 0.3])
    assert kept.mean == pytest.approx(0.5)
    assert kept.tail_90 == pytest.approx(0.18)
    assert kept.tail_99 == pytest.approx(0.108)
    # without clip ids the 37 frames are one clip: episodes 0-9, 10-19, 20-29 (five 0.1 and
    # five 0.7 -> 0.4), remainder dropped
    np.testing.assert_allclose(episode_values(FRAMES), [0.5, 0.9, 0.4])
    # shorter episodes
    np.testing.assert_allclose(episode_values(FRAMES[:4], episode_length=2), [0.5, 0.5])


def test_clips_need_not_be_contiguous():
    order = np.argsort(np.r_[np.arange(25) * 3, np.arange(12) * 3 + 1], kind="stable")
    interleaved = frame_tail_accuracy(FRAMES[order], clip_ids=CLIPS[order], drop_last=False)
    np.testing.assert_allclose(interleaved.episodes, [0.5, 0.9, 0.1, 0.7, 0.3])
    # clips are listed in order of first appearance, whatever their ids sort as
    reversed_ids = np.where(CLIPS == "a", "z", "b")
    np.testing.assert_allclose(episode_values(FRAMES, clip_ids=reversed_ids), [0.5, 0.9, 0.7])
    # integer ids work the same
    np.testing.assert_allclose(episode_values(FRAMES, clip_ids=(CLIPS == "b") * 7), [0.5, 0.9, 0.7])


def test_percentiles_on_a_hundred_episodes():
    # episode k is worth k (frames k - 1 and k + 1 alternate): the 10th percentile of 0..99 at
    # position 99 * 0.1 = 9.9 is 9.9, the 1st percentile 0.99
    frames = np.repeat(np.arange(100.0), 10) + np.tile([-1.0, 1.0], 500)
    result = frame_tail_accuracy(frames)
    assert result.mean == pytest.approx(49.5)
    assert result.tail_90 == pytest.approx(9.9)
    assert result.tail_99 == pytest.approx(0.99)
    np.testing.assert_allclose(result.episodes, np.arange(100.0))


def test_frame_tail_edge_cases():
    short = frame_tail_accuracy([0.5] * 9)  # no full episode
    assert np.isnan(short.mean) and np.isnan(short.tail_90) and np.isnan(short.tail_99)
    assert len(short.episodes) == 0
    assert frame_tail_accuracy([0.5] * 9, drop_last=False).tail_99 == pytest.approx(0.5)
    with pytest.raises(ValueError, match="1 frame values are not finite"):
        frame_tail_accuracy([0.5, np.nan, 0.2])
    with pytest.raises(ValueError, match="clip_ids"):
        frame_tail_accuracy([0.5, 0.2], clip_ids=[0])
    with pytest.raises(ValueError, match="episode_length"):
        episode_values([0.5], episode_length=0)
