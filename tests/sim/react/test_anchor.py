"""The closed-form anchor: one frame at a time and many at once give the same bits."""

from __future__ import annotations

import numpy as np
import pytest

from edgecloud.fusion import ObjectSet, Source
from edgecloud.sim.react.anchor import Anchor, closed_form_detections


def random_anchor(seed: int) -> Anchor:
    rng = np.random.default_rng(seed)
    n = 12
    corner = rng.uniform(0, 300, (n, 2))
    boxes = np.hstack([corner, corner + rng.uniform(2, 40, (n, 2))])
    objects = ObjectSet.from_detections(
        boxes=boxes,
        labels=rng.integers(1, 5, n),
        scores=rng.uniform(0.3, 1.0, n),
        source=Source.EDGE,
        first_id=0,
    )
    # some boxes shrink until they turn inside out
    return Anchor(frame=7, objects=objects, velocities=rng.normal(0, 1.5, (n, 4)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_frame_and_many_frames_agree_to_the_bit(seed):
    anchor = random_anchor(seed)
    frames = np.arange(7, 60)
    many = anchor.extrapolate(frames, decay=0.97, drop_below=0.5)
    for frame, expected in zip(frames, many, strict=True):
        one = anchor.at(int(frame), decay=0.97, drop_below=0.5)
        for field in ("ids", "boxes", "labels", "scores", "sources"):
            np.testing.assert_array_equal(getattr(one, field), getattr(expected, field))


def test_ageing_drops_low_scores_and_inverted_boxes_but_not_fresh_objects():
    objects = ObjectSet.from_detections(
        boxes=np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]]),
        labels=np.array([1, 1]),
        scores=np.array([0.45, 0.9]),
        source=Source.CLOUD,
        first_id=3,
    )
    velocities = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, -4.0, 0.0]])
    anchor = Anchor(frame=10, objects=objects, velocities=velocities)
    # fresh: both shown, even the one below the drop threshold
    assert anchor.at(10, decay=0.9, drop_below=0.5).ids.tolist() == [3, 4]
    # one frame later: 0.45 * 0.9 is dropped; the second box is 6 px wide
    assert anchor.at(11, decay=0.9, drop_below=0.5).ids.tolist() == [4]
    # three frames later the second box has width 10 - 12 < 0
    assert anchor.at(13, decay=0.9, drop_below=0.5).ids.tolist() == []


def test_many_anchors_at_once_show_what_each_extrapolates():
    anchors = [random_anchor(seed) for seed in range(3)]
    anchors.append(Anchor(frame=3, objects=ObjectSet.empty(), velocities=np.zeros((0, 4))))
    frames = [np.arange(7, 30), np.array([7, 9, 40]), np.array([], dtype=np.int64), np.arange(3, 6)]
    shown = closed_form_detections(anchors, frames, decay=0.97, drop_below=0.5)
    expected = [
        objects
        for anchor, anchor_frames in zip(anchors, frames, strict=True)
        for objects in anchor.extrapolate(anchor_frames, decay=0.97, drop_below=0.5)
    ]
    assert len(shown) == len(expected) == 23 + 3 + 0 + 3
    for detections, objects in zip(shown, expected, strict=True):
        np.testing.assert_array_equal(detections.boxes, objects.boxes.astype(np.float32))
        np.testing.assert_array_equal(detections.labels, objects.labels)
        np.testing.assert_array_equal(detections.scores, objects.scores.astype(np.float32))
