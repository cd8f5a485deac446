"""The object list a device fused at one frame, and how it evolves until the next fusion.

After every fusion or detection the displayed objects only age: scores decay once per frame
and objects fall below the drop threshold or lose their box. An :class:`Anchor` captures that
starting point. When the tracker's motion is a closed form (the constant-velocity model, or no
tracker at all), the objects at any later frame follow from the anchor alone, so the simulator
evaluates whole runs of frames with one vectorised call instead of stepping frame by frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgecloud.fusion.objects import ObjectSet


def proper_boxes(boxes: np.ndarray) -> np.ndarray:
    """Which boxes (``(..., 4)``) still have positive width and height; a box a tracker lost or a
    motion model turned inside out counts as a lost object."""
    return (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])


def decay_factor(decay: float, frames_since: int) -> float:
    """``decay ** frames_since`` with Python's float power: the one formula every path uses, so
    lazily and eagerly evaluated frames agree to the bit."""
    return decay ** int(frames_since)


@dataclass(frozen=True, eq=False)
class Anchor:
    """``objects`` as fused at ``frame``, and their box ``velocities`` in px
    per frame when the motion is a closed form (``None`` when a pixel tracker moves them)."""

    frame: int
    objects: ObjectSet
    velocities: np.ndarray | None

    def at(self, frame: int, *, decay: float, drop_below: float) -> ObjectSet:
        """The objects at one ``frame``, with the arithmetic of :meth:`extrapolate`."""
        assert self.velocities is not None, "only closed-form anchors extrapolate"
        objects = self.objects
        since = frame - self.frame
        if len(objects) == 0:
            return objects
        boxes = objects.boxes + self.velocities * float(since)
        scores = objects.scores * decay_factor(decay, since)
        keep = proper_boxes(boxes)
        if since:
            keep &= scores >= drop_below
        if keep.all():
            return ObjectSet(objects.ids, boxes, objects.labels, scores, objects.sources)
        return ObjectSet(
            objects.ids[keep],
            boxes[keep],
            objects.labels[keep],
            scores[keep],
            objects.sources[keep],
        )

    def extrapolate(
        self, frames: np.ndarray, *, decay: float, drop_below: float
    ) -> list[ObjectSet]:
        """The objects at each of ``frames`` (none before :attr:`frame`), from the closed form."""
        assert self.velocities is not None, "only closed-form anchors extrapolate"
        objects = self.objects
        since = np.asarray(frames, dtype=np.int64) - self.frame
        if len(objects) == 0:
            return [objects] * len(since)
        offsets = since.astype(np.float64)
        boxes = objects.boxes[None] + self.velocities[None] * offsets[:, None, None]
        factors = np.array([decay_factor(decay, n) for n in since], dtype=np.float64)
        scores = objects.scores[None] * factors[:, None]
        # fresh detections enter by the detection threshold; only aged objects are dropped
        keep = ((scores >= drop_below) | (since == 0)[:, None]) & proper_boxes(boxes)
        evaluated = []
        for row in range(len(since)):
            kept = keep[row]
            if kept.all():
                evaluated.append(
                    ObjectSet(objects.ids, boxes[row], objects.labels, scores[row], objects.sources)
                )
            else:
                evaluated.append(
                    ObjectSet(
                        objects.ids[kept],
                        boxes[row][kept],
                        objects.labels[kept],
                        scores[row][kept],
                        objects.sources[kept],
                    )
                )
        return evaluated
