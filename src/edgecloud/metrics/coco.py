"""COCO-style detection metrics (AP@[.5:.95], AP50, AP75, per class) over in-memory frames.

The COCO datasets are built in memory from :class:`~edgecloud.data.annotations.FrameAnnotations`
and :class:`~edgecloud.detections.FrameDetections`; nothing is written to disk.

Conventions, chosen to match COCO and VisDrone:

* Ground-truth boxes become ordinary COCO annotations (``iscrowd=0``, ``area = w * h``).
* Every ignore box becomes one ``iscrowd=1`` annotation **per category**. COCO crowd regions
  belong to one category, while a VisDrone ignored region covers every class, so it is
  replicated. A detection overlapping a crowd region by at least the IoU threshold, measured
  as intersection over the *detection's* area, is then neither a true nor a false positive.
* Only COCO's ``all`` area range is evaluated, with ``max_detections`` detections per image
  (the highest scored ones).
* A class without any (non-crowd) ground truth has no AP: COCO reports -1, this module reports
  ``None`` per class and leaves the class out of the means. With no ground truth at all the
  means are ``float("nan")``. Classes with ground truth but no detections score 0.0.

``backend="faster"`` uses ``faster_coco_eval`` (a runtime dependency); ``"pycocotools"`` uses
the reference implementation, which is a dev/test dependency only and imported lazily. The two
give identical numbers; the tests check this.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections
from edgecloud.metrics.validation import check_frames

Backend = Literal["faster", "pycocotools"]

_ALL_AREAS = [0.0, 1e5**2]


@dataclass(frozen=True)
class DetectionMetrics:
    """Results of one COCO evaluation.

    ``map`` is AP averaged over IoU thresholds 0.50:0.05:0.95 and over classes with ground
    truth; ``map50``/``map75`` use a single threshold. Per-class dicts are keyed by class name
    in the configured order, ``None`` where the class has no ground truth.
    """

    map: float
    map50: float
    map75: float
    per_class_ap: dict[str, float | None]
    per_class_ap50: dict[str, float | None]
    num_images: int
    num_ground_truth: int
    num_detections: int

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        """Flat ``{name: value}`` for loggers and JSON.

        Keys are ``mAP``, ``mAP50``, ``mAP75``, ``AP/<class>`` and ``AP50/<class>``, each
        preceded by ``prefix``. Classes without ground truth are left out, because loggers
        cannot plot a missing value; the means stay in even when NaN (no ground truth at all).
        """
        flat = {
            f"{prefix}mAP": self.map,
            f"{prefix}mAP50": self.map50,
            f"{prefix}mAP75": self.map75,
        }
        for key, per_class in (("AP", self.per_class_ap), ("AP50", self.per_class_ap50)):
            for name, value in per_class.items():
                if value is not None:
                    flat[f"{prefix}{key}/{name}"] = value
        return flat


def evaluate_detections(
    *,
    ground_truth: Sequence[FrameAnnotations],
    detections: Sequence[FrameDetections],
    class_names: Sequence[str],
    image_sizes: Sequence[tuple[int, int]],
    backend: Backend = "faster",
    max_detections: int = 100,
    verbose: bool = False,
) -> DetectionMetrics:
    """Score ``detections`` against ``ground_truth`` frame by frame with COCO's bbox protocol.

    ``image_sizes`` holds ``(height, width)`` per frame. Labels must lie in ``1..len(class_names)``
    and scores in ``[0, 1]``. The COCO libraries' progress output is suppressed unless
    ``verbose``.
    """
    _validate_inputs(ground_truth, detections, class_names, image_sizes, max_detections)
    gt_dataset = _ground_truth_dataset(ground_truth, image_sizes, len(class_names))
    results = list(_detection_results(detections))
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with quiet:
        evaluator = _run_backend(backend, gt_dataset, results, max_detections, verbose)
    return _metrics_from_evaluator(
        evaluator,
        class_names=class_names,
        num_images=len(ground_truth),
        num_ground_truth=sum(len(frame.labels) for frame in ground_truth),
        num_detections=len(results),
    )


def small_object_ground_truth(frame: FrameAnnotations, *, small: np.ndarray) -> FrameAnnotations:
    """``frame``'s ground truth reduced to the boxes flagged in ``small`` (``(N,)`` bool, e.g.
    :func:`~edgecloud.metrics.regions.small_box_mask`), the other boxes turned into ignore
    regions: scored with :func:`evaluate_detections` it gives a small-object mAP in which
    detecting a large object is neither a hit nor a false alarm."""
    small = np.asarray(small, dtype=bool)
    if small.shape != frame.labels.shape:
        raise ValueError(f"small {small.shape} does not flag the {len(frame.labels)} boxes")
    return FrameAnnotations(
        boxes=frame.boxes[small],
        labels=frame.labels[small],
        track_ids=frame.track_ids[small],
        ignore_boxes=np.concatenate([frame.ignore_boxes, frame.boxes[~small]]),
    )


def _validate_inputs(
    ground_truth: Sequence[FrameAnnotations],
    detections: Sequence[FrameDetections],
    class_names: Sequence[str],
    image_sizes: Sequence[tuple[int, int]],
    max_detections: int,
) -> None:
    """Reject inputs COCO would silently mis-score, with a message naming the frame."""
    if not class_names:
        raise ValueError("class_names is empty")
    if max_detections < 1:
        raise ValueError(f"max_detections must be >= 1, got {max_detections}")
    if not len(ground_truth) == len(detections) == len(image_sizes):
        raise ValueError(
            f"lengths disagree: {len(ground_truth)} ground-truth frames, "
            f"{len(detections)} detection frames, {len(image_sizes)} image sizes"
        )
    if not ground_truth:
        raise ValueError("no frames to evaluate")
    for index, (height, width) in enumerate(image_sizes):
        if height <= 0 or width <= 0:
            raise ValueError(f"frame {index}: image size must be positive, got {(height, width)}")
    check_frames(ground_truth, detections, num_classes=len(class_names))


def _xywh_rows(boxes: np.ndarray) -> list[list[float]]:
    """xyxy boxes as COCO ``[x, y, w, h]`` lists in float64, in one vectorised step (a
    per-value ``float()`` loop was a third of the whole evaluation time)."""
    xyxy = boxes.astype(np.float64).reshape(-1, 4)
    return np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1).tolist()


def _ground_truth_dataset(
    ground_truth: Sequence[FrameAnnotations],
    image_sizes: Sequence[tuple[int, int]],
    num_classes: int,
) -> dict[str, Any]:
    """COCO ground-truth dict; image ids are frame index + 1, category ids are the labels."""
    images = [
        {"id": index + 1, "height": int(height), "width": int(width)}
        for index, (height, width) in enumerate(image_sizes)
    ]
    categories = [{"id": label, "name": str(label)} for label in range(1, num_classes + 1)]
    annotations = []
    for image_id, frame in enumerate(ground_truth, start=1):
        crowd = [
            (xywh, label, 1)
            for xywh in _xywh_rows(frame.ignore_boxes)
            for label in range(1, num_classes + 1)
        ]
        regular = [
            (xywh, label, 0)
            for xywh, label in zip(_xywh_rows(frame.boxes), frame.labels.tolist(), strict=True)
        ]
        for xywh, label, iscrowd in regular + crowd:
            annotations.append(
                {
                    # COCO treats id 0 as "unmatched", so ids start at 1.
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": label,
                    "bbox": xywh,
                    "area": xywh[2] * xywh[3],
                    "iscrowd": iscrowd,
                }
            )
    return {"images": images, "categories": categories, "annotations": annotations}


def _detection_results(detections: Sequence[FrameDetections]) -> Iterator[dict[str, Any]]:
    """``loadRes``-style result entries, one per detection."""
    for image_id, frame in enumerate(detections, start=1):
        rows = zip(
            _xywh_rows(frame.boxes), frame.labels.tolist(), frame.scores.tolist(), strict=True
        )
        for xywh, label, score in rows:
            yield {"image_id": image_id, "category_id": label, "bbox": xywh, "score": score}


def _run_backend(
    backend: Backend,
    gt_dataset: dict[str, Any],
    results: list[dict[str, Any]],
    max_detections: int,
    verbose: bool,
) -> Any:
    """Evaluate and accumulate with the chosen library; return its evaluator."""
    if backend == "faster":
        evaluator = _faster_evaluator(gt_dataset, results, verbose)
    elif backend == "pycocotools":
        evaluator = _pycocotools_evaluator(gt_dataset, results)
    else:
        raise ValueError(f"unknown backend {backend!r}; expected 'faster' or 'pycocotools'")
    evaluator.params.areaRng = [_ALL_AREAS]
    evaluator.params.areaRngLbl = ["all"]
    evaluator.params.maxDets = [max_detections]
    evaluator.evaluate()
    evaluator.accumulate()
    return evaluator


def _faster_evaluator(
    gt_dataset: dict[str, Any], results: list[dict[str, Any]], verbose: bool
) -> Any:
    from faster_coco_eval import COCO, COCOeval_faster

    log = print if verbose else _discard
    coco_gt = COCO(gt_dataset, print_function=log)
    coco_dt = coco_gt.loadRes(results)
    return COCOeval_faster(coco_gt, coco_dt, iouType="bbox", print_function=log)


def _pycocotools_evaluator(gt_dataset: dict[str, Any], results: list[dict[str, Any]]) -> Any:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    coco_gt = _pycocotools_coco(COCO, gt_dataset)
    if results:
        coco_dt = coco_gt.loadRes(results)
    else:
        # pycocotools' loadRes indexes results[0]; an empty result set is built by hand.
        empty = {**gt_dataset, "annotations": []}
        coco_dt = _pycocotools_coco(COCO, empty)
    return COCOeval(coco_gt, coco_dt, iouType="bbox")


def _pycocotools_coco(coco_class: type, dataset: dict[str, Any]) -> Any:
    """A pycocotools ``COCO`` from an in-memory dict (its constructor only reads files)."""
    coco = coco_class()
    coco.dataset = dataset
    coco.createIndex()
    return coco


def _discard(*_args: object, **_kwargs: object) -> None:
    """Print function that drops faster_coco_eval's progress messages."""


