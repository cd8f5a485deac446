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
from scipy.optimize import linear_sum_assignment

from edgecloud.fusion.boxes import pairwise_iou
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
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must lie in (0, 1], got {iou_threshold}")
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay must lie in [0, 1], got {decay}")
    num_new = len(labels)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(num_new, 4)
    others = np.flatnonzero(current.sources != int(source))
    matched_current = matched_new = np.zeros(0, dtype=np.int64)
    if num_new and len(others):
        overlap = pairwise_iou(current.boxes[others], boxes)
        overlap[overlap < iou_threshold] = 0.0
        rows, cols = linear_sum_assignment(overlap, maximize=True)
        matched = overlap[rows, cols] > 0.0
        matched_current, matched_new = others[rows[matched]], cols[matched]

    unmatched_new = np.ones(num_new, dtype=bool)
    unmatched_new[matched_new] = False
    added = np.flatnonzero(unmatched_new)
    if unmatched_current is UnmatchedPolicy.KEEP:
        kept_mask = np.zeros(len(current), dtype=bool)
        kept_mask[others] = True
        kept_mask[matched_current] = False
        kept = np.flatnonzero(kept_mask)
    else:
        kept = matched_new[:0]
    if source is Source.CLOUD:
        fused_boxes, fused_labels = current.boxes[matched_current], labels[matched_new]
    else:
        fused_boxes, fused_labels = boxes[matched_new], current.labels[matched_current]
    source_id = np.int8(source)
    fused = ObjectSet(
        ids=np.concatenate(
            [
                current.ids[matched_current],
                current.ids[kept],
                np.arange(next_id, next_id + num_new, dtype=np.int64)[added],
            ]
        ),
        boxes=np.concatenate([fused_boxes, current.boxes[kept], boxes[added]]),
        labels=np.concatenate([fused_labels, current.labels[kept], labels[added]]).astype(
            np.int64, copy=False
        ),
        scores=np.concatenate(
            [scores[matched_new] * decay, current.scores[kept], scores[added]]
        ).astype(np.float64, copy=False),
        sources=np.concatenate(
            [
                np.full(len(matched_new), source_id),
                current.sources[kept],
                np.full(len(added), source_id),
            ]
        ),
    )
    return fused, next_id + num_new
