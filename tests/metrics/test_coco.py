"""COCO evaluation: both backends agree exactly, hand-computed APs, ignore regions, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections
from edgecloud.metrics.coco import (
    DetectionMetrics,
    evaluate_detections,
    small_object_ground_truth,
)
from tests.metrics.frames import annotations, detections

CLASSES = ["car", "person", "bike", "bus", "never_annotated"]
HEIGHT, WIDTH = 240, 320


def evaluate(gt: list[FrameAnnotations], dets: list[FrameDetections], **kwargs) -> DetectionMetrics:
    kwargs.setdefault("class_names", CLASSES[:2])
    return evaluate_detections(
        ground_truth=gt, detections=dets, image_sizes=[(HEIGHT, WIDTH)] * len(gt), **kwargs
    )


def assert_metrics_equal(a: DetectionMetrics, b: DetectionMetrics) -> None:
    """Every field equal to 1e-12, NaN equal to NaN, None equal to None."""
    assert a.as_dict().keys() == b.as_dict().keys()
    for key, value in a.as_dict().items():
        assert value == pytest.approx(b.as_dict()[key], abs=1e-12, nan_ok=True), key
    assert a.per_class_ap == pytest.approx(b.per_class_ap, abs=1e-12)
    assert a.per_class_ap50 == pytest.approx(b.per_class_ap50, abs=1e-12)
    assert (a.num_images, a.num_ground_truth, a.num_detections) == (
        b.num_images,
        b.num_ground_truth,
        b.num_detections,
    )


# --- randomized agreement between faster_coco_eval and pycocotools ---------------------------


def random_box(rng: np.random.Generator) -> np.ndarray:
    w, h = rng.uniform(8, 80), rng.uniform(8, 80)
    x, y = rng.uniform(0, WIDTH - w), rng.uniform(0, HEIGHT - h)
    return np.array([x, y, x + w, y + h])


def random_frame(rng: np.random.Generator) -> tuple[FrameAnnotations, FrameDetections]:
    """GT of classes 1..4 (never 5), ignore regions, and detections that are jittered GT
    (sometimes with the wrong label), random false positives (some of the unannotated class)
    and detections inside ignore regions."""
    n_gt = int(rng.integers(0, 9))
    gt_boxes = np.array([random_box(rng) for _ in range(n_gt)]).reshape(-1, 4)
    gt_labels = rng.integers(1, 5, n_gt)
    ignore = np.array([random_box(rng) * 1.5 for _ in range(rng.integers(0, 3))]).reshape(-1, 4)
    det_boxes, det_labels = [], []
    for box, label in zip(gt_boxes, gt_labels, strict=True):
        if rng.random() < 0.8:
            size = box[2:] - box[:2]
            det_boxes.append(box + rng.normal(0, 0.08, 4) * np.tile(size, 2))
            det_labels.append(label if rng.random() < 0.85 else rng.integers(1, 6))
    for _ in range(rng.integers(0, 5)):
        det_boxes.append(random_box(rng))
        det_labels.append(rng.integers(1, 6))
    for region in ignore:
        x1, y1, x2, y2 = region
        det_boxes.append(np.array([x1, y1, (x1 + x2) / 2, (y1 + y2) / 2]))
        det_labels.append(rng.integers(1, 6))
    det_boxes_arr = np.array(det_boxes).reshape(-1, 4)
    det_boxes_arr[:, 2:] = np.maximum(det_boxes_arr[:, 2:], det_boxes_arr[:, :2] + 1)
    gt = FrameAnnotations(
        boxes=gt_boxes.astype(np.float32),
        labels=gt_labels.astype(np.int64),
        track_ids=np.arange(n_gt, dtype=np.int64),
        ignore_boxes=ignore.astype(np.float32),
    )
    dets = FrameDetections(
        boxes=det_boxes_arr.astype(np.float32),
        labels=np.array(det_labels, dtype=np.int64),
        scores=rng.uniform(0.01, 1.0, len(det_labels)).astype(np.float32),
    )
    return gt, dets


def test_backends_agree_on_a_randomized_dataset() -> None:
    rng = np.random.default_rng(20240531)
    frames = [random_frame(rng) for _ in range(50)]
    gt = [frame[0] for frame in frames]
    dets = [frame[1] for frame in frames]
    faster = evaluate(gt, dets, class_names=CLASSES, backend="faster")
    reference = evaluate(gt, dets, class_names=CLASSES, backend="pycocotools")
    assert_metrics_equal(faster, reference)
    # The dataset is informative: imperfect but far from zero, and the unannotated class is None.
    assert 0.2 < faster.map50 < 0.95
    assert faster.map < faster.map50
    assert faster.per_class_ap50["never_annotated"] is None
    assert faster.num_detections > faster.num_ground_truth > 100


def test_backends_agree_with_a_small_max_detections() -> None:
    rng = np.random.default_rng(7)
    frames = [random_frame(rng) for _ in range(20)]
    gt = [frame[0] for frame in frames]
    dets = [frame[1] for frame in frames]
    faster = evaluate(gt, dets, class_names=CLASSES, backend="faster", max_detections=3)
    reference = evaluate(gt, dets, class_names=CLASSES, backend="pycocotools", max_detections=3)
    assert_metrics_equal(faster, reference)
    assert faster.map50 < evaluate(gt, dets, class_names=CLASSES).map50


coordinate = st.integers(0, 60)
size = st.integers(2, 30)
small_box = st.tuples(coordinate, coordinate, size, size).map(
    lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3])
)
label = st.integers(1, 3)
score = st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9, 1.0])

frame_strategy = st.tuples(
    st.lists(st.tuples(small_box, label), max_size=4),
    st.lists(small_box, max_size=1),
    st.lists(st.tuples(small_box, label, score), max_size=5),
)


@settings(max_examples=30, deadline=None)
@given(st.lists(frame_strategy, min_size=1, max_size=4))
def test_backends_agree_on_small_random_sets(frames: list) -> None:
    gt = [
        annotations([b for b, _ in objects], [c for _, c in objects], ignore)
        for objects, ignore, _ in frames
    ]
    dets = [
        detections([b for b, _, _ in found], [c for _, c, _ in found], [s for _, _, s in found])
        for _, _, found in frames
    ]
    names = CLASSES[:3]
    assert_metrics_equal(
        evaluate(gt, dets, class_names=names, backend="faster"),
        evaluate(gt, dets, class_names=names, backend="pycocotools"),
    )


# --- hand-computed cases ------------------------------------------------------------------------


def exact(expected: object) -> object:
    """Equality up to 1e-12: pycocotools computes precision as tp / (tp + fp + eps), so its
    "1.0" is 0.9999999999999998 while faster_coco_eval's is exactly 1.0."""
    return pytest.approx(expected, abs=1e-12)


