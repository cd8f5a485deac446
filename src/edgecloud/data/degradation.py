"""What the server receives of a frame the edge sent: Runespoor's degradation path.

The edge downscales every frame by an integer factor (the resolution knob) and JPEG-encodes it
at a quality (the encoding knob); the uplink carries the JPEG's bytes; the server decodes them
and upsamples back to the analytics model's input resolution, with super-resolution or
interpolation (:mod:`edgecloud.models.carn`). Training, evaluation and the recording all go
through :func:`degrade`, so a model is trained on exactly the artefacts it is scored on and the
simulator charges the real encoded sizes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

from edgecloud.utils.codec import decode_rgb, jpeg_encode


@dataclass(frozen=True, order=True)
class Knobs:
    """One data configuration the edge can send with: ``scale`` is the downscale factor (1 sends
    full resolution), ``quality`` the JPEG quality in 1..100."""

    scale: int
    quality: int

    def __post_init__(self) -> None:
        if self.scale < 1:
            raise ValueError(f"scale must be a positive integer, got {self.scale}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"JPEG quality must lie in 1..100, got {self.quality}")

    @property
    def name(self) -> str:
        """A short stable name, e.g. ``x4_q90``, for recordings and tables."""
        return f"x{self.scale}_q{self.quality}"

    @classmethod
    def from_name(cls, name: str) -> Knobs:
        """The knobs a :attr:`name` such as ``x4_q90`` stands for."""
        match = re.fullmatch(r"x(\d+)_q(\d+)", name)
        if match is None:
            raise ValueError(f"a configuration's name looks like x4_q90, got {name!r}")
        return cls(scale=int(match[1]), quality=int(match[2]))


@dataclass(frozen=True)
class DegradedFrame:
    """The decoded low-resolution RGB ``uint8`` image the server sees, and the number of bytes
    the uplink carried for it."""

    image: np.ndarray
    num_bytes: int


def exact_size(height: int, width: int, *, multiple: int) -> tuple[int, int]:
    """The largest ``(height, width)`` within a frame's that every scale dividing ``multiple``
    downscales exactly: each side loses its last ``side % multiple`` rows or columns (fewer than
    ``multiple``; Cityscapes' 2048x1024 frames keep 2046x1020 at x6). Whole-frame evaluation
    scores the top-left part of this size with every method, HR included, so all are scored
    on the same pixels."""
    if multiple < 1:
        raise ValueError(f"multiple must be a positive integer, got {multiple}")
    trimmed = (height - height % multiple, width - width % multiple)
    if min(trimmed) == 0:
        raise ValueError(f"a {width}x{height} frame is smaller than the scale {multiple}")
    return trimmed


def trim_to_multiple(array: np.ndarray, *, multiple: int) -> np.ndarray:
    """The top-left part of an ``(H, W, ...)`` image or label map of :func:`exact_size`."""
    height, width = exact_size(*array.shape[:2], multiple=multiple)
    return array[:height, :width]


def downscale(image_rgb: np.ndarray, *, scale: int) -> np.ndarray:
    """Shrink an ``(H, W, 3)`` image by an integer ``scale`` with area averaging (what a camera
    pipeline's resize does, without the aliasing of dropping pixels).

    Both sides must divide by ``scale``, so that upsampling by ``scale`` gives back the exact
    original size and every pixel of the label map has a counterpart (:func:`trim_to_multiple`
    makes a whole frame so).
    """
    height, width = image_rgb.shape[:2]
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    if height % scale or width % scale:
        raise ValueError(f"a {width}x{height} frame cannot be downscaled exactly by {scale}")
    if scale == 1:
        return image_rgb
    size = (width // scale, height // scale)
    return cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)


def degrade(image_rgb: np.ndarray, knobs: Knobs) -> DegradedFrame:
    """Downscale ``image_rgb`` by ``knobs.scale``, JPEG-encode it at ``knobs.quality`` and
    decode it again: the server's copy and its size on the wire."""
    encoded = jpeg_encode(downscale(image_rgb, scale=knobs.scale), quality=knobs.quality)
    return DegradedFrame(image=decode_rgb(encoded), num_bytes=len(encoded))
