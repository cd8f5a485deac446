"""ConstantVelocityTracker against hand-computed boxes."""

from __future__ import annotations

import numpy as np
import pytest

from edgecloud.tracking import ConstantVelocityTracker


def box(x1: float, y1: float, x2: float, y2: float) -> list[float]:
    return [x1, y1, x2, y2]


def start(tracker: ConstantVelocityTracker, frame: int, ids: list[int], boxes: list) -> None:
    tracker.start(
        frame_index=frame,
        image=None,
        ids=np.array(ids, dtype=np.int64),
        boxes=np.array(boxes, dtype=np.float64).reshape(-1, 4),
    )


def test_velocity_from_two_starts_extrapolates_over_gaps() -> None:
    tracker = ConstantVelocityTracker()
    start(tracker, 0, [5], [box(10, 20, 30, 40)])
    start(tracker, 2, [5], [box(14, 22, 36, 40)])  # v = (2, 1, 3, 0) per frame
    for frame in (4, 6, 9):  # stride 2, then a gap of 3
        boxes, found = tracker.step(frame_index=frame, image=None)
        elapsed = frame - 2
        expected = [14 + 2 * elapsed, 22 + elapsed, 36 + 3 * elapsed, 40]
        np.testing.assert_allclose(boxes, [expected])
        assert found.tolist() == [True]


def test_new_ids_start_still_and_ids_are_matched_not_positional() -> None:
    tracker = ConstantVelocityTracker()
    start(tracker, 0, [3, 9], [box(0, 0, 10, 10), box(100, 100, 110, 110)])
    start(tracker, 5, [9, 42, 3], [box(105, 100, 115, 110), box(50, 50, 60, 60), box(0, 5, 10, 15)])
    boxes, found = tracker.step(frame_index=7, image=None)
    np.testing.assert_allclose(
        boxes, [box(107, 100, 117, 110), box(50, 50, 60, 60), box(0, 7, 10, 17)]
    )
    assert found.tolist() == [True, True, True]


def test_ids_absent_from_a_start_are_forgotten() -> None:
    tracker = ConstantVelocityTracker()
    start(tracker, 0, [1, 2], [box(0, 0, 10, 10), box(50, 0, 60, 10)])
    start(tracker, 1, [1], [box(1, 0, 11, 10)])
    start(tracker, 2, [1, 2], [box(2, 0, 12, 10), box(80, 0, 90, 10)])
    boxes, _ = tracker.step(frame_index=4, image=None)
    # id 2 is new again: no velocity from its frame-0 box.
    np.testing.assert_allclose(boxes, [box(4, 0, 14, 10), box(80, 0, 90, 10)])


def test_velocity_smoothing_blends_with_the_previous_estimate() -> None:
    tracker = ConstantVelocityTracker(velocity_smoothing=0.25)
    start(tracker, 0, [7], [box(0, 0, 10, 10)])
    start(tracker, 2, [7], [box(4, 0, 14, 10)])  # first measurement, taken as is: 2 px/frame
    np.testing.assert_allclose(tracker.step(frame_index=3, image=None)[0], [box(6, 0, 16, 10)])
    start(tracker, 4, [7], [box(16, 0, 26, 10)])  # measured 6 px/frame: 0.25 * 2 + 0.75 * 6 = 5
    np.testing.assert_allclose(tracker.step(frame_index=6, image=None)[0], [box(26, 0, 36, 10)])


def test_restart_at_the_same_frame_keeps_velocities() -> None:
    tracker = ConstantVelocityTracker()
    start(tracker, 0, [1], [box(0, 0, 10, 10)])
    start(tracker, 2, [1], [box(2, 0, 12, 10)])
    start(tracker, 2, [1, 4], [box(3, 0, 13, 10), box(20, 20, 30, 30)])
    boxes, _ = tracker.step(frame_index=3, image=None)
    np.testing.assert_allclose(boxes, [box(4, 0, 14, 10), box(20, 20, 30, 30)])


def test_results_cannot_corrupt_the_tracker() -> None:
    tracker = ConstantVelocityTracker()
    given = np.array([box(0, 0, 10, 10)])
    tracker.start(frame_index=0, image=None, ids=np.array([1]), boxes=given)
    given[:] = -1.0
    boxes, found = tracker.step(frame_index=1, image=None)
    boxes[:] = 99.0
    with pytest.raises(ValueError, match="read-only"):
        found[0] = False
    np.testing.assert_allclose(tracker.step(frame_index=2, image=None)[0], [box(0, 0, 10, 10)])


def test_empty_starts() -> None:
    tracker = ConstantVelocityTracker()
    start(tracker, 0, [], [])
    boxes, found = tracker.step(frame_index=2, image=None)
    assert boxes.shape == (0, 4) and found.shape == (0,)
    start(tracker, 4, [1], [box(0, 0, 10, 10)])
    start(tracker, 6, [], [])
    start(tracker, 8, [1], [box(8, 0, 18, 10)])  # forgotten at frame 6: no velocity
    np.testing.assert_allclose(tracker.step(frame_index=10, image=None)[0], [box(8, 0, 18, 10)])


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="velocity_smoothing"):
        ConstantVelocityTracker(velocity_smoothing=1.0)
    with pytest.raises(ValueError, match="ids"):
        start(ConstantVelocityTracker(), 0, [1, 2], [box(0, 0, 1, 1)])