GT_BOX = (10, 10, 50, 50)
FAR_BOX = (200, 150, 240, 190)


@pytest.mark.parametrize("backend", ["faster", "pycocotools"])
def test_perfect_detections_score_one(backend: str) -> None:
    gt = [
        annotations([GT_BOX, FAR_BOX], [1, 2]),
        annotations([(100, 100, 130, 160)], [1]),
        annotations([], []),
    ]
    dets = [
        detections([GT_BOX, FAR_BOX], [1, 2], [0.9, 0.4]),
        detections([(100, 100, 130, 160)], [1], [0.6]),
        detections([], [], []),
    ]
    metrics = evaluate(gt, dets, backend=backend)
    assert metrics.map50 == exact(1.0)
    assert metrics.map == exact(1.0)
    assert metrics.map75 == exact(1.0)
    assert metrics.per_class_ap == exact({"car": 1.0, "person": 1.0})
    assert (metrics.num_images, metrics.num_ground_truth, metrics.num_detections) == (3, 3, 3)


@pytest.mark.parametrize("backend", ["faster", "pycocotools"])
def test_false_positive_ranked_before_the_true_positive_halves_ap(backend: str) -> None:
    # One GT, a TP (exact box) and an FP of the same class far away.
    # FP first: ranks give (precision, recall) = (0/1, 0), (1/2, 1). COCO's envelope takes, at
    # each of the 101 recall thresholds 0.00..1.00, the best precision at recall >= threshold,
    # which is 0.5 everywhere (only rank 2 reaches any recall), so AP = 101 * 0.5 / 101 = 0.5.
    # The TP is exact, so every IoU threshold gives the same value and mAP = 0.5 too.
    gt = [annotations([GT_BOX], [1])]
    fp_first = evaluate(gt, [detections([GT_BOX, FAR_BOX], [1, 1], [0.6, 0.9])], backend=backend)
    assert fp_first.map50 == exact(0.5)
    assert fp_first.map == exact(0.5)
    # TP first: (1/1, 1) then (1/2, 1); the envelope is 1.0 at every threshold, so AP = 1.0.
    tp_first = evaluate(gt, [detections([GT_BOX, FAR_BOX], [1, 1], [0.9, 0.6])], backend=backend)
    assert tp_first.map50 == exact(1.0)
    assert tp_first.map == exact(1.0)


