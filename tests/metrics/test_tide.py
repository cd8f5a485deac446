"""TIDE breakdown: hand-computed cases per error type, agreement with tidecv, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections
from edgecloud.metrics.tide import MAIN_ERRORS, SPECIAL_ERRORS, TideBreakdown, tide_errors
from tests.metrics.frames import annotations, detections

CLASSES = ["car", "person"]
CAR, PERSON = 1, 2
WIDTH, HEIGHT = 320, 240


def evaluate(gt: list[FrameAnnotations], dets: list[FrameDetections], **kwargs) -> TideBreakdown:
    return tide_errors(ground_truth=gt, detections=dets, class_names=CLASSES, **kwargs)


def exact(expected: object) -> object:
    return pytest.approx(expected, abs=1e-9)


# --- hand-computed cases ------------------------------------------------------------------------
#
# Boxes are 40x40. The erroneous detection scores 0.95, above every true positive (0.9), so it
# costs AP and fixing it under the wrong type would show. With one class, AP is the mean over
# the 101 recall points 0, 0.01, ..., 1 of the best precision at that recall or beyond: a true
# positive that reaches recall 0.5 at precision p gives 51 points at p.

A = (10, 10, 50, 50)
B = (100, 100, 140, 140)
P = (200, 10, 240, 50)
B_SHIFTED = (120, 100, 160, 140)  # IoU 1/3 with B
A_SHIFTED = (30, 10, 70, 50)  # IoU 1/3 with A
A_NUDGED = (12, 10, 52, 50)  # IoU 0.905 with A
FAR = (250, 150, 290, 190)  # IoU 0 with everything above

HALF_RECALL = 100 * 51 / 101  # one of two boxes found, precision 1
HALF_RECALL_HALF_PRECISION = 100 * 25.5 / 101  # the same at precision 0.5
DUPE_BASE = 100 * (51 + 50 * 2 / 3) / 101  # TP, FP, TP over two boxes
CLS_BASE = (HALF_RECALL + 50) / 2  # car finds one of two, person: FP then TP

HAND_CASES = {
    "Loc": dict(
        gt=([A, B], [CAR, CAR]),
        dets=([A, B_SHIFTED], [CAR, CAR], [0.9, 0.95]),
        ap=HALF_RECALL_HALF_PRECISION,
        fixed=100.0,
        special={
            "FalsePos": HALF_RECALL - HALF_RECALL_HALF_PRECISION,
            "FalseNeg": 50 - HALF_RECALL_HALF_PRECISION,
        },
    ),
    "Cls": dict(
        gt=([A, B, P], [CAR, CAR, PERSON]),
        dets=([A, P, B], [CAR, PERSON, PERSON], [0.9, 0.9, 0.95]),
        ap=CLS_BASE,
        fixed=100.0,
        special={"FalsePos": (HALF_RECALL + 100) / 2 - CLS_BASE, "FalseNeg": 75 - CLS_BASE},
    ),
    "Both": dict(
        gt=([A, P], [CAR, PERSON]),
        dets=([A, P, A_SHIFTED], [CAR, PERSON, PERSON], [0.9, 0.9, 0.95]),
        ap=75.0,
        fixed=100.0,
        special={"FalsePos": 25.0, "FalseNeg": 0.0},
    ),
    "Dupe": dict(
        gt=([A, B], [CAR, CAR]),
        dets=([A, A_NUDGED, B], [CAR, CAR, CAR], [0.95, 0.9, 0.8]),
        ap=DUPE_BASE,
        fixed=100.0,
        special={"FalsePos": 100 - DUPE_BASE, "FalseNeg": 0.0},
    ),
    "Bkg": dict(
        gt=([A], [CAR]),
        dets=([A, FAR], [CAR, CAR], [0.9, 0.95]),
        ap=50.0,
        fixed=100.0,
        special={"FalsePos": 50.0, "FalseNeg": 0.0},
    ),
    "Miss": dict(
        gt=([A, B], [CAR, CAR]),
        dets=([A], [CAR], [0.9]),
        ap=HALF_RECALL,
        fixed=100.0,
        special={"FalsePos": 0.0, "FalseNeg": 100 - HALF_RECALL},
    ),
}


@pytest.mark.parametrize("error_type", MAIN_ERRORS)
def test_each_error_type_is_attributed_to_itself_only(error_type: str) -> None:
    case = HAND_CASES[error_type]
    result = evaluate([annotations(*case["gt"])], [detections(*case["dets"])])
    assert result.ap50 == exact(case["ap"])
    expected = {name: 0.0 for name in MAIN_ERRORS}
    expected[error_type] = case["fixed"] - case["ap"]
    assert result.main_errors == exact(expected)
    assert result.special_errors == exact(case["special"])


def test_ignore_regions_cover_every_class_and_need_more_than_half_of_a_detection() -> None:
    region = (190, 140, 300, 210)
    inside = (200, 150, 260, 200)
    half_inside = (250, 150, 350, 200)  # exactly 50% of its area in the region: still counts
    gt = [annotations([A], [CAR], [region])]
    ignored = evaluate(gt, [detections([A, inside, inside], [CAR, CAR, PERSON], [0.9, 0.95, 0.95])])
    assert ignored.ap50 == exact(100.0)
    assert {**ignored.main_errors, **ignored.special_errors} == exact(
        dict.fromkeys((*MAIN_ERRORS, *SPECIAL_ERRORS), 0.0)
    )
    counted = evaluate(gt, [detections([A, half_inside], [CAR, CAR], [0.9, 0.95])])
    assert counted.ap50 == exact(50.0)
    assert counted.main_errors["Bkg"] == exact(50.0)


def test_an_ignored_detection_can_still_be_fixed_into_a_true_positive() -> None:
    """tidecv gives ignored detections error types too: this one is a Loc error on B, so B is
    not missed, and fixing Loc makes the ignored detection B's true positive."""
    gt = [annotations([A, B], [CAR, CAR], [(110, 90, 170, 150)])]
    result = evaluate(gt, [detections([A, B_SHIFTED], [CAR, CAR], [0.9, 0.95])])
    assert result.ap50 == exact(HALF_RECALL)
    assert result.main_errors["Loc"] == exact(100 - HALF_RECALL)
    assert result.main_errors["Miss"] == 0.0
    assert result.special_errors["FalseNeg"] == exact(100 - HALF_RECALL)


