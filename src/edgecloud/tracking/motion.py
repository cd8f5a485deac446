"""A pixel-free tracker: every box keeps moving at the velocity its detections showed.

The velocity of an object is measured from the boxes it had at two successive
:meth:`~ConstantVelocityTracker.start` calls (each start is a new detection or fusion result),
so the tracker needs no frames and costs two numpy operations per step: the simulator replays
tens of thousands of frames per second with it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

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
        # The objects of the newest start, in start() order, and the order that sorts their ids
        # (for the next start's look-up).
        self._ids = np.zeros(0, dtype=np.int64)
        self._id_order = np.zeros(0, dtype=np.int64)
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
        if len(self._ids) and len(ids):
            rank = np.searchsorted(self._ids, ids, sorter=self._id_order)
            np.minimum(rank, len(self._ids) - 1, out=rank)
            where = self._id_order[rank]
            known = self._ids[where] == ids
            # Rows of new ids gather an arbitrary known object; masking with ``known`` zeroes them.
            elapsed = frame_index - self._frame
            if elapsed > 0:
                velocity = (boxes - self._boxes[where]) / elapsed
                smoothing = self.velocity_smoothing
                if smoothing:
                    smoothed = smoothing * self._velocity[where] + (1.0 - smoothing) * velocity
                    velocity = np.where(self._measured[where, None], smoothed, velocity)
                measured = known
            else:
                velocity = self._velocity[where]
                measured = self._measured[where] & known
            velocity *= known[:, None]
        else:
            velocity = np.zeros_like(boxes)
            measured = np.zeros(len(ids), dtype=bool)
        self._frame = frame_index
        self._ids, self._id_order = ids, np.argsort(ids)
        self._boxes, self._velocity, self._measured = boxes, velocity, measured
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