def test_max_detections_keeps_only_the_highest_scored() -> None:
    # With one detection per image the FP (score 0.9) is kept and the TP dropped: recall 0.
    gt = [annotations([GT_BOX], [1])]
    dets = [detections([GT_BOX, FAR_BOX], [1, 1], [0.6, 0.9])]
    assert evaluate(gt, dets, max_detections=1).map50 == exact(0.0)
    assert evaluate(gt, dets, max_detections=2).map50 == exact(0.5)


@pytest.mark.parametrize("backend", ["faster", "pycocotools"])
def test_detection_inside_an_ignore_region_does_not_lower_ap(backend: str) -> None:
    ignore = (150, 100, 300, 220)
    inside = (160, 110, 200, 150)
    dets = [detections([GT_BOX, inside], [1, 1], [0.6, 0.9])]
    with_region = evaluate([annotations([GT_BOX], [1], [ignore])], dets, backend=backend)
    without_region = evaluate([annotations([GT_BOX], [1])], dets, backend=backend)
    assert with_region.map50 == exact(1.0)
    assert without_region.map50 == exact(0.5)


@pytest.mark.parametrize("backend", ["faster", "pycocotools"])
def test_ignore_regions_cover_every_class(backend: str) -> None:
    ignore = (150, 100, 300, 220)
    gt = [annotations([GT_BOX, (60, 60, 90, 120)], [1, 2], [ignore])]
    dets = [
        detections([GT_BOX, (60, 60, 90, 120), (160, 110, 200, 150)], [1, 2, 2], [0.5, 0.5, 0.9])
    ]
    metrics = evaluate(gt, dets, backend=backend)
    assert metrics.per_class_ap50 == exact({"car": 1.0, "person": 1.0})


@pytest.mark.parametrize("backend", ["faster", "pycocotools"])
def test_ignore_overlap_uses_intersection_over_detection_area(backend: str) -> None:
    ignore = (0, 100, 100, 200)  # area 10000
    # 80x40 detection, 50x40 of it inside the region: intersection / detection area =
    # 2000 / 3200 = 0.625, while the ordinary IoU is 2000 / (10000 + 3200 - 2000) = 0.18.
    partly_inside = (50, 100, 130, 140)
    gt = [annotations([FAR_BOX], [1], [ignore])]
    metrics = evaluate(
        gt, [detections([FAR_BOX, partly_inside], [1, 1], [0.5, 0.9])], backend=backend
    )
    assert metrics.map50 == exact(1.0)
    # Ignored at IoU thresholds 0.50, 0.55, 0.60 (AP 1.0) and a ranked-first FP at the seven
    # thresholds above 0.625 (AP 0.5, as hand-computed above): mAP = (3 * 1 + 7 * 0.5) / 10.
    assert metrics.map == exact(0.65)
    # 40x80 detection with 20x40 inside: 800 / 3200 = 0.25 < 0.5, so a false positive.
    mostly_outside = (80, 160, 120, 240)
    metrics = evaluate(
        gt, [detections([FAR_BOX, mostly_outside], [1, 1], [0.5, 0.9])], backend=backend
    )
    assert metrics.map50 == exact(0.5)


@pytest.mark.parametrize("backend", ["faster", "pycocotools"])
def test_class_without_ground_truth_is_none_and_left_out_of_the_mean(backend: str) -> None:
    gt = [annotations([GT_BOX], [1])]
    dets = [detections([GT_BOX, FAR_BOX], [1, 2], [0.5, 0.9])]
    metrics = evaluate(gt, dets, backend=backend)
    assert metrics.per_class_ap50 == exact({"car": 1.0, "person": None})
    assert metrics.per_class_ap == exact({"car": 1.0, "person": None})
    assert metrics.map50 == exact(1.0)
    assert metrics.as_dict(prefix="val/") == exact(
        {
            "val/mAP": 1.0,
            "val/mAP50": 1.0,
            "val/mAP75": 1.0,
            "val/AP/car": 1.0,
            "val/AP50/car": 1.0,
        }
    )


@pytest.mark.parametrize("backend", ["faster", "pycocotools"])
def test_no_detections_score_zero(backend: str) -> None:
    metrics = evaluate([annotations([GT_BOX], [1])], [detections([], [], [])], backend=backend)
    assert (metrics.map, metrics.map50, metrics.map75) == exact((0.0, 0.0, 0.0))
    assert metrics.per_class_ap50 == exact({"car": 0.0, "person": None})


