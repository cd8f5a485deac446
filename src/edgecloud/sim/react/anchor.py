"""The object list a device fused at one frame, and how it evolves until the next fusion.

After every fusion or detection the displayed objects only age: scores decay once per frame
and objects fall below the drop threshold or lose their box. An :class:`Anchor` captures that
starting point. When the tracker's motion is a closed form (the constant-velocity model, or no
tracker at all), the objects at any later frame follow from the anchor alone, so the simulator
evaluates whole runs of frames with one vectorised call instead of stepping frame by frame.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from edgecloud.detections import FrameDetections
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
        objects = self.objects
        if len(objects) == 0:
            return objects
        assert self.velocities is not None, "only closed-form anchors extrapolate"
        since = frame - self.frame
        rows, boxes, scores = _closed_form_at(
            objects.boxes, self.velocities, objects.scores, since, decay**since, drop_below
        )
        if len(rows) == len(objects):
            return ObjectSet(objects.ids, boxes, objects.labels, scores, objects.sources)
        return ObjectSet(
            objects.ids[rows], boxes, objects.labels[rows], scores, objects.sources[rows]
        )

    def extrapolate(
        self, frames: np.ndarray, *, decay: float, drop_below: float
    ) -> list[ObjectSet]:
        """The objects at each of ``frames`` (none before :attr:`frame`), from the closed form."""
        objects = self.objects
        if len(objects) == 0:
            return [objects] * len(frames)
        rows, boxes, scores, bounds = self._evaluate(frames, decay=decay, drop_below=drop_below)
        ids, labels, sources = objects.ids[rows], objects.labels[rows], objects.sources[rows]
        return [
            ObjectSet(
                ids[begin:end],
                boxes[begin:end],
                labels[begin:end],
                scores[begin:end],
                sources[begin:end],
            )
            for begin, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        ]

    def _evaluate(
        self, frames: np.ndarray | list[int], *, decay: float, drop_below: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The closed form at ``frames``, flattened: frame ``k``'s objects are rows
        ``bounds[k]:bounds[k + 1]`` of ``rows`` (indices into :attr:`objects`), ``boxes`` and
        ``scores``."""
        assert self.velocities is not None, "only closed-form anchors extrapolate"
        objects = self.objects
        since = np.asarray(frames, dtype=np.int64) - self.frame
        return _closed_form(
            objects.boxes,
            self.velocities,
            objects.scores,
            np.array([0, len(objects)]),
            np.zeros(len(since), dtype=np.int64),
            since,
            _decay_factors(decay, since),
            drop_below,
        )


def closed_form_detections(
    anchors: Sequence[Anchor], frames: Sequence[np.ndarray], *, decay: float, drop_below: float
) -> list[FrameDetections]:
    """What each closed-form anchor shows at each of its ``frames`` (in order: the first
    anchor's frames, then the second's...), as the float32 :class:`FrameDetections` that
    evaluation takes. Same arithmetic as :meth:`Anchor.extrapolate`, in one compiled call for
    all anchors: the simulator's scoring path."""
    if not anchors:
        return []
    object_counts = [len(anchor.objects) for anchor in anchors]
    frame_counts = [len(anchor_frames) for anchor_frames in frames]
    frame_anchor = np.repeat(np.arange(len(anchors)), frame_counts)
    since = np.concatenate(frames).astype(np.int64) - np.repeat(
        [anchor.frame for anchor in anchors], frame_counts
    )
    rows, boxes, scores, bounds = _closed_form(
        np.concatenate([anchor.objects.boxes for anchor in anchors]),
        np.concatenate([anchor.velocities for anchor in anchors]),
        np.concatenate([anchor.objects.scores for anchor in anchors]),
        np.concatenate([[0], np.cumsum(object_counts)]),
        frame_anchor,
        since,
        _decay_factors(decay, since),
        drop_below,
    )
    labels = np.concatenate([anchor.objects.labels for anchor in anchors])[rows]
    boxes, scores = boxes.astype(np.float32), scores.astype(np.float32)
    return [
        FrameDetections(boxes[begin:end], labels[begin:end], scores[begin:end])
        for begin, end in itertools.pairwise(bounds.tolist())
    ]


