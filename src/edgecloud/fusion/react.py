"""REACT's edge-cloud fusion (Algorithm 1 of Hanyao et al., "REACT: Streaming Video Analytics
On The Edge With Asynchronous Cloud Support", IoTDI 2023). How fused objects age afterwards
(per-frame decay, the drop threshold) is in edgecloud.sim.react.anchor.

The device keeps one list of current objects. Whenever new detections arrive from either source
(the edge detector on the current frame, or a cloud result fast-tracked to the current frame)
:func:`react_fuse` merges them in:

1. remove the current objects whose last detection came from the same source;
2. IoU matrix between the remaining current objects and the new detections, values below the
   threshold set to 0;
3. linear sum assignment maximising total IoU;
4. a matched pair with non-zero IoU becomes one object: new *cloud* detections contribute their
   label (big models classify better) and keep the current box (the fast-tracked cloud box is
   older than the tracked one); new *edge* detections keep the current label and contribute
   their box (edge models localise well but confuse classes). The score is the new detection's,
   decayed once; the source becomes the new one; the object keeps its current id;
5. every new detection without a match is added as it is.

The pseudo-code returns only the list built in steps 4 and 5, which would silently delete the
current objects of the *other* source that matched nothing (e.g. the small objects only the
cloud found, at every edge update). The paper's text says fusion should add "previously
undetected" objects, so by default those objects are kept (``UnmatchedPolicy.KEEP``); the
literal reading is available as ``UnmatchedPolicy.DROP``.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from numba import njit
from scipy.optimize import linear_sum_assignment

from edgecloud.fusion.boxes import TINY_AREA
from edgecloud.fusion.objects import ObjectSet, Source


class UnmatchedPolicy(StrEnum):
    """What happens to current objects of the other source that match no new detection."""

    KEEP = "keep"
    DROP = "drop"


def react_fuse(
    current: ObjectSet,
    *,
    boxes: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    source: Source,
    iou_threshold: float,
    decay: float,
    unmatched_current: UnmatchedPolicy,
    next_id: int,
) -> tuple[ObjectSet, int]:
    """Fuse new detections from ``source`` into ``current`` (Algorithm 1, see module docstring).

    Returns the fused objects and the next unused object id (new detections take ids from
    ``next_id`` on, in their input order). Output order: matched objects in the order of the
    current list, then kept unmatched current objects, then added new detections.

    The simulator fuses thousands of times per replayed minute, so the IoU matrix and the
    assembly of the result are compiled (numba); the assignment is scipy's.
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must lie in (0, 1], got {iou_threshold}")
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay must lie in [0, 1], got {decay}")
    num_new = len(labels)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(num_new, 4)
    others, overlap = _thresholded_overlap(
        current.boxes, current.sources, int(source), boxes, iou_threshold
    )
    rows = cols = _NO_INDICES
    if overlap.size:
        rows, cols = linear_sum_assignment(overlap, maximize=True)
    ids, fused_boxes, fused_labels, fused_scores, sources = _assemble(
        current.ids,
        current.boxes,
        current.labels,
        current.scores,
        current.sources,
        others,
        overlap,
        rows,
        cols,
        boxes,
        np.asarray(labels, dtype=np.int64),
        np.asarray(scores, dtype=np.float64),
        int(source),
        source is Source.CLOUD,
        decay,
        unmatched_current is UnmatchedPolicy.KEEP,
        next_id,
    )
    return ObjectSet(ids, fused_boxes, fused_labels, fused_scores, sources), next_id + num_new


_NO_INDICES = np.zeros(0, dtype=np.int64)


@njit(cache=True)
def _thresholded_overlap(
    current_boxes: np.ndarray,
    current_sources: np.ndarray,
    source: int,
    new_boxes: np.ndarray,
    iou_threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1 and 2: the current objects of the other source (indices), and their IoU with the new
    boxes with values below the threshold set to 0 (the arithmetic of ``pairwise_iou``)."""
    others = np.flatnonzero(current_sources != source)
    overlap = np.empty((len(others), len(new_boxes)), dtype=np.float64)
    for row in range(len(others)):
        box = current_boxes[others[row]]
        area = (box[2] - box[0]) * (box[3] - box[1])
        for col in range(len(new_boxes)):
            new = new_boxes[col]
            width = max(min(box[2], new[2]) - max(box[0], new[0]), 0.0)
            height = max(min(box[3], new[3]) - max(box[1], new[1]), 0.0)
            intersection = width * height
            union = area + (new[2] - new[0]) * (new[3] - new[1]) - intersection
            iou = intersection / max(union, TINY_AREA)
            overlap[row, col] = iou if iou >= iou_threshold else 0.0
    return others, overlap


@njit(cache=True)
def _assemble(
    current_ids: np.ndarray,
    current_boxes: np.ndarray,
    current_labels: np.ndarray,
    current_scores: np.ndarray,
    current_sources: np.ndarray,
    others: np.ndarray,
    overlap: np.ndarray,
    assigned_rows: np.ndarray,
    assigned_cols: np.ndarray,
    new_boxes: np.ndarray,
    new_labels: np.ndarray,
    new_scores: np.ndarray,
    source: int,
    from_cloud: bool,
    decay: float,
    keep_unmatched: bool,
    next_id: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Steps 4 and 5 (and the unmatched policy): the fused arrays, in the documented order.
    An assigned pair is a match only where its thresholded IoU is non-zero."""
    matched = np.empty(len(assigned_rows), dtype=np.bool_)
    for pair in range(len(assigned_rows)):
        matched[pair] = overlap[assigned_rows[pair], assigned_cols[pair]] > 0.0
    matched_current = others[assigned_rows[matched]]
    matched_new = assigned_cols[matched]
    is_matched_current = np.zeros(len(current_ids), dtype=np.bool_)
    is_matched_current[matched_current] = True
    is_matched_new = np.zeros(len(new_labels), dtype=np.bool_)
    is_matched_new[matched_new] = True
    kept = others[~is_matched_current[others]] if keep_unmatched else others[:0]
    added = np.flatnonzero(~is_matched_new)
    size = len(matched_current) + len(kept) + len(added)
    ids = np.empty(size, dtype=np.int64)
    boxes = np.empty((size, 4), dtype=np.float64)
    labels = np.empty(size, dtype=np.int64)
    scores = np.empty(size, dtype=np.float64)
    sources = np.empty(size, dtype=np.int8)
    row = 0
    for pair in range(len(matched_current)):
        current, new = matched_current[pair], matched_new[pair]
        ids[row] = current_ids[current]
        if from_cloud:
            boxes[row] = current_boxes[current]
            labels[row] = new_labels[new]
        else:
            boxes[row] = new_boxes[new]
            labels[row] = current_labels[current]
        scores[row] = new_scores[new] * decay
        sources[row] = source
        row += 1
    for current in kept:
        ids[row] = current_ids[current]
        boxes[row] = current_boxes[current]
        labels[row] = current_labels[current]
        scores[row] = current_scores[current]
        sources[row] = current_sources[current]
        row += 1
    for new in added:
        ids[row] = next_id + new
        boxes[row] = new_boxes[new]
        labels[row] = new_labels[new]
        scores[row] = new_scores[new]
        sources[row] = source
        row += 1
    return ids, boxes, labels, scores, sources
