"""Side-by-side detection scores of restoration methods, on hand-made boxes whose APs are
worked out by hand, and the tail selection on a hand-made AP table."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections
from edgecloud.metrics.detection_comparison import (
    DetectionFrames,
    DetectionMethodScores,
    compare_detection_methods,
    detection_comparison_markdown,
)
from edgecloud.metrics.method_comparison import class_tails
from edgecloud.utils.jsonio import write_json_report

CLASSES = ["car", "van", "bicycle", "people", "bus"]
SIZE = (100, 200)  # height, width
# one 10x10 box of each of the first four classes (labels 1..4); no bus anywhere
BOXES = np.array(
    [[0, 0, 10, 10], [50, 0, 60, 10], [100, 0, 110, 10], [150, 0, 160, 10]], np.float32
)


def ground_truth() -> FrameAnnotations:
    return FrameAnnotations(
        boxes=BOXES, labels=np.arange(1, 5), track_ids=np.arange(4), ignore_boxes=np.zeros((0, 4))
    )


def detections(boxes: np.ndarray, labels: list[int]) -> FrameDetections:
    return FrameDetections(
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        labels=np.asarray(labels, np.int64),
        scores=np.full(len(labels), 0.9, np.float32),
    )


def perfect() -> FrameDetections:
    return detections(BOXES, [1, 2, 3, 4])


def lossy() -> FrameDetections:
    """car exact (AP 1); the van box cut to 72% of the van (IoU 0.72: a hit at the IoU
    thresholds 0.50..0.70, 5 of COCO's 10, AP 0.5); the bicycle missed (AP 0); people exact."""
    boxes = BOXES.copy()
    boxes[1, 3] = 7.2
    return detections(boxes[[0, 1, 3]], [1, 2, 4])


def frames(count: int, *, clip_id: str = "clip") -> DetectionFrames:
    """``count`` frames of :func:`ground_truth`; the car's box is the only small one."""
    shared = DetectionFrames()
    for _ in range(count):
        shared.add(
            ground_truth(),
            small=np.array([True, False, False, False]),
            image_size=SIZE,
            clip_id=clip_id,
        )
    return shared


def method(*frame_detections: FrameDetections, restored: bool = True) -> DetectionMethodScores:
    scores = DetectionMethodScores()
    rng = np.random.default_rng(0)
    for found in frame_detections:
        if restored:
            original = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            restored_frame = original.copy()
            restored_frame[0, 0, 0] ^= 1
            scores.add_frame(
                found,
                restored=restored_frame,
                original=original,
                num_bytes=1000,
                restore_seconds=0.002,
            )
        else:
            scores.add_frame(found)
    return scores


def test_tail_classes_are_the_worst_half_by_ap_over_hr() -> None:
    """Hand-made APs: bus has none (no ground truth), HR scores 0 on bicycle, so the ratios are
    car 0.5, van 1.0, people 0.25, and truck 0.75: the tail is people, then car."""
    names = ["car", "van", "bicycle", "people", "bus", "truck"]
    nan = math.nan
    per_class = {
        "hr": np.array([0.8, 0.5, 0.0, 0.4, nan, 0.6]),
        "bilinear": np.array([0.4, 0.5, 0.1, 0.1, nan, 0.45]),
        "asr": np.array([0.6, 0.4, 0.2, 0.3, nan, 0.5]),
    }
    tail, accuracies = class_tails(per_class, class_names=names, tail_baseline="bilinear")
    assert tail == ["people", "car"]
    assert accuracies["bilinear"].mean == pytest.approx((0.1 + 0.4) / 2)
    assert accuracies["bilinear"].normalized == pytest.approx(0.25 / ((0.4 + 0.8) / 2))
    assert accuracies["asr"].mean == pytest.approx((0.3 + 0.6) / 2)
    assert accuracies["hr"].normalized == pytest.approx(1.0)


def test_rows_hold_overall_small_tail_and_per_class_ap() -> None:
    rows = compare_detection_methods(
        {"hr": method(perfect(), perfect(), restored=False), "bilinear": method(lossy(), lossy())},
        frames=frames(2),
        class_names=CLASSES,
        episode_length=1,
    )
    hr, bilinear = rows["hr"], rows["bilinear"]
    assert bilinear["ap"] == {"car": 1.0, "van": 0.5, "bicycle": 0.0, "people": 1.0, "bus": None}
    assert bilinear["ap50"]["van"] == 1.0 and bilinear["ap50"]["bicycle"] == 0.0
    assert bilinear["mAP"] == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert bilinear["mAP50"] == pytest.approx(3 / 4)
    assert hr["mAP"] == 1.0
    # the worst half of the 4 classes with ground truth, by bilinear / HR: bicycle, van
    assert hr["tail_classes"] == bilinear["tail_classes"] == ["bicycle", "van"]
    assert bilinear["tail_AP"] == pytest.approx(0.25) and hr["tail_AP"] == pytest.approx(1.0)
    assert bilinear["tail_normalized"] == pytest.approx(0.25)
    # small objects: only the car counts, the other boxes are ignore regions
    assert bilinear["small_mAP"] == 1.0 and bilinear["small_mAP50"] == 1.0
    assert bilinear["frames"] == 2 and bilinear["bytes_per_frame"] == 1000.0
    assert bilinear["restore_ms_per_frame"] == pytest.approx(2.0)
    assert math.isnan(hr["psnr"]) and math.isnan(hr["restore_ms_per_frame"])


def test_frame_wise_tail_is_per_frame_ap50_over_episodes() -> None:
    """Per-frame AP50 of bilinear: 1.0, then 0.0 (nothing found), then a frame without ground
    truth, which has no score and is left out; episodes of one frame each."""
    shared = frames(2)
    shared.add(FrameAnnotations(), small=np.zeros(0, bool), image_size=SIZE, clip_id="clip")
    nothing = detections(np.zeros((0, 4)), [])
    rows = compare_detection_methods(
        {
            "hr": method(perfect(), perfect(), nothing, restored=False),
            "bilinear": method(perfect(), nothing, perfect()),
        },
        frames=shared,
        class_names=CLASSES,
        episode_length=1,
    )
    assert rows["bilinear"]["episode_ap50"] == [1.0, 0.0]
    assert rows["bilinear"]["frame_mean"] == pytest.approx(0.5)
    # numpy's linear percentiles of [0, 1]: the 10th is 0.1, the 1st 0.01
    assert rows["bilinear"]["frame_tail_90"] == pytest.approx(0.1)
    assert rows["bilinear"]["frame_tail_99"] == pytest.approx(0.01)
    assert rows["hr"]["episode_ap50"] == [1.0, 1.0]


def test_episodes_stay_inside_a_video() -> None:
    shared = frames(3, clip_id="a")
    for _ in range(3):
        shared.add(ground_truth(), small=np.zeros(4, bool), image_size=SIZE, clip_id="b")
    nothing = detections(np.zeros((0, 4)), [])
    rows = compare_detection_methods(
        {
            "hr": method(*[perfect()] * 6, restored=False),
            "bilinear": method(perfect(), perfect(), nothing, nothing, perfect(), perfect()),
        },
        frames=shared,
        class_names=CLASSES,
        episode_length=2,
    )
    # a: [1, 1] (its third frame is the rest of the clip, dropped); b: [0, 1]
    assert rows["bilinear"]["episode_ap50"] == [1.0, 0.5]


def test_every_method_needs_detections_for_every_frame_and_hr() -> None:
    with pytest.raises(ValueError, match="bilinear has detections for 1 frames, not 2"):
        compare_detection_methods(
            {"hr": method(perfect(), perfect()), "bilinear": method(perfect())},
            frames=frames(2),
            class_names=CLASSES,
        )
    with pytest.raises(ValueError, match="'hr'"):
        compare_detection_methods(
            {"bilinear": method(perfect())}, frames=frames(1), class_names=CLASSES
        )


def test_markdown_lists_tail_classes_first_and_says_what_the_columns_mean(tmp_path) -> None:
    rows = compare_detection_methods(
        {"bilinear": method(lossy()), "hr": method(perfect(), restored=False)},
        frames=frames(1),
        class_names=CLASSES,
        episode_length=1,
    )
    text = detection_comparison_markdown(
        rows, title="x4_q90", small_box_fraction=0.001, tail_baseline="bilinear", episode_length=1
    )
    lines = text.splitlines()
    assert lines[0] == "# x4_q90"
    assert lines[2].startswith("| method | mAP % | AP50 % | small mAP % | tail AP % | tail / HR")
    assert lines[2].endswith("| kB/frame | restore ms/frame |")
    bilinear = rows["bilinear"]
    assert lines[4] == (
        "| bilinear | 62.50 | 75.00 | 100.00 | 25.00 | 0.25 | 75.00 | 75.00 | 75.00 "
        f"| {bilinear['psnr']:.2f} | {bilinear['ssim']:.3f} | 1.00 | 2.0 |"
    )
    assert lines[5].startswith("| hr | 100.00 |") and lines[5].endswith("| — | — | — | — |")
    assert "under 0.1% of the frame's area" in text and "the 2 classes bilinear" in text
    class_rows = [line.split(" |")[0] for line in lines if "(tail)" in line]
    assert class_rows == ["| bicycle (tail)", "| van (tail)"]
    assert lines[-1] == "| bus | — | — |"
    # the rows are strict JSON (None for classes without ground truth, NaN for HR's PSNR)
    write_json_report(tmp_path / "metrics.json", {"methods": rows})
    methods = json.loads((tmp_path / "metrics.json").read_text())["methods"]
    assert methods["hr"]["psnr"] is None and methods["hr"]["ap"]["bus"] is None
