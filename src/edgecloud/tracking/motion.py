"""A pixel-free tracker: every box keeps moving at the velocity its detections showed.

The velocity of an object is measured from the boxes it had at two successive
:meth:`~ConstantVelocityTracker.start` calls (each start is a new detection or fusion result),
so the tracker needs no frames and costs two numpy operations per step: the simulator replays
tens of thousands of frames per second with it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numba import njit

from edgecloud.tracking.base import BoxTracker


class ConstantVelocityTracker(BoxTracker):
    """Moves each box linearly: ``box(t) = box(start) + v * (t - start)`` per coordinate.

    ``v`` of an object is ``(box - last_box) / (frame - last_frame)`` when its id was also in the
    previous :meth:`start` call, exponentially smoothed with its previous estimate
    (``v = s * v_prev + (1 - s) * v_measured`` with ``s = velocity_smoothing``) once it has one.
    A new id starts at zero velocity, and ids absent from a start are forgotten, so an id reused
    later begins afresh. A start at the same frame as the previous one measures nothing and keeps
    each known object's velocity. Because all four coordinates move independently, a box that
    grew between detections keeps growing (approaching objects).

    :meth:`step` returns a fresh ``boxes`` array the caller may keep or modify, and a shared
    read-only ``found`` array (always all True: this tracker never loses an object).
    """

    needs_pixels: ClassVar[bool] = False

    def __init__(self, *, velocity_smoothing: float = 0.0) -> None:
        if not 0.0 <= velocity_smoothing < 1.0:
            raise ValueError(f"velocity_smoothing must be in [0, 1), got {velocity_smoothing!r}")
        self.velocity_smoothing = velocity_smoothing
        self._frame = 0
        # the objects of the newest start, in start() order
        self._ids = np.zeros(0, dtype=np.int64)
        self._boxes = np.zeros((0, 4), dtype=np.float64)
        self._velocity = np.zeros((0, 4), dtype=np.float64)
        self._measured = np.zeros(0, dtype=bool)
        self._found = _all_found(0)

    def start(
        self, *, frame_index: int, image: np.ndarray | None, ids: np.ndarray, boxes: np.ndarray
    ) -> None:
        ids = np.array(ids, dtype=np.int64)
        boxes = np.array(boxes, dtype=np.float64, copy=True).reshape(-1, 4)
        if len(ids) != len(boxes):
            raise ValueError(f"start() got {len(ids)} ids but {len(boxes)} boxes")
        self._velocity, self._measured = _measure_velocities(
            self._ids,
            self._boxes,
            self._velocity,
            self._measured,
            frame_index - self._frame,
            self.velocity_smoothing,
            ids,
            boxes,
        )
        self._frame = frame_index
        self._ids, self._boxes = ids, boxes
        if len(self._found) != len(ids):
            self._found = _all_found(len(ids))

    def step(self, *, frame_index: int, image: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        return self._boxes + self._velocity * (frame_index - self._frame), self._found

    def velocities(self) -> np.ndarray:
        velocity = self._velocity.view()
        velocity.flags.writeable = False
        return velocity


def _all_found(count: int) -> np.ndarray:
    """A read-only all-True ``found`` array, shared by every step of one start."""
    found = np.ones(count, dtype=bool)
    found.flags.writeable = False
    return found


@njit(cache=True)
def _measure_velocities(
    previous_ids: np.ndarray,
    previous_boxes: np.ndarray,
    previous_velocity: np.ndarray,
    previous_measured: np.ndarray,
    elapsed: int,
    smoothing: float,
    ids: np.ndarray,
    boxes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each new object's velocity and whether it was measured (see the class docstring): ids
    seen at the previous start are looked up by binary search; new ids start at rest."""
    velocity = np.zeros((len(ids), 4), dtype=np.float64)
    measured = np.zeros(len(ids), dtype=np.bool_)
    order = np.argsort(previous_ids)
    sorted_ids = previous_ids[order]
    for row in range(len(ids)):
        rank = np.searchsorted(sorted_ids, ids[row])
        if rank == len(sorted_ids) or sorted_ids[rank] != ids[row]:
            continue
        known = order[rank]
        if elapsed <= 0:
            velocity[row] = previous_velocity[known]
            measured[row] = previous_measured[known]
            continue
        for coordinate in range(4):
            change = (boxes[row, coordinate] - previous_boxes[known, coordinate]) / elapsed
            if smoothing and previous_measured[known]:
                change = (
                    smoothing * previous_velocity[known, coordinate] + (1.0 - smoothing) * change
                )
            velocity[row, coordinate] = change
        measured[row] = True
    return velocity, measured
