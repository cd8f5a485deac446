"""JPEG/PNG encoding: sizes respond to quality, round trips decode, bad input is rejected."""

from __future__ import annotations

import numpy as np
import pytest

from edgecloud.utils.codec import decode_rgb, jpeg_encode, png_encode


def natural_image(height: int = 96, width: int = 128) -> np.ndarray:
    """Smooth gradients plus mild noise and a few edges: compresses like a camera frame."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], axis=-1)
    image[20:50, 30:70] = (200, 40, 40)
    image += rng.normal(0.0, 6.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def test_jpeg_size_decreases_with_quality() -> None:
    image = natural_image()
    sizes = [len(jpeg_encode(image, quality=q)) for q in (95, 75, 50, 20, 5)]
    assert sizes == sorted(sizes, reverse=True)
    assert len(set(sizes)) == len(sizes)


def test_jpeg_round_trip_is_close_and_keeps_channel_order() -> None:
    image = natural_image()
    decoded = decode_rgb(jpeg_encode(image, quality=95))
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image.astype(int)).mean() < 8.0
    # The red rectangle must come back red, not blue (RGB <-> BGR handled).
    red, green, blue = decoded[35, 50].astype(int)
    assert red > 150 and blue < 100 and green < 100


def test_png_round_trip_is_exact() -> None:
    image = natural_image()
    assert np.array_equal(decode_rgb(png_encode(image)), image)
    assert np.array_equal(decode_rgb(png_encode(image, compression=9)), image)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((8, 8, 3), dtype=np.float32),
        np.zeros((8, 8), dtype=np.uint8),
        np.zeros((8, 8, 4), dtype=np.uint8),
        np.zeros((0, 8, 3), dtype=np.uint8),
    ],
)
def test_rejects_images_that_are_not_rgb_uint8(image: np.ndarray) -> None:
    with pytest.raises(ValueError, match="image"):
        jpeg_encode(image, quality=90)
    with pytest.raises(ValueError, match="image"):
        png_encode(image)


@pytest.mark.parametrize("quality", [-1, 101])
def test_rejects_jpeg_quality_out_of_range(quality: int) -> None:
    with pytest.raises(ValueError, match="quality"):
        jpeg_encode(natural_image(), quality=quality)


@pytest.mark.parametrize("compression", [-1, 10])
def test_rejects_png_compression_out_of_range(compression: int) -> None:
    with pytest.raises(ValueError, match="compression"):
        png_encode(natural_image(), compression=compression)


def test_decode_rejects_bytes_that_are_no_image() -> None:
    with pytest.raises(ValueError, match="cannot decode these 5 bytes"):
        decode_rgb(b"hello")
