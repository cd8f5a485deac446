"""Sparse Lucas-Kanade box tracking (median flow): points sampled inside each box are followed
with pyramidal LK, checked forward-backward, and the box moves by their median displacement and
scales by the median change of their pairwise distances."""

from __future__ import annotations

import math
from typing import ClassVar

import cv2
import numpy as np

from edgecloud.tracking.base import BoxTracker, require_image

# Points are sampled in the central part of each box's visible area, _SAMPLE_MARGIN of its width
# and height in from every side: near a box's border the LK window sees mostly background, which
# pulls small boxes towards the background's motion (with a 9 px window, this margin and
# _MIN_PAIR_DISTANCE cut the drift of synthetic 8 px objects over 9 frames from 12.6 px to
# 2.5 px, of 12 px objects from 7 px to 0.3 px). Inside that region: Shi-Tomasi corners relative
# to the region's strongest one, at least _FEATURE_MIN_DISTANCE px apart; regions narrower than
# _MIN_FEATURE_SIDE px, or where fewer than min_points corners are found, are sampled on a
# regular grid instead (small and textureless objects; many detections are under 16 px).
_SAMPLE_MARGIN = 0.25
_FEATURE_QUALITY = 0.01
_FEATURE_MIN_DISTANCE = 2.0
_FEATURE_BLOCK_SIZE = 3
_MIN_FEATURE_SIDE = 10
# LK stops after 30 iterations or when the update falls below 0.01 px.
_LK_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
# Point pairs closer than this (px) are too noisy to measure a scale change from: with closer
# pairs allowed, tiny boxes' scale random-walked by up to 2x over 9 frames of pure translation.
_MIN_PAIR_DISTANCE = 8.0


