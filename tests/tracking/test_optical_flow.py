"""LucasKanadeTracker on synthetic videos with known motion."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgecloud.tracking import LucasKanadeTracker
from tests.tracking.scenes import HEIGHT, WIDTH, MovingObject, paste, render, texture

OBJECTS = [
    MovingObject((20, 30, 68, 70), (3, 1)),  # 48 x 40
    MovingObject((120, 40, 144, 64), (-2, 2)),  # 24 x 24
    MovingObject((200, 120, 216, 136), (1, -2)),  # 16 x 16
    MovingObject((250, 40, 262, 52), (2, 0)),  # 12 x 12
]


@pytest.mark.parametrize("stride", [1, 2])
def test_recovers_known_translations(stride: int) -> None:
    frames, truth = render(OBJECTS, num_frames=9)
    tracker = LucasKanadeTracker()
    tracker.start(frame_index=0, image=frames[0], ids=np.arange(len(OBJECTS)), boxes=truth[0])
    for frame in range(stride, len(frames), stride):
        boxes, found = tracker.step(frame_index=frame, image=frames[frame])
        assert found.all()
        np.testing.assert_allclose(boxes, truth[frame], atol=1.0)


def test_measures_scale_change() -> None:
    """A 64 px object growing 5 % per frame about a fixed centre."""
    rng = np.random.default_rng(1)
    background, patch = texture(rng, HEIGHT, WIDTH), texture(rng, 64, 64)
    frames, truth = [], []
    for frame in range(6):
        side = round(64 * 1.05**frame)
        x, y = WIDTH // 2 - side // 2, HEIGHT // 2 - side // 2
        image = background.copy()
        paste(image, cv2.resize(patch, (side, side), interpolation=cv2.INTER_LINEAR), x=x, y=y)
        frames.append(image)
        truth.append([x, y, x + side, y + side])
    tracker = LucasKanadeTracker()
    tracker.start(frame_index=0, image=frames[0], ids=np.array([0]), boxes=np.array(truth[:1]))
    for frame in range(1, len(frames)):
        boxes, found = tracker.step(frame_index=frame, image=frames[frame])
        assert found.all()
        np.testing.assert_allclose(boxes, [truth[frame]], atol=1.0)


def test_object_whose_content_vanishes_is_lost_for_good() -> None:
    frames, truth = render(OBJECTS[:2], num_frames=3)
    blanked = frames[1].copy()
    blanked[0:110, 0:100] = 128  # the first object and a wide margin around it turn flat grey
    tracker = LucasKanadeTracker()
    tracker.start(frame_index=0, image=frames[0], ids=np.arange(2), boxes=truth[0])
    boxes, found = tracker.step(frame_index=1, image=blanked)
    assert found.tolist() == [False, True]
    np.testing.assert_allclose(boxes[0], truth[0, 0])  # a lost object keeps its last box
    np.testing.assert_allclose(boxes[1], truth[1, 1], atol=1.0)
    boxes, found = tracker.step(frame_index=2, image=frames[2])
    assert found.tolist() == [False, True]
    np.testing.assert_allclose(boxes[0], truth[0, 0])


def test_object_leaving_the_frame_is_lost() -> None:
    leaving = MovingObject((276, 60, 316, 100), (45, 0))  # entirely outside from frame 1
    frames, truth = render([leaving, OBJECTS[0]], num_frames=2)
    tracker = LucasKanadeTracker()
    tracker.start(frame_index=0, image=frames[0], ids=np.arange(2), boxes=truth[0])
    assert tracker.step(frame_index=1, image=frames[1])[1].tolist() == [False, True]


def test_box_outside_the_image_is_lost() -> None:
    frames, truth = render(OBJECTS[:1], num_frames=2)
    boxes = np.concatenate([truth[0], [[WIDTH + 5, 10, WIDTH + 30, 40]]])
    tracker = LucasKanadeTracker()
    tracker.start(frame_index=0, image=frames[0], ids=np.arange(2), boxes=boxes)
    assert tracker.step(frame_index=1, image=frames[1])[1].tolist() == [True, False]


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="min_points"):
        LucasKanadeTracker(max_points_per_box=4, min_points=5)
    with pytest.raises(ValueError, match="needs the frame"):
        LucasKanadeTracker().start(
            frame_index=0, image=None, ids=np.zeros(0, np.int64), boxes=np.zeros((0, 4))
        )
