"""The degradation path: exact downscaling, real JPEG bytes, the decoded copy the server sees."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from edgecloud.data.degradation import (
    DegradedFrame,
    Knobs,
    degrade,
    downscale,
    exact_size,
    trim_to_multiple,
)
from edgecloud.utils.codec import jpeg_encode


def textured_frame(height: int = 48, width: int = 96) -> np.ndarray:
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 2.5, y * 5.0, (x + y) * 1.5], axis=-1) + rng.normal(
        0, 20, (height, width, 3)
    )
    return np.clip(image, 0, 255).astype(np.uint8)


def test_downscale_averages_each_block() -> None:
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    image[:2, :2] = (100, 0, 0)  # top-left 2x2 block
    image[2:, 2:] = (0, 0, 200)
    image[0, 2] = (40, 40, 40)  # one pixel of the top-right block
    small = downscale(image, scale=2)
    assert small.shape == (2, 2, 3)
    assert small[0, 0].tolist() == [100, 0, 0]
    assert small[1, 1].tolist() == [0, 0, 200]
    assert small[0, 1].tolist() == [10, 10, 10]
    assert small[1, 0].tolist() == [0, 0, 0]


def test_scale_one_sends_full_resolution() -> None:
    image = textured_frame()
    assert downscale(image, scale=1) is image


@pytest.mark.parametrize("scale", [5, 7])
def test_downscale_refuses_inexact_sizes(scale: int) -> None:
    with pytest.raises(ValueError, match=f"96x48 frame cannot be downscaled exactly by {scale}"):
        downscale(textured_frame(), scale=scale)


def test_degrade_sends_the_jpeg_of_the_downscaled_frame() -> None:
    image = textured_frame()
    sent = degrade(image, Knobs(scale=4, quality=70))
    assert isinstance(sent, DegradedFrame)
    assert sent.image.shape == (12, 24, 3) and sent.image.dtype == np.uint8
    expected = jpeg_encode(cv2.resize(image, (24, 12), interpolation=cv2.INTER_AREA), quality=70)
    assert sent.num_bytes == len(expected)
    # the server's copy differs from the edge's small frame only by JPEG's loss
    small = downscale(image, scale=4).astype(int)
    assert 0 < np.abs(sent.image.astype(int) - small).mean() < 20


def test_bytes_fall_with_scale_and_quality() -> None:
    image = textured_frame(96, 192)
    by_scale = [degrade(image, Knobs(scale=s, quality=90)).num_bytes for s in (1, 2, 4, 8)]
    by_quality = [degrade(image, Knobs(scale=2, quality=q)).num_bytes for q in (90, 70, 40)]
    assert by_scale == sorted(by_scale, reverse=True) and len(set(by_scale)) == 4
    assert by_quality == sorted(by_quality, reverse=True) and len(set(by_quality)) == 3


@pytest.mark.parametrize(("scale", "quality"), [(0, 90), (2, 0), (2, 101)])
def test_knobs_validate(scale: int, quality: int) -> None:
    with pytest.raises(ValueError):
        Knobs(scale=scale, quality=quality)


def test_knobs_name_and_order() -> None:
    assert Knobs(scale=4, quality=90).name == "x4_q90"
    assert sorted([Knobs(4, 90), Knobs(2, 40), Knobs(2, 30)]) == [
        Knobs(2, 30),
        Knobs(2, 40),
        Knobs(4, 90),
    ]


def test_exact_size_trims_each_side_to_the_multiple() -> None:
    # Cityscapes' 2048x1024 at x6 (2048 = 6*341 + 2, 1024 = 6*170 + 4), and at x2..x8 together
    assert exact_size(1024, 2048, multiple=6) == (1020, 2046)
    assert exact_size(1024, 2048, multiple=math.lcm(2, 3, 4, 6, 8)) == (1008, 2040)
    assert exact_size(1024, 2048, multiple=8) == (1024, 2048)
    with pytest.raises(ValueError, match="a 16x5 frame is smaller than the scale 6"):
        exact_size(5, 16, multiple=6)


def test_trimmed_frames_downscale_exactly() -> None:
    image = np.arange(7 * 11 * 3, dtype=np.uint8).reshape(7, 11, 3)
    trimmed = trim_to_multiple(image, multiple=3)
    np.testing.assert_array_equal(trimmed, image[:6, :9])
    assert downscale(trimmed, scale=3).shape == (2, 3, 3)
    labels = np.zeros((7, 11), np.uint8)
    assert trim_to_multiple(labels, multiple=3).shape == (6, 9)
