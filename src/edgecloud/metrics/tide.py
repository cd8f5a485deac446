"""TIDE error breakdown (Bolya et al., ECCV 2020) over in-memory frames.

TIDE says how much AP each kind of mistake costs: it fixes all errors of one type, recomputes
AP, and reports the gain (dAP). This module reproduces ``tidecv`` 1.0.1's box mode number for
number (the tests compare against it), with vectorised numpy instead of per-object Python.

Scale and names follow what ``tidecv`` prints: AP and every dAP are **percentage points in
0..100**, and the error types are called ``Cls``, ``Loc``, ``Both``, ``Dupe``, ``Bkg``, ``Miss``
(main errors) and ``FalsePos``, ``FalseNeg`` (special errors).

Per frame, detections are sorted by score (stable, so ties keep their input order) and only the
``max_detections`` best are kept. Each one, in that order, is matched to the unmatched ground
truth of its class with the highest IoU if that IoU is ``>= pos_threshold``. An unmatched
detection is then *ignored* (neither true nor false positive) if more than ``pos_threshold``
of its own area lies inside one ignore box: ignore boxes are tidecv ignore regions with class
``-1``, i.e. COCO crowd regions that cover every class. Every unmatched detection, ignored or
not, gets the first type that applies, with IoUs taken against all of the frame's ground truth:

* ``Loc``: its best IoU with its own class is in ``[background_threshold, pos_threshold]``;
* ``Cls``: its best IoU with another class is ``>= pos_threshold``;
* ``Dupe``: its best IoU with an already matched box of its class is ``>= pos_threshold``;
* ``Bkg``: its best IoU with any box is ``<= background_threshold`` (or the frame has none);
* ``Both``: anything else (wrong class and badly localised).

Fixing ``Cls``/``Loc`` turns the detection into a true positive of the targeted box's class,
but only if that box is unmatched and only for the highest-scored such detection per box; the
other ones, and fixed ``Dupe``/``Bkg``/``Both`` errors, are dropped. A box no ``Cls``/``Loc``
error could fix is a ``Miss``, and fixing it removes it from the ground truth. ``FalsePos``
gives every true positive score 1 and every false positive score 0; ``FalseNeg`` removes all
unmatched ground truth. Main dAPs are clipped at 0 (tidecv blames negative ones on binning),
special ones are not.

tidecv behaviours kept on purpose, because they change the numbers:

* AP per class is COCO's 101-point interpolation: precision made monotone from the right, read
  at the first point whose recall is ``>=`` each of ``0, 0.01, ..., 1`` (0 past the last one).
* The mean is over classes with ground truth *or* with (non-ignored) detections; a class with
  detections but no ground truth scores 0. Fixing errors can therefore change which classes
  are averaged: a dAP may come from a class dropping out of the mean.
* Equal scores are ordered by frame, then rank within the frame; after a fix, the detections
  that were errors go before the original true positives.
* Ignored detections still get error types. A ``Loc``/``Cls`` fix can turn one into a true
  positive, and the box it targets is then not a ``Miss``.
* An ignore region swallows a detection only above ``pos_threshold`` coverage (``>``, where
  COCO uses ``>=``).

Unlike tidecv, which only visits images its ground truth knows about, every frame counts:
detections in a frame without ground truth are ``Bkg`` false positives. Where an AP has no
class left to average (no ground truth and no detections at all, or a fix that removes the last
of them, such as fixing ``Miss`` when nothing was detected), it and the dAP it enters are
``float("nan")``; tidecv raises ``ZeroDivisionError`` there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections
from edgecloud.metrics.validation import check_frames

MAIN_ERRORS = ("Cls", "Loc", "Both", "Dupe", "Bkg", "Miss")
SPECIAL_ERRORS = ("FalsePos", "FalseNeg")

# Error codes are indices into MAIN_ERRORS; matched detections have none.
_CLS, _LOC, _BOTH, _DUPE, _BKG, _MISS = range(len(MAIN_ERRORS))
_NO_ERROR = -1

_RECALL_THRESHOLDS = np.arange(101) / 100


@dataclass(frozen=True)
class TideBreakdown:
    """TIDE's AP and its error breakdown, all in percentage points (0..100) like tidecv.

    ``ap50`` is TIDE's own AP at ``pos_threshold`` (0.5 by default, hence the name).
    ``main_errors`` maps ``Cls``, ``Loc``, ``Both``, ``Dupe``, ``Bkg`` and ``Miss`` to the AP
    gained by fixing that error type alone; ``special_errors`` does the same for ``FalsePos``
    and ``FalseNeg``.
    """

    ap50: float
    main_errors: dict[str, float]
    special_errors: dict[str, float]

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        """Flat ``{name: value}`` for loggers and JSON, in the same 0..100 scale.

        Keys are ``tide/ap50`` and ``tide/<error>`` (e.g. ``tide/Cls``, ``tide/FalsePos``),
        each preceded by ``prefix``.
        """
        flat = {f"{prefix}tide/ap50": self.ap50}
        for errors in (self.main_errors, self.special_errors):
            flat.update({f"{prefix}tide/{name}": value for name, value in errors.items()})
        return flat


def tide_errors(
    *,
    ground_truth: Sequence[FrameAnnotations],
    detections: Sequence[FrameDetections],
    class_names: Sequence[str],
    pos_threshold: float = 0.5,
    background_threshold: float = 0.1,
    max_detections: int = 100,
) -> TideBreakdown:
    """Break the detection errors of ``detections`` against ``ground_truth`` down TIDE's way.

    Frames are paired by position. Labels must lie in ``1..len(class_names)`` and scores in
    ``[0, 1]``; ``0 <= background_threshold <= pos_threshold <= 1``. Only the
    ``max_detections`` highest scored detections of each frame count (tidecv's default, 100).
    See the module docstring for the exact definitions.
    """
    _validate_inputs(
        ground_truth, detections, class_names, pos_threshold, background_threshold, max_detections
    )
    outcome = _Outcome.concatenate(
        [
            _match_frame(
                gt,
                det,
                pos_threshold=pos_threshold,
                background_threshold=background_threshold,
                max_detections=max_detections,
            )
            for gt, det in zip(ground_truth, detections, strict=True)
        ]
    )
    return outcome.breakdown(num_classes=len(class_names))


def _validate_inputs(
    ground_truth: Sequence[FrameAnnotations],
    detections: Sequence[FrameDetections],
    class_names: Sequence[str],
    pos_threshold: float,
    background_threshold: float,
    max_detections: int,
) -> None:
    """Reject inputs that would be silently mis-scored, with a message naming the frame."""
    if not class_names:
        raise ValueError("class_names is empty")
    if not 0.0 < pos_threshold <= 1.0:
        raise ValueError(f"pos_threshold must lie in (0, 1], got {pos_threshold}")
    if not 0.0 <= background_threshold <= pos_threshold:
        raise ValueError(
            f"background_threshold must lie in [0, pos_threshold={pos_threshold}], "
            f"got {background_threshold}"
        )
    if max_detections < 1:
        raise ValueError(f"max_detections must be >= 1, got {max_detections}")
    if len(ground_truth) != len(detections):
        raise ValueError(
            f"lengths disagree: {len(ground_truth)} ground-truth frames, "
            f"{len(detections)} detection frames"
        )
    if not ground_truth:
        raise ValueError("no frames to evaluate")
    check_frames(ground_truth, detections, num_classes=len(class_names))


@dataclass(frozen=True)
class _Outcome:
    """What matching decided, per kept detection (in tidecv's frame-then-rank order) and per
    ground-truth box; everything the AP of any fixed variant needs.

    ``fix_label`` is the class a ``Cls``/``Loc`` fix turns the detection into as a true
    positive, 0 where fixing its error drops it instead.
    """

    labels: np.ndarray
    scores: np.ndarray
    matched: np.ndarray
    ignored: np.ndarray
    error: np.ndarray
    fix_label: np.ndarray
    gt_labels: np.ndarray
    gt_unmatched: np.ndarray
    gt_missed: np.ndarray

    @classmethod
    def concatenate(cls, frames: list[_Outcome]) -> _Outcome:
        return cls(
            **{
                name: np.concatenate([getattr(frame, name) for frame in frames])
                for name in cls.__dataclass_fields__
            }
        )

    def breakdown(self, *, num_classes: int) -> TideBreakdown:
        """Base AP, then the AP with each error type fixed, as tidecv's ``fix_errors`` does."""
        num_gt = np.bincount(self.gt_labels, minlength=num_classes + 1)
        counted = ~self.ignored
        base = _mean_ap(
            labels=self.labels[counted],
            scores=self.scores[counted],
            true_positive=self.matched[counted],
            tie_break=np.flatnonzero(counted),
            num_gt=num_gt,
        )
        # tidecv's fixed variants push every error (fixed or not) before the true positives,
        # which decides the order of equal scores.
        fixed_order = np.arange(len(self.labels)) + len(self.labels) * self.matched
        main = {}
        for code, name in enumerate(MAIN_ERRORS):
            fixed_here = self.error == code
            kept = self.matched | (fixed_here & (self.fix_label > 0)) | (~fixed_here & counted)
            fixed_gt = num_gt
            if code == _MISS:
                fixed_gt = num_gt - np.bincount(
                    self.gt_labels[self.gt_missed], minlength=num_classes + 1
                )
            fixed = _mean_ap(
                labels=np.where(fixed_here, self.fix_label, self.labels)[kept],
                scores=self.scores[kept],
                true_positive=(self.matched | fixed_here)[kept],
                tie_break=fixed_order[kept],
                num_gt=fixed_gt,
            )
            main[name] = float(np.maximum(fixed - base, 0.0))
        perfect_precision = _mean_ap(
            labels=self.labels[counted],
            scores=self.matched[counted].astype(np.float64),
            true_positive=self.matched[counted],
            tie_break=fixed_order[counted],
            num_gt=num_gt,
        )
        perfect_recall = _mean_ap(
            labels=self.labels[counted],
            scores=self.scores[counted],
            true_positive=self.matched[counted],
            tie_break=fixed_order[counted],
            num_gt=num_gt
            - np.bincount(self.gt_labels[self.gt_unmatched], minlength=num_classes + 1),
        )
        return TideBreakdown(
            ap50=base,
            main_errors=main,
            special_errors={
                "FalsePos": perfect_precision - base,
                "FalseNeg": perfect_recall - base,
            },
        )


def _match_frame(
    gt: FrameAnnotations,
    det: FrameDetections,
    *,
    pos_threshold: float,
    background_threshold: float,
    max_detections: int,
) -> _Outcome:
    """Match, ignore and classify one frame's detections, and find its missed boxes."""
    order = np.argsort(-det.scores, kind="stable")[:max_detections]
    boxes = det.boxes[order].astype(np.float64)
    labels = det.labels[order]
    iou, _ = _overlaps(boxes, gt.boxes.astype(np.float64))
    same_class = labels[:, None] == gt.labels[None, :]
    class_iou = np.where(same_class, iou, 0.0)

    matched_gt = _greedy_match(class_iou, pos_threshold)
    matched = matched_gt >= 0
    gt_used = np.zeros(len(gt.labels), dtype=bool)
    gt_used[matched_gt[matched]] = True

    _, coverage = _overlaps(boxes, gt.ignore_boxes.astype(np.float64))
    ignored = ~matched & np.any(coverage > pos_threshold, axis=1)

    error, target = _classify(
        iou,
        class_iou,
        same_class,
        gt_used,
        pos_threshold=pos_threshold,
        background_threshold=background_threshold,
    )
    error[matched] = _NO_ERROR
    # Cls/Loc errors aimed at an unmatched box can be fixed; per box only the first (highest
    # scored) one becomes a true positive, and the box no longer counts as missed.
    fixable = np.flatnonzero((error == _CLS) | (error == _LOC))
    fixable = fixable[~gt_used[target[fixable]]]
    _, first = np.unique(target[fixable], return_index=True)
    winners = fixable[first]
    fix_label = np.zeros(len(labels), dtype=np.int64)
    fix_label[winners] = gt.labels[target[winners]]
    usable = np.zeros(len(gt.labels), dtype=bool)
    usable[target[fixable]] = True

    return _Outcome(
        labels=labels,
        scores=det.scores[order].astype(np.float64),
        matched=matched,
        ignored=ignored,
        error=error,
        fix_label=fix_label,
        gt_labels=gt.labels,
        gt_unmatched=~gt_used,
        gt_missed=~gt_used & ~usable,
    )


def _overlaps(boxes: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, M)`` IoU and coverage (intersection over the area of ``boxes``), with the
    operations in pycocotools' order so that thresholds fall on the same side as in tidecv."""
    width = np.minimum(boxes[:, None, 2], others[None, :, 2]) - np.maximum(
        boxes[:, None, 0], others[None, :, 0]
    )
    height = np.minimum(boxes[:, None, 3], others[None, :, 3]) - np.maximum(
        boxes[:, None, 1], others[None, :, 1]
    )
    inter = np.maximum(width, 0.0) * np.maximum(height, 0.0)
    area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[:, None]
    other_area = ((others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1]))[None, :]
    overlapping = inter > 0.0
    iou = np.divide(inter, area + other_area - inter, out=np.zeros_like(inter), where=overlapping)
    coverage = np.divide(inter, area, out=np.zeros_like(inter), where=overlapping)
    return iou, coverage


def _greedy_match(class_iou: np.ndarray, threshold: float) -> np.ndarray:
    """Index of the matched box per detection (rows in score order), -1 if none.

    Each detection takes the unmatched box with the highest IoU (first on ties) if it reaches
    ``threshold``. Only rows with some IoU at the threshold can match, so only they are looped.
    """
    matched_gt = np.full(class_iou.shape[0], -1, dtype=np.int64)
    if class_iou.shape[1] == 0:
        return matched_gt
    rows = np.flatnonzero(class_iou.max(axis=1) >= threshold)
    available = class_iou[rows]
    for k, row in enumerate(rows):
        candidates = available[k]
        column = candidates.argmax()
        if candidates[column] >= threshold:
            matched_gt[row] = column
            available[k + 1 :, column] = 0.0
    return matched_gt


def _classify(
    iou: np.ndarray,
    class_iou: np.ndarray,
    same_class: np.ndarray,
    gt_used: np.ndarray,
    *,
    pos_threshold: float,
    background_threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """TIDE error code for every detection as if it were unmatched, and the box a ``Loc`` or
    ``Cls`` fix would target (-1 otherwise); the first applicable type wins."""
    num_dets, num_gt = iou.shape
    if num_gt == 0:
        return np.full(num_dets, _BKG, dtype=np.int64), np.full(num_dets, -1, dtype=np.int64)
    rows = np.arange(num_dets)
    loc_target = class_iou.argmax(axis=1)
    loc_iou = class_iou[rows, loc_target]
    other_class_iou = np.where(same_class, 0.0, iou)
    cls_target = other_class_iou.argmax(axis=1)
    cls_iou = other_class_iou[rows, cls_target]
    dupe_iou = np.where(gt_used[None, :], class_iou, 0.0).max(axis=1)
    # Tests in reverse priority, so that a later assignment overrides an earlier one.
    error = np.full(num_dets, _BOTH, dtype=np.int64)
    error[iou.max(axis=1) <= background_threshold] = _BKG
    error[dupe_iou >= pos_threshold] = _DUPE
    error[cls_iou >= pos_threshold] = _CLS
    error[(background_threshold <= loc_iou) & (loc_iou <= pos_threshold)] = _LOC
    target = np.where(error == _LOC, loc_target, np.where(error == _CLS, cls_target, -1))
    return error, target


def _mean_ap(
    *,
    labels: np.ndarray,
    scores: np.ndarray,
    true_positive: np.ndarray,
    tie_break: np.ndarray,
    num_gt: np.ndarray,
) -> float:
    """tidecv's mAP (0..100) of scored detections, ``num_gt`` being the box count per label.

    Detections are ranked by score, equal scores by ``tie_break``. The mean runs over every
    class with detections or ground truth; NaN if there is none.
    """
    order = np.lexsort((tie_break, -scores, labels))
    labels, true_positive = labels[order], true_positive[order]
    classes = np.union1d(labels, np.flatnonzero(num_gt))
    starts = np.searchsorted(labels, classes, side="left")
    stops = np.searchsorted(labels, classes, side="right")
    aps = [
        _average_precision(true_positive[start:stop], int(num_gt[label]))
        for label, start, stop in zip(classes, starts, stops, strict=True)
    ]
    return float(np.mean(aps)) if aps else math.nan


def _average_precision(true_positive: np.ndarray, num_gt: int) -> float:
    """101-point interpolated AP (0..100) of one class's ranked detections; 0 without ground
    truth, as in tidecv."""
    if num_gt == 0:
        return 0.0
    hits = np.cumsum(true_positive)
    precision = hits / np.arange(1, len(hits) + 1)
    recall = hits / num_gt
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    index = np.searchsorted(recall, _RECALL_THRESHOLDS, side="left")
    reached = index < len(precision)
    interpolated = np.zeros(len(_RECALL_THRESHOLDS))
    interpolated[reached] = precision[index[reached]]
    return float(np.mean(interpolated)) * 100.0