@pytest.mark.parametrize("backend", ["faster", "pycocotools"])
def test_no_ground_truth_gives_nan(backend: str) -> None:
    gt = [annotations([], [], [(0, 0, 20, 20)])]
    metrics = evaluate(gt, [detections([FAR_BOX], [1], [0.9])], backend=backend)
    assert math.isnan(metrics.map) and math.isnan(metrics.map50) and math.isnan(metrics.map75)
    assert metrics.per_class_ap50 == {"car": None, "person": None}
    assert set(metrics.as_dict()) == {"mAP", "mAP50", "mAP75"}


@pytest.mark.parametrize("backend", ["faster", "pycocotools"])
@pytest.mark.parametrize("verbose", [False, True])
def test_library_output_is_silenced_unless_verbose(
    backend: str, verbose: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    gt = [annotations([GT_BOX], [1])]
    evaluate(gt, [detections([GT_BOX], [1], [0.9])], backend=backend, verbose=verbose)
    assert bool(capsys.readouterr().out) == verbose


# --- validation ---------------------------------------------------------------------------------

ONE_GT = [annotations([GT_BOX], [1])]
ONE_DET = [detections([GT_BOX], [1], [0.9])]


@pytest.mark.parametrize(
    ("gt", "dets", "sizes", "kwargs", "message"),
    [
        (ONE_GT, ONE_DET * 2, [(HEIGHT, WIDTH)], {}, "lengths disagree"),
        (ONE_GT, ONE_DET, [(HEIGHT, WIDTH)] * 2, {}, "lengths disagree"),
        ([], [], [], {}, "no frames"),
        (
            [annotations([GT_BOX], [0])],
            ONE_DET,
            [(HEIGHT, WIDTH)],
            {},
            r"ground truth: labels .*1\.\.2",
        ),
        ([annotations([GT_BOX], [3])], ONE_DET, [(HEIGHT, WIDTH)], {}, "ground truth: labels"),
        (ONE_GT, [detections([GT_BOX], [3], [0.9])], [(HEIGHT, WIDTH)], {}, "detections: labels"),
        (ONE_GT, [detections([GT_BOX], [1], [1.5])], [(HEIGHT, WIDTH)], {}, r"scores .*\[0, 1\]"),
        (ONE_GT, [detections([GT_BOX], [1], [-0.1])], [(HEIGHT, WIDTH)], {}, "scores"),
        (ONE_GT, [detections([GT_BOX], [1], [math.nan])], [(HEIGHT, WIDTH)], {}, "scores"),
        (ONE_GT, [detections([(50, 10, 10, 50)], [1], [0.9])], [(HEIGHT, WIDTH)], {}, "x2 >= x1"),
        (ONE_GT, [detections([(0, 0, math.inf, 5)], [1], [0.9])], [(HEIGHT, WIDTH)], {}, "finite"),
        (ONE_GT, ONE_DET, [(0, WIDTH)], {}, "image size"),
        (ONE_GT, ONE_DET, [(HEIGHT, WIDTH)], {"max_detections": 0}, "max_detections"),
        (ONE_GT, ONE_DET, [(HEIGHT, WIDTH)], {"class_names": []}, "class_names"),
        (ONE_GT, ONE_DET, [(HEIGHT, WIDTH)], {"backend": "detectron"}, "unknown backend"),
    ],
)
def test_rejects_invalid_input(gt, dets, sizes, kwargs, message) -> None:
    kwargs.setdefault("class_names", CLASSES[:2])
    with pytest.raises(ValueError, match=message):
        evaluate_detections(ground_truth=gt, detections=dets, image_sizes=sizes, **kwargs)


def test_small_object_ground_truth_ignores_the_other_boxes() -> None:
    frame = FrameAnnotations(
        boxes=np.array([[0, 0, 4, 4], [10, 10, 60, 60]], np.float32),
        labels=np.array([1, 2]),
        track_ids=np.array([7, 8]),
        ignore_boxes=np.array([[70, 70, 80, 80]], np.float32),
    )
    small = small_object_ground_truth(frame, small=np.array([True, False]))
    np.testing.assert_array_equal(small.boxes, [[0, 0, 4, 4]])
    np.testing.assert_array_equal(small.track_ids, [7])
    np.testing.assert_array_equal(small.ignore_boxes, [[70, 70, 80, 80], [10, 10, 60, 60]])
    # detecting the large box is neither a hit nor a false alarm; the small one is found
    found = FrameDetections(
        boxes=frame.boxes, labels=frame.labels, scores=np.array([0.9, 0.8], np.float32)
    )
    metrics = evaluate_detections(
        ground_truth=[small], detections=[found], class_names=["a", "b"], image_sizes=[(99, 99)]
    )
    assert metrics.per_class_ap == {"a": 1.0, "b": None}
    with pytest.raises(ValueError, match="does not flag the 2 boxes"):
        small_object_ground_truth(frame, small=np.array([True]))