def _metrics_from_evaluator(
    evaluator: Any,
    *,
    class_names: Sequence[str],
    num_images: int,
    num_ground_truth: int,
    num_detections: int,
) -> DetectionMetrics:
    """Read APs from COCO's precision array ``[iou, recall, class, area, max_dets]``."""
    precision = np.asarray(evaluator.eval["precision"])[:, :, :, 0, 0]
    iou_thresholds = np.asarray(evaluator.params.iouThrs)
    at50 = precision[np.isclose(iou_thresholds, 0.50)]
    at75 = precision[np.isclose(iou_thresholds, 0.75)]
    class_index = {int(cat_id): k for k, cat_id in enumerate(evaluator.params.catIds)}
    columns = [class_index[label] for label in range(1, len(class_names) + 1)]
    return DetectionMetrics(
        map=_mean_valid(precision),
        map50=_mean_valid(at50),
        map75=_mean_valid(at75),
        per_class_ap={
            name: _optional(_mean_valid(precision[:, :, k]))
            for name, k in zip(class_names, columns, strict=True)
        },
        per_class_ap50={
            name: _optional(_mean_valid(at50[:, :, k]))
            for name, k in zip(class_names, columns, strict=True)
        },
        num_images=num_images,
        num_ground_truth=num_ground_truth,
        num_detections=num_detections,
    )


def _mean_valid(values: np.ndarray) -> float:
    """Mean of the entries COCO filled in (it marks "no ground truth" with -1), NaN if none."""
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else math.nan


def _optional(value: float) -> float | None:
    return None if math.isnan(value) else value