def test_detections_in_frames_without_ground_truth_are_background_errors() -> None:
    gt = [annotations([A], [CAR]), annotations([], [])]
    dets = [detections([A], [CAR], [0.9]), detections([A], [CAR], [0.95])]
    result = evaluate(gt, dets)
    assert result.ap50 == exact(50.0)
    assert result.main_errors["Bkg"] == exact(50.0)


def test_a_class_with_detections_but_no_ground_truth_scores_zero_and_can_drop_out() -> None:
    """tidecv averages over classes with ground truth or detections, so removing the only
    (background) person detection doubles the mean."""
    result = evaluate([annotations([A], [CAR])], [detections([A, FAR], [CAR, PERSON], [0.9, 0.5])])
    assert result.ap50 == exact(50.0)
    assert result.main_errors["Bkg"] == exact(50.0)


def test_only_the_best_scored_detections_per_frame_count() -> None:
    gt = [annotations([A], [CAR])]
    dets = [detections([FAR, A], [CAR, CAR], [0.95, 0.9])]
    assert evaluate(gt, dets).ap50 == exact(50.0)
    assert evaluate(gt, dets, max_detections=1).ap50 == 0.0


def test_nan_where_no_class_is_left_to_average() -> None:
    nothing_detected = evaluate([annotations([A], [CAR])], [detections([], [], [])])
    assert nothing_detected.ap50 == 0.0
    assert math.isnan(nothing_detected.main_errors["Miss"])
    assert math.isnan(nothing_detected.special_errors["FalseNeg"])
    assert nothing_detected.main_errors["Cls"] == 0.0
    empty = evaluate([annotations([], [])], [detections([], [], [])])
    assert all(math.isnan(value) for value in empty.as_dict().values())


def test_as_dict_is_flat_and_prefixed() -> None:
    case = HAND_CASES["Bkg"]
    result = evaluate([annotations(*case["gt"])], [detections(*case["dets"])])
    flat = result.as_dict(prefix="sim/")
    assert list(flat) == ["sim/tide/ap50"] + [
        f"sim/tide/{name}" for name in (*MAIN_ERRORS, *SPECIAL_ERRORS)
    ]
    assert flat["sim/tide/ap50"] == result.ap50
    assert flat["sim/tide/Bkg"] == result.main_errors["Bkg"]
    assert flat["sim/tide/FalsePos"] == result.special_errors["FalsePos"]


