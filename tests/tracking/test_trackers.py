"""The BoxTracker contract, shared by every tracker: shapes, dtypes, empty sets, restarts."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from edgecloud.tracking import (
    BoxTracker,
    ConstantVelocityTracker,
    LucasKanadeTracker,
    OpenCVTracker,
)
from tests.tracking.scenes import MovingObject, render

FACTORIES: dict[str, Callable[[], BoxTracker]] = {
    "constant_velocity": ConstantVelocityTracker,
    "lucas_kanade": LucasKanadeTracker,
    "csrt": lambda: OpenCVTracker(algorithm="csrt"),
    "kcf": lambda: OpenCVTracker(algorithm="kcf"),
}
OBJECTS = [MovingObject((20, 30, 68, 70), (3, 1)), MovingObject((150, 100, 170, 116), (-1, 2))]


@pytest.fixture(scope="module")
def video() -> tuple[list[np.ndarray], np.ndarray]:
    return render(OBJECTS, num_frames=9)


def pixels(tracker: BoxTracker, image: np.ndarray) -> np.ndarray | None:
    return image if tracker.needs_pixels else None


def assert_result(result: tuple[np.ndarray, np.ndarray], count: int) -> None:
    boxes, found = result
    assert boxes.shape == (count, 4) and boxes.dtype == np.float64
    assert found.shape == (count,) and found.dtype == bool


@pytest.mark.parametrize("name", FACTORIES)
def test_shapes_empty_sets_and_restarts(name: str, video) -> None:
    frames, truth = video
    tracker = FACTORIES[name]()
    assert isinstance(tracker, BoxTracker)
    tracker.start(
        frame_index=0,
        image=pixels(tracker, frames[0]),
        ids=np.zeros(0, dtype=np.int64),
        boxes=np.zeros((0, 4)),
    )
    assert_result(tracker.step(frame_index=2, image=pixels(tracker, frames[2])), 0)
    tracker.start(frame_index=2, image=pixels(tracker, frames[2]), ids=np.arange(2), boxes=truth[2])
    for frame in (4, 6):  # stride 2
        result = tracker.step(frame_index=frame, image=pixels(tracker, frames[frame]))
        assert_result(result, 2)
    tracker.start(  # the restart replaces the tracked set
        frame_index=6, image=pixels(tracker, frames[6]), ids=np.array([1]), boxes=truth[6, 1:]
    )
    assert_result(tracker.step(frame_index=8, image=pixels(tracker, frames[8])), 1)


@pytest.mark.parametrize("name", ["lucas_kanade", "csrt", "kcf"])
def test_pixel_trackers_demand_pixels(name: str, video) -> None:
    frames, truth = video
    tracker = FACTORIES[name]()
    assert tracker.needs_pixels
    tracker.start(frame_index=0, image=frames[0], ids=np.arange(2), boxes=truth[0])
    with pytest.raises(ValueError, match="needs the frame"):
        tracker.step(frame_index=1, image=None)