class LucasKanadeTracker(BoxTracker):
    """Median-flow tracking of every box with one forward and one backward LK call per step.

    At each step, up to ``max_points_per_box`` points are sampled in the central part of each box
    on the previous frame and followed to the new frame with pyramidal LK (``window`` x
    ``window`` px window, ``levels`` pyramid levels above the full resolution), then back again.
    A point survives when both directions converge and it returns within ``fb_error_threshold``
    px of where it started. A box with fewer than ``min_points`` survivors is lost
    (``found=False`` from then on, keeping its last box); the others move by their points' median
    displacement and scale about their centre by the median ratio of the points' pairwise
    distances (1 when no two points are ``_MIN_PAIR_DISTANCE`` apart, as in boxes under about
    20 px).

    The default 9 px window suits the many small objects of drone and dashcam footage: a 15 px
    window drifted 3-4x further on synthetic 8-16 px objects, while 48 px objects track exactly
    with either.

    The previous frame is kept internally as grayscale; :meth:`step` returns fresh arrays.
    """

    needs_pixels: ClassVar[bool] = True

    def __init__(
        self,
        *,
        max_points_per_box: int = 25,
        min_points: int = 3,
        window: int = 9,
        levels: int = 3,
        fb_error_threshold: float = 1.0,
    ) -> None:
        if not 1 <= min_points <= max_points_per_box:
            raise ValueError(
                f"need 1 <= min_points <= max_points_per_box, got {min_points} and "
                f"{max_points_per_box}"
            )
        if window < 3 or levels < 0 or not fb_error_threshold > 0.0:
            raise ValueError(
                f"need window >= 3, levels >= 0, fb_error_threshold > 0, got {window}, {levels}, "
                f"{fb_error_threshold}"
            )
        self.max_points_per_box = max_points_per_box
        self.min_points = min_points
        self.window = window
        self.levels = levels
        self.fb_error_threshold = fb_error_threshold
        # Grid fallback: the centres of a side x side grid over the sampling region, as fractions.
        side = math.isqrt(max_points_per_box)
        steps = (np.arange(side) + 0.5) / side
        self._grid = np.stack(np.meshgrid(steps, steps), axis=-1).reshape(-1, 2)
        self._pairs = np.triu_indices(max_points_per_box, k=1)
        self._gray: np.ndarray | None = None
        self._boxes = np.zeros((0, 4), dtype=np.float64)
        self._found = np.zeros(0, dtype=bool)

    def start(
        self, *, frame_index: int, image: np.ndarray | None, ids: np.ndarray, boxes: np.ndarray
    ) -> None:
        boxes = np.array(boxes, dtype=np.float64, copy=True).reshape(-1, 4)
        if len(ids) != len(boxes):
            raise ValueError(f"start() got {len(ids)} ids but {len(boxes)} boxes")
        self._gray = cv2.cvtColor(require_image(self, image), cv2.COLOR_RGB2GRAY)
        self._boxes = boxes
        self._found = np.ones(len(boxes), dtype=bool)

    def step(self, *, frame_index: int, image: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        gray = cv2.cvtColor(require_image(self, image), cv2.COLOR_RGB2GRAY)
        previous, self._gray = self._gray, gray
        rows = np.flatnonzero(self._found)
        if len(rows):
            assert previous is not None, "step() before start()"
            self._track(previous, gray, rows)
        return self._boxes.copy(), self._found.copy()

    def _track(self, previous: np.ndarray, gray: np.ndarray, rows: np.ndarray) -> None:
        """Move the boxes ``rows`` from ``previous`` to ``gray``; mark those that fail lost."""
        starts = self._sample(previous, self._boxes[rows])  # (R, P, 2), NaN where no point
        sampled = ~np.isnan(starts[..., 0])
        points = starts[sampled].astype(np.float32).reshape(-1, 1, 2)
        good = np.zeros_like(sampled)
        ends = np.full_like(starts, np.nan)
        if len(points):
            lk = {
                "winSize": (self.window, self.window),
                "maxLevel": self.levels,
                "criteria": _LK_CRITERIA,
            }
            forward, status, _ = cv2.calcOpticalFlowPyrLK(previous, gray, points, None, **lk)
            back, back_status, _ = cv2.calcOpticalFlowPyrLK(gray, previous, forward, None, **lk)
            fb_error = np.linalg.norm((back - points).reshape(-1, 2), axis=1)
            good[sampled] = (
                (status.ravel() == 1)
                & (back_status.ravel() == 1)
                & (fb_error < self.fb_error_threshold)
            )
            ends[sampled] = forward.reshape(-1, 2)
        counts = good.sum(axis=1)
        tracked = counts >= self.min_points
        self._found[rows[~tracked]] = False
        if not tracked.any():
            return
        rows, starts, ends = rows[tracked], starts[tracked], ends[tracked]
        good, counts = good[tracked], counts[tracked]
        starts[~good] = np.nan
        ends[~good] = np.nan
        shift = np.stack(
            [_row_medians(ends[..., axis] - starts[..., axis], counts) for axis in (0, 1)], axis=1
        )
        scale = _scale_changes(starts, ends, self._pairs)
        boxes = self._boxes[rows]
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2 + shift
        half = (boxes[:, 2:] - boxes[:, :2]) / 2 * scale[:, None]
        self._boxes[rows] = np.concatenate([centre - half, centre + half], axis=1)

    def _sample(self, gray: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Up to ``max_points_per_box`` points in the central part of each box's visible area as
        ``(N, max_points_per_box, 2)`` x, y; unused slots and boxes off the image are NaN."""
        height, width = gray.shape
        visible = np.clip(boxes, 0.0, [width, height, width, height])
        inset = (visible[:, 2:] - visible[:, :2]) * _SAMPLE_MARGIN
        origin, size = visible[:, :2] + inset, visible[:, 2:] - visible[:, :2] - 2 * inset
        points = np.full((len(boxes), self.max_points_per_box, 2), np.nan)
        points[:, : len(self._grid)] = origin[:, None] + self._grid * size[:, None]
        points[(size < 0.5).any(axis=1)] = np.nan  # under 1 px wide or high where visible
        for row in np.flatnonzero((size >= _MIN_FEATURE_SIDE).all(axis=1)):
            origin_px = origin[row].astype(int)
            (left, top), (right, bottom) = origin_px, np.ceil(origin[row] + size[row]).astype(int)
            corners = cv2.goodFeaturesToTrack(
                gray[top:bottom, left:right],
                maxCorners=self.max_points_per_box,
                qualityLevel=_FEATURE_QUALITY,
                minDistance=_FEATURE_MIN_DISTANCE,
                blockSize=_FEATURE_BLOCK_SIZE,
            )
            if corners is not None and len(corners) >= self.min_points:
                points[row] = np.nan
                points[row, : len(corners)] = corners.reshape(-1, 2) + origin_px
        return points


def _row_medians(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median of each row's non-NaN entries (``counts`` of them, at least one per row)."""
    ordered = np.sort(values, axis=1)  # NaN sorts last
    rows = np.arange(len(values))
    return (ordered[rows, (counts - 1) // 2] + ordered[rows, counts // 2]) / 2


def _scale_changes(
    starts: np.ndarray, ends: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Median ratio of pairwise point distances after/before per row over the point ``pairs``
    (``triu_indices`` of the point slots); 1 for rows without usable pairs."""
    first, second = pairs
    before = np.hypot(*np.moveaxis(starts[:, first] - starts[:, second], 2, 0))
    after = np.hypot(*np.moveaxis(ends[:, first] - ends[:, second], 2, 0))
    usable = before >= _MIN_PAIR_DISTANCE  # False for NaN (a missing point)
    ratios = np.where(usable, after / np.where(usable, before, 1.0), np.nan)
    counts = usable.sum(axis=1)
    scale = np.ones(len(starts))
    measured = counts > 0
    scale[measured] = _row_medians(ratios[measured], counts[measured])
    return scale
