"""Encode RGB frames to JPEG or PNG bytes, and decode them back.

The length of the returned bytes is what the frame costs on the wire when an edge device sends
it to the cloud; recordings store it per frame so the simulator can charge uplink bandwidth.
"""

from __future__ import annotations

import cv2
import numpy as np


def jpeg_encode(image_rgb: np.ndarray, *, quality: int) -> bytes:
    """JPEG bytes of an RGB ``uint8`` ``(H, W, 3)`` image at ``quality`` in ``0..100``."""
    if not 0 <= quality <= 100:
        raise ValueError(f"JPEG quality must lie in 0..100, got {quality}")
    return _encode(image_rgb, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, int(quality)])


def png_encode(image_rgb: np.ndarray, *, compression: int = 3) -> bytes:
    """Lossless PNG bytes of an RGB ``uint8`` ``(H, W, 3)`` image; ``compression`` in ``0..9``."""
    if not 0 <= compression <= 9:
        raise ValueError(f"PNG compression must lie in 0..9, got {compression}")
    return _encode(image_rgb, ".png", [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])


def decode_rgb(encoded: bytes) -> np.ndarray:
    """Decode JPEG or PNG bytes (as :func:`jpeg_encode` / :func:`png_encode` return them) to an
    RGB ``uint8`` ``(H, W, 3)`` image: what the server sees of a frame the edge sent."""
    image = cv2.imdecode(np.frombuffer(encoded, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"OpenCV cannot decode these {len(encoded)} bytes as an image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _encode(image_rgb: np.ndarray, extension: str, params: list[int]) -> bytes:
    """Validate the image, convert RGB to OpenCV's BGR order and encode it."""
    if image_rgb.dtype != np.uint8 or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError(
            f"expected an RGB uint8 image of shape (H, W, 3), "
            f"got {image_rgb.dtype} {image_rgb.shape}"
        )
    if image_rgb.shape[0] == 0 or image_rgb.shape[1] == 0:
        raise ValueError(f"cannot encode an empty image of shape {image_rgb.shape}")
    ok, encoded = cv2.imencode(extension, cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"OpenCV failed to encode a {image_rgb.shape} image as {extension}")
    return encoded.tobytes()
