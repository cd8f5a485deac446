"""Algorithm 1 of REACT on tiny hand-computed cases, one per rule."""

from __future__ import annotations

import numpy as np
import pytest

from edgecloud.fusion import ObjectSet, Source, UnmatchedPolicy, react_fuse
from edgecloud.fusion.boxes import pairwise_iou


def objects(rows: list[tuple[int, tuple, int, float, Source]]) -> ObjectSet:
    """ObjectSet from (id, box, label, score, source) rows."""
    return ObjectSet(
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        boxes=np.array([r[1] for r in rows], dtype=np.float64).reshape(-1, 4),
        labels=np.array([r[2] for r in rows], dtype=np.int64),
        scores=np.array([r[3] for r in rows], dtype=np.float64),
        sources=np.array([int(r[4]) for r in rows], dtype=np.int8),
    )


def fuse(current, boxes, labels, scores, source, *, policy=UnmatchedPolicy.KEEP, decay=0.9):
    return react_fuse(
        current,
        boxes=np.array(boxes, dtype=np.float64).reshape(-1, 4),
        labels=np.array(labels, dtype=np.int64),
        scores=np.array(scores, dtype=np.float64),
        source=source,
        iou_threshold=0.5,
        decay=decay,
        unmatched_current=policy,
        next_id=100,
    )


def as_rows(fused: ObjectSet) -> list[tuple]:
    return [
        (int(i), tuple(float(v) for v in b), int(label), round(float(s), 6), int(src))
        for i, b, label, s, src in zip(
            fused.ids, fused.boxes, fused.labels, fused.scores, fused.sources, strict=True
        )
    ]


def test_pairwise_iou_hand_computed():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 5]], dtype=float)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10]], dtype=float)
    iou = pairwise_iou(a, b)
    # overlap 5x10 = 50, union 150
    assert iou[0, 0] == pytest.approx(50 / 150)
    assert iou[0, 1] == 1.0
    assert iou[1].tolist() == [0.0, 0.0]  # a degenerate box overlaps nothing


def test_cloud_match_takes_cloud_label_and_current_box():
    current = objects([(1, (0, 0, 10, 10), 4, 0.7, Source.EDGE)])
    fused, next_id = fuse(current, [(1, 0, 11, 10)], [5], [0.8], Source.CLOUD)
    assert as_rows(fused) == [(1, (0.0, 0.0, 10.0, 10.0), 5, 0.72, int(Source.CLOUD))]
    assert next_id == 101


def test_edge_match_keeps_current_label_and_takes_edge_box():
    current = objects([(1, (0, 0, 10, 10), 5, 0.9, Source.CLOUD)])
    fused, _ = fuse(current, [(1, 1, 11, 11)], [4], [0.6], Source.EDGE)
    assert as_rows(fused) == [(1, (1.0, 1.0, 11.0, 11.0), 5, 0.54, int(Source.EDGE))]


def test_objects_from_the_same_source_are_replaced_not_matched():
    current = objects(
        [(1, (0, 0, 10, 10), 4, 0.9, Source.EDGE), (2, (50, 50, 60, 60), 4, 0.9, Source.EDGE)]
    )
    fused, next_id = fuse(current, [(0, 0, 10, 10)], [3], [0.6], Source.EDGE)
    # both old edge objects are removed first; the new detection is added unchanged
    assert as_rows(fused) == [(100, (0.0, 0.0, 10.0, 10.0), 3, 0.6, int(Source.EDGE))]
    assert next_id == 101


def test_iou_below_threshold_is_no_match_and_the_new_detection_is_added():
    current = objects([(1, (0, 0, 10, 10), 4, 0.7, Source.EDGE)])
    # IoU 50/150 = 0.33 < 0.5
    fused, _ = fuse(current, [(5, 0, 15, 10)], [4], [0.8], Source.CLOUD)
    assert as_rows(fused) == [
        (1, (0.0, 0.0, 10.0, 10.0), 4, 0.7, int(Source.EDGE)),
        (100, (5.0, 0.0, 15.0, 10.0), 4, 0.8, int(Source.CLOUD)),
    ]


def test_unmatched_current_objects_of_the_other_source_keep_or_drop():
    current = objects(
        [(1, (0, 0, 10, 10), 4, 0.7, Source.EDGE), (2, (50, 50, 60, 60), 1, 0.8, Source.EDGE)]
    )
    new = ([(0, 0, 10, 10)], [4], [0.9], Source.CLOUD)
    kept, _ = fuse(current, *new, policy=UnmatchedPolicy.KEEP)
    dropped, _ = fuse(current, *new, policy=UnmatchedPolicy.DROP)
    assert [row[0] for row in as_rows(kept)] == [1, 2]
    assert [row[0] for row in as_rows(dropped)] == [1]


def test_assignment_maximises_total_iou_not_greedy():
    # current A overlaps new X strongly and new Y a bit more weakly; current B overlaps only X.
    # Greedy (A-X) would leave B unmatched; the assignment pairs A-Y and B-X.
    current = objects(
        [(1, (0, 0, 10, 10), 1, 0.9, Source.EDGE), (2, (1, 0, 11, 10), 2, 0.9, Source.EDGE)]
    )
    new_boxes = [(0.5, 0, 10.5, 10), (-1.5, 0, 8.5, 10)]
    fused, _ = fuse(current, new_boxes, [7, 8], [0.8, 0.8], Source.CLOUD, decay=1.0)
    labels_by_id = {row[0]: row[2] for row in as_rows(fused)}
    assert labels_by_id == {1: 8, 2: 7}


def test_empty_inputs():
    empty = ObjectSet.empty()
    fused, next_id = fuse(empty, [], [], [], Source.EDGE)
    assert len(fused) == 0 and next_id == 100
    current = objects([(1, (0, 0, 10, 10), 4, 0.7, Source.CLOUD)])
    fused, _ = fuse(current, [], [], [], Source.EDGE)
    assert as_rows(fused) == as_rows(current)
    fused, _ = fuse(current, [], [], [], Source.EDGE, policy=UnmatchedPolicy.DROP)
    assert len(fused) == 0


def test_bad_parameters():
    with pytest.raises(ValueError, match="iou_threshold"):
        react_fuse(
            ObjectSet.empty(),
            boxes=np.zeros((0, 4)),
            labels=np.zeros(0, dtype=np.int64),
            scores=np.zeros(0),
            source=Source.EDGE,
            iou_threshold=0.0,
            decay=0.9,
            unmatched_current=UnmatchedPolicy.KEEP,
            next_id=0,
        )
