"""OpenCV's single-object trackers (CSRT, KCF), one instance per tracked box."""

from __future__ import annotations

from typing import ClassVar, Literal

import cv2
import numpy as np

from edgecloud.tracking.base import BoxTracker, require_image

_FACTORIES = {"csrt": cv2.TrackerCSRT.create, "kcf": cv2.TrackerKCF.create}
# CSRT fails an assertion on a box narrower or shorter than 2 px, so boxes are at least 2x2.
_MIN_SIDE = 2


class OpenCVTracker(BoxTracker):
    """Tracks each box with its own ``cv2.TrackerCSRT`` or ``cv2.TrackerKCF`` (default params).

    OpenCV trackers take integer ``x, y, w, h`` rectangles inside the image, so each box is
    rounded to whole pixels, grown to at least 2x2 and clipped inside the frame before
    initialisation (a box reaching past the border is tracked by its visible part). A step
    updates every tracker; ``found`` is each tracker's ok flag for that step, and a box whose
    tracker is not ok keeps its last known position. Frames are converted from RGB to OpenCV's BGR
    once per call. :meth:`step` returns fresh arrays.

    OpenCV quirk (still in 5.0): KCF learns its model only in the first ``update()`` after
    ``init()``, so :meth:`start` updates each KCF tracker once on the start frame.

    A box OpenCV refuses to track (CSRT raises for some thin boxes on the image border, e.g.
    18x2 px on the bottom row) is reported lost from then on instead of stopping the replay.
    """

    needs_pixels: ClassVar[bool] = True

    def __init__(self, *, algorithm: Literal["csrt", "kcf"]) -> None:
        if algorithm not in _FACTORIES:
            raise ValueError(f"algorithm must be one of {sorted(_FACTORIES)}, got {algorithm!r}")
        self.algorithm = algorithm
        self._trackers: list[cv2.Tracker | None] = []
        self._boxes = np.zeros((0, 4), dtype=np.float64)

    def start(
        self, *, frame_index: int, image: np.ndarray | None, ids: np.ndarray, boxes: np.ndarray
    ) -> None:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(ids) != len(boxes):
            raise ValueError(f"start() got {len(ids)} ids but {len(boxes)} boxes")
        self._boxes = boxes.copy()
        self._trackers = []
        if not len(boxes):
            return
        frame = cv2.cvtColor(require_image(self, image), cv2.COLOR_RGB2BGR)
        create = _FACTORIES[self.algorithm]
        for rect in pixel_rects(boxes, height=frame.shape[0], width=frame.shape[1]):
            tracker = create()
            try:
                tracker.init(frame, rect)
                if self.algorithm == "kcf":
                    # OpenCV's KCF learns nothing in init(): its first update() only trains, at
                    # the initial box, on whatever frame it is given. Training it on the start
                    # frame keeps it from reporting every later frame's box one step late.
                    tracker.update(frame)
            except cv2.error:
                tracker = None
            self._trackers.append(tracker)

    def step(self, *, frame_index: int, image: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        found = np.zeros(len(self._trackers), dtype=bool)
        if self._trackers:
            frame = cv2.cvtColor(require_image(self, image), cv2.COLOR_RGB2BGR)
            for row, tracker in enumerate(self._trackers):
                if tracker is None:
                    continue
                try:
                    ok, (x, y, w, h) = tracker.update(frame)
                except cv2.error:
                    self._trackers[row] = None
                    continue
                if ok:
                    found[row] = True
                    self._boxes[row] = (x, y, x + w, y + h)
        return self._boxes.copy(), found


def pixel_rects(boxes: np.ndarray, *, height: int, width: int) -> list[tuple[int, int, int, int]]:
    """``x1y1x2y2`` float boxes as integer ``(x, y, w, h)`` rectangles OpenCV trackers accept:
    rounded to whole pixels, at least 2x2, and inside a ``width`` x ``height`` image."""
    if height < _MIN_SIDE or width < _MIN_SIDE:
        raise ValueError(f"frame of {width}x{height} px is too small to track in")
    corners = np.rint(boxes).astype(np.int64)
    x = np.clip(corners[:, 0], 0, width - _MIN_SIDE)
    y = np.clip(corners[:, 1], 0, height - _MIN_SIDE)
    w = np.clip(corners[:, 2] - x, _MIN_SIDE, width - x)
    h = np.clip(corners[:, 3] - y, _MIN_SIDE, height - y)
    return list(zip(x.tolist(), y.tolist(), w.tolist(), h.tolist(), strict=True))