def _decay_factors(decay: float, since: np.ndarray) -> np.ndarray:
    """:func:`decay_factor` of every entry of ``since``, with its formula inlined (this runs at
    every fusion)."""
    return np.array([decay**n for n in since.tolist()], dtype=np.float64)


@njit(cache=True, inline="always")
def _aged_object(
    boxes: np.ndarray,
    velocities: np.ndarray,
    scores: np.ndarray,
    n: int,
    since: int,
    factor: float,
    drop_below: float,
) -> tuple[bool, float, float, float, float, float]:
    """Object ``n`` ``since`` frames after its fusion: whether it is still shown, its box moved
    at its velocity and its score scaled by the decay ``factor`` (fresh detections, ``since ==
    0``, entered by the detection threshold and are all shown; boxes turned inside out are
    lost)."""
    offset = float(since)
    x1 = boxes[n, 0] + velocities[n, 0] * offset
    y1 = boxes[n, 1] + velocities[n, 1] * offset
    x2 = boxes[n, 2] + velocities[n, 2] * offset
    y2 = boxes[n, 3] + velocities[n, 3] * offset
    score = scores[n] * factor
    shown = x2 > x1 and y2 > y1 and (score >= drop_below or since == 0)
    return shown, x1, y1, x2, y2, score


@njit(cache=True)
def _closed_form_at(
    boxes: np.ndarray,
    velocities: np.ndarray,
    scores: np.ndarray,
    since: int,
    factor: float,
    drop_below: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_closed_form` for one frame: the rows shown, their boxes and scores."""
    rows = np.empty(len(scores), dtype=np.int64)
    moved = np.empty((len(scores), 4), dtype=np.float64)
    aged = np.empty(len(scores), dtype=np.float64)
    count = 0
    for n in range(len(scores)):
        shown, x1, y1, x2, y2, score = _aged_object(
            boxes, velocities, scores, n, since, factor, drop_below
        )
        if shown:
            rows[count] = n
            moved[count, 0], moved[count, 1], moved[count, 2], moved[count, 3] = x1, y1, x2, y2
            aged[count] = score
            count += 1
    return rows[:count], moved[:count], aged[:count]


@njit(cache=True)
def _closed_form(
    boxes: np.ndarray,
    velocities: np.ndarray,
    scores: np.ndarray,
    object_bounds: np.ndarray,
    frame_anchor: np.ndarray,
    since: np.ndarray,
    factors: np.ndarray,
    drop_below: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each frame ``k``, the objects of anchor ``frame_anchor[k]`` (rows
    ``object_bounds[a]:object_bounds[a + 1]``) ``since[k]`` frames after their fusion, aged by
    :func:`_aged_object` with the decay ``factors[k]``; flattened as :meth:`Anchor._evaluate`
    says."""
    num_frames = len(since)
    size = 0
    for k in range(num_frames):
        anchor = frame_anchor[k]
        size += object_bounds[anchor + 1] - object_bounds[anchor]
    rows = np.empty(size, dtype=np.int64)
    moved = np.empty((size, 4), dtype=np.float64)
    aged = np.empty(size, dtype=np.float64)
    bounds = np.zeros(num_frames + 1, dtype=np.int64)
    count = 0
    for k in range(num_frames):
        anchor = frame_anchor[k]
        for n in range(object_bounds[anchor], object_bounds[anchor + 1]):
            shown, x1, y1, x2, y2, score = _aged_object(
                boxes, velocities, scores, n, since[k], factors[k], drop_below
            )
            if shown:
                rows[count] = n
                moved[count, 0], moved[count, 1], moved[count, 2], moved[count, 3] = x1, y1, x2, y2
                aged[count] = score
                count += 1
        bounds[k + 1] = count
    return rows[:count], moved[:count], aged[:count], bounds
