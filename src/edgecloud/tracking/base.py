"""The interface every box tracker of the simulator implements.

Between two detections the simulator moves the displayed objects to each new frame with a
tracker: :meth:`BoxTracker.start` hands it the objects of one frame, :meth:`BoxTracker.step`
moves them to a later frame. Trackers that look at pixels say so with ``needs_pixels``, so the
simulator decodes frames only for them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np


class BoxTracker(ABC):
    """Propagates a set of axis-aligned boxes from frame to frame.

    Boxes are float64 ``(N, 4)`` arrays of ``x1, y1, x2, y2`` in pixels of the full frame; images
    are ``(H, W, 3)`` uint8 RGB frames as a :class:`~edgecloud.data.frames.FrameSource` returns
    them, or ``None`` for trackers with ``needs_pixels = False``.
    """

    needs_pixels: ClassVar[bool]

    @abstractmethod
    def start(
        self, *, frame_index: int, image: np.ndarray | None, ids: np.ndarray, boxes: np.ndarray
    ) -> None:
        """(Re)start from this frame with exactly these objects (ids int64 ``(N,)``, unique;
        boxes float64 ``(N, 4)`` x1y1x2y2 pixels), replacing the tracked set."""

    @abstractmethod
    def step(self, *, frame_index: int, image: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Advance to a later frame (``frame_index`` greater than the previous one; gaps are
        allowed, e.g. stride 2) and return ``(boxes float64 (N, 4), found bool (N,))`` in
        :meth:`start`'s order. A lost object has ``found=False`` and its last known box."""

    def velocities(self) -> np.ndarray | None:
        """Per-object box velocity ``(N, 4)`` in pixels per frame, in :meth:`start`'s order, when
        this tracker's boxes are a closed form of the frame index (``box(f) = box(start) +
        v * (f - start)``, never lost), so a simulator may evaluate many frames at once instead
        of stepping; ``None`` for trackers that must see every frame."""
        return None


def require_image(tracker: BoxTracker, image: np.ndarray | None) -> np.ndarray:
    """The frame a pixel tracker was given, or a clear error when the caller passed none."""
    if image is None:
        raise ValueError(f"{type(tracker).__name__} needs the frame's pixels, got image=None")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"{type(tracker).__name__} expects an (H, W, 3) uint8 RGB frame, "
            f"got {image.dtype} {image.shape}"
        )
    return image
