"""OpenCVTracker (CSRT, KCF) on a synthetic moving rectangle, and its box-to-rect geometry."""

from __future__ import annotations

import numpy as np
import pytest

from edgecloud.tracking import OpenCVTracker
from edgecloud.tracking.opencv import pixel_rects
from tests.tracking.scenes import MovingObject, iou, render

MOVING = MovingObject((60, 50, 100, 80), (3, 1))  # 40 x 30


@pytest.mark.parametrize("algorithm", ["csrt", "kcf"])
@pytest.mark.parametrize("stride", [1, 2])
def test_follows_a_moving_textured_rectangle(algorithm: str, stride: int) -> None:
    frames, truth = render([MOVING], num_frames=1 + 5 * stride)
    tracker = OpenCVTracker(algorithm=algorithm)
    tracker.start(frame_index=0, image=frames[0], ids=np.array([0]), boxes=truth[0])
    for frame in range(stride, len(frames), stride):
        boxes, found = tracker.step(frame_index=frame, image=frames[frame])
        assert found.tolist() == [True]
        assert iou(boxes, truth[frame])[0] > 0.7
        np.testing.assert_allclose(boxes, truth[frame], atol=4.0)


def test_kcf_reports_the_current_frame_not_the_previous_one() -> None:
    """OpenCV's KCF learns only in its first update(); unprimed, it lags one frame behind."""
    frames, truth = render([MOVING], num_frames=4)
    tracker = OpenCVTracker(algorithm="kcf")
    tracker.start(frame_index=0, image=frames[0], ids=np.array([0]), boxes=truth[0])
    for frame in range(1, len(frames)):
        np.testing.assert_allclose(
            tracker.step(frame_index=frame, image=frames[frame])[0], truth[frame], atol=1.0
        )


def test_lost_object_keeps_its_last_box() -> None:
    """CSRT's ok flag drops when its object turns into a flat region."""
    frames, truth = render([MOVING], num_frames=2)
    blanked = frames[1].copy()
    blanked[20:120, 20:140] = 128
    tracker = OpenCVTracker(algorithm="csrt")
    tracker.start(frame_index=0, image=frames[0], ids=np.array([0]), boxes=truth[0])
    boxes, found = tracker.step(frame_index=1, image=blanked)
    assert found.tolist() == [False]
    np.testing.assert_allclose(boxes, truth[0])


def test_pixel_rects_round_grow_and_clip_inside_the_image() -> None:
    boxes = np.array(
        [
            [10.4, 20.6, 30.5, 40.2],  # rounded
            [50.2, 50.2, 50.4, 50.9],  # under a pixel: grown to 2 x 2
            [-15.0, -5.0, 20.0, 10.0],  # reaching past the top-left corner
            [90.0, 70.0, 130.0, 95.0],  # reaching past the bottom-right corner
            [200.0, 200.0, 220.0, 220.0],  # entirely outside
        ]
    )
    assert pixel_rects(boxes, height=80, width=100) == [
        (10, 21, 20, 19),
        (50, 50, 2, 2),
        (0, 0, 20, 10),
        (90, 70, 10, 10),
        (98, 78, 2, 2),
    ]


def test_rejects_unknown_algorithm() -> None:
    with pytest.raises(ValueError, match="algorithm"):
        OpenCVTracker(algorithm="mosse")  # type: ignore[arg-type]


def test_a_box_opencv_refuses_is_lost_instead_of_crashing():
    """CSRT raises in init() for a thin box on the bottom border (seen on the drone world)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    tracker = OpenCVTracker(algorithm="csrt")
    boxes = np.array([[247.0, 358.0, 265.0, 360.0], [100.0, 100.0, 140.0, 140.0]])
    tracker.start(frame_index=0, image=image, ids=np.array([0, 1]), boxes=boxes)
    _, found = tracker.step(frame_index=1, image=image)
    assert found.tolist() == [False, True]