# --- agreement with tidecv ----------------------------------------------------------------------

FIXTURE_CLASSES = ["car", "person", "bike"]


def random_box(rng: np.random.Generator) -> np.ndarray:
    w, h = rng.uniform(10, 70), rng.uniform(10, 70)
    x, y = rng.uniform(0, WIDTH - w), rng.uniform(0, HEIGHT - h)
    return np.array([x, y, x + w, y + h])


def perturbed(rng: np.random.Generator, box: np.ndarray, kind: str) -> np.ndarray:
    """A detection for ``box``: jittered (good), sloppy, or shifted by 30-80% of its size."""
    size = np.tile(box[2:] - box[:2], 2)
    if kind == "good":
        return box + rng.normal(0, 0.05, 4) * size
    if kind == "sloppy":
        return box + rng.normal(0, 0.15, 4) * size
    shift = rng.uniform(0.3, 0.8, 2) * rng.choice([-1, 1], 2)
    return box + np.tile(shift, 2) * size


def random_frame(
    rng: np.random.Generator, *, tied_scores: bool
) -> tuple[FrameAnnotations, FrameDetections]:
    """Ground truth, ignore regions (some around a box), and per box 0-2 detections that are
    right, of the wrong class, badly localised, or both, plus background boxes and detections
    half inside each ignore region."""
    num_gt = int(rng.integers(0, 7))
    num_classes = len(FIXTURE_CLASSES)
    gt_boxes = np.array([random_box(rng) for _ in range(num_gt)]).reshape(-1, 4)
    gt_labels = rng.integers(1, num_classes + 1, num_gt)
    ignore = []
    for _ in range(rng.integers(0, 3)):
        if num_gt and rng.random() < 0.5:
            box = gt_boxes[rng.integers(num_gt)]
            size = box[2:] - box[:2]
            ignore.append(box + np.r_[-size, size] * rng.uniform(0, 0.5))
        else:
            ignore.append(random_box(rng))
    det_boxes, det_labels = [], []
    for box, label in zip(gt_boxes, gt_labels, strict=True):
        for _ in range(rng.integers(0, 3)):
            kind = rng.choice(["good", "sloppy", "shifted"])
            wrong_class = rng.random() < 0.3
            det_boxes.append(perturbed(rng, box, kind))
            det_labels.append(rng.integers(1, num_classes + 1) if wrong_class else label)
    for _ in range(rng.integers(0, 4)):
        det_boxes.append(random_box(rng))
        det_labels.append(rng.integers(1, num_classes + 1))
    for region in ignore:
        det_boxes.append(np.r_[region[:2], (region[:2] + region[2:]) / 2])
        det_labels.append(rng.integers(1, num_classes + 1))
    det_array = np.array(det_boxes).reshape(-1, 4)
    det_array[:, 2:] = np.maximum(det_array[:, 2:], det_array[:, :2] + 1)
    scores = rng.uniform(0, 1, len(det_labels))
    if tied_scores:
        scores = np.round(scores * 4) / 4
    gt = FrameAnnotations(
        boxes=gt_boxes.astype(np.float32),
        labels=gt_labels.astype(np.int64),
        track_ids=np.arange(num_gt, dtype=np.int64),
        ignore_boxes=np.array(ignore).reshape(-1, 4).astype(np.float32),
    )
    dets = FrameDetections(
        boxes=det_array.astype(np.float32),
        labels=np.array(det_labels, dtype=np.int64),
        scores=scores.astype(np.float32),
    )
    return gt, dets


def xywh(rows: np.ndarray) -> list[list[float]]:
    rows = rows.astype(np.float64)
    return np.concatenate([rows[:, :2], rows[:, 2:] - rows[:, :2]], axis=1).tolist()


def tidecv_breakdown(
    gt: list[FrameAnnotations],
    dets: list[FrameDetections],
    *,
    pos_threshold: float,
    background_threshold: float,
    max_detections: int,
) -> tuple[float, dict[str, float], dict[str, float]]:
    """Base AP, main and special errors from tidecv, every frame registered as an image and
    every ignore box as a region of all classes (-1)."""
    tidecv = pytest.importorskip("tidecv")
    gt_data = tidecv.Data("gt", max_dets=max_detections)
    det_data = tidecv.Data("dets")
    for image, (frame_gt, frame_dets) in enumerate(zip(gt, dets, strict=True)):
        gt_data.add_image(image, f"frame {image}")
        for box, label in zip(xywh(frame_gt.boxes), frame_gt.labels.tolist(), strict=True):
            gt_data.add_ground_truth(image, label, box)
        for box in xywh(frame_gt.ignore_boxes):
            gt_data.add_ignore_region(image, -1, box)
        rows = zip(
            xywh(frame_dets.boxes),
            frame_dets.labels.tolist(),
            frame_dets.scores.tolist(),
            strict=True,
        )
        for box, label, score in rows:
            det_data.add_detection(image, label, score, box)
    tide = tidecv.TIDE(pos_threshold=pos_threshold, background_threshold=background_threshold)
    run = tide.evaluate(gt_data, det_data, mode=tidecv.TIDE.BOX)
    return run.ap, tide.get_main_errors()["dets"], tide.get_special_errors()["dets"]


def assert_matches_tidecv(
    seed: int,
    *,
    tied_scores: bool = False,
    pos_threshold: float = 0.5,
    background_threshold: float = 0.1,
    max_detections: int = 100,
) -> TideBreakdown:
    rng = np.random.default_rng(seed)
    frames = [random_frame(rng, tied_scores=tied_scores) for _ in range(30)]
    gt = [frame[0] for frame in frames]
    dets = [frame[1] for frame in frames]
    thresholds = dict(
        pos_threshold=pos_threshold,
        background_threshold=background_threshold,
        max_detections=max_detections,
    )
    ap, main, special = tidecv_breakdown(gt, dets, **thresholds)
    ours = tide_errors(ground_truth=gt, detections=dets, class_names=FIXTURE_CLASSES, **thresholds)
    assert ours.ap50 == pytest.approx(ap, abs=1e-6)
    assert ours.main_errors == pytest.approx(main, abs=1e-6)
    assert ours.special_errors == pytest.approx(special, abs=1e-6)
    return ours


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_tidecv_on_a_random_fixture(seed: int) -> None:
    ours = assert_matches_tidecv(seed)
    # The fixture exercises every error type.
    assert 10 < ours.ap50 < 90
    assert all(value > 0 for value in ours.main_errors.values())


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(dict(tied_scores=True), id="tied-scores"),
        pytest.param(dict(pos_threshold=0.6, background_threshold=0.2), id="thresholds"),
        pytest.param(dict(max_detections=3), id="max-detections"),
    ],
)
def test_matches_tidecv_with_ties_other_thresholds_and_few_detections(options: dict) -> None:
    assert_matches_tidecv(3, **options)


# --- validation ---------------------------------------------------------------------------------

GOOD_GT = annotations([A], [CAR])
GOOD_DETS = detections([A], [CAR], [0.9])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(detections=[GOOD_DETS, GOOD_DETS]), "lengths disagree"),
        (dict(ground_truth=[], detections=[]), "no frames"),
        (dict(class_names=[]), "class_names is empty"),
        (dict(ground_truth=[annotations([A], [0])]), r"frame 0 ground truth: labels must lie"),
        (dict(detections=[detections([A], [3], [0.9])]), r"frame 0 detections: labels must lie"),
        (dict(detections=[detections([A], [CAR], [1.5])]), "scores must lie in"),
        (dict(detections=[detections([(50, 10, 10, 50)], [CAR], [0.9])]), "x2 >= x1"),
        (dict(ground_truth=[annotations([A], [CAR], [(0, 0, np.nan, 5)])]), "finite"),
        (dict(pos_threshold=0.0), "pos_threshold"),
        (dict(background_threshold=0.6), "background_threshold"),
        (dict(max_detections=0), "max_detections"),
    ],
)
def test_rejects_bad_input(kwargs: dict, message: str) -> None:
    arguments = dict(ground_truth=[GOOD_GT], detections=[GOOD_DETS], class_names=CLASSES)
    with pytest.raises(ValueError, match=message):
        tide_errors(**{**arguments, **kwargs})
