"""PSNR and SSIM against scikit-image (Wang et al.'s SSIM settings) on random and structured
images, plus hand-computed constant images and the input checks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from edgecloud.metrics.image_quality import psnr, ssim


def _skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(
        a,
        b,
        channel_axis=-1 if a.ndim == 3 else None,
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )


def _structured(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Colour gradients, a bright square and mild noise, in [0, 1]."""
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    image = np.stack([x, y, 0.5 * (x + y)], axis=-1)
    image[height // 4 : height // 2, width // 3 : width // 2] = 0.9
    return np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1)


def _degraded(image: np.ndarray, scale: int) -> np.ndarray:
    """Downsample then bilinear upsample back, the paper's Bilinear baseline."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (width // scale, height // scale), interpolation=cv2.INTER_AREA)
    return np.clip(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR), 0, 1)


def test_hand_computed_constant_images():
    gray = np.full((16, 16, 3), 0.5)
    # every pixel off by 0.1: MSE 0.01 -> 20 dB
    assert psnr(gray, gray + 0.1) == pytest.approx(20.0)
    # black against white uint8: MSE 1 -> 0 dB
    assert psnr(np.zeros((4, 4), np.uint8), np.full((4, 4), 255, np.uint8)) == 0.0
    # constant images: no variance, SSIM is the luminance term (2ab + C1) / (a^2 + b^2 + C1)
    c1 = 0.01**2
    expected = (2 * 0.5 * 0.25 + c1) / (0.5**2 + 0.25**2 + c1)
    assert ssim(gray, np.full((16, 16, 3), 0.25)) == pytest.approx(expected, abs=1e-12)


def test_identical_images():
    image = _structured(24, 32, np.random.default_rng(0))
    assert psnr(image, image) == float("inf")
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("shape", [(11, 11, 3), (37, 53, 3), (64, 48, 3), (40, 30)])
def test_matches_scikit_image_on_random_images(shape):
    rng = np.random.default_rng(sum(shape))
    a = rng.random(shape)
    b = np.clip(a + rng.normal(0, 0.1, shape), 0, 1)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(b, a, data_range=1.0), abs=1e-9)
    assert ssim(a, b) == pytest.approx(_skimage_ssim(a, b), abs=1e-6)
    # unrelated images: SSIM near 0, still matched
    c = rng.random(shape)
    assert ssim(a, c) == pytest.approx(_skimage_ssim(a, c), abs=1e-6)


@pytest.mark.parametrize("scale", [2, 4])
def test_matches_scikit_image_on_a_structured_image(scale):
    rng = np.random.default_rng(scale)
    reference = _structured(96, 128, rng)
    upsampled = _degraded(reference, scale)
    expected_psnr = peak_signal_noise_ratio(reference, upsampled, data_range=1.0)
    assert psnr(upsampled, reference) == pytest.approx(expected_psnr, abs=1e-9)
    assert ssim(upsampled, reference) == pytest.approx(
        _skimage_ssim(upsampled, reference), abs=1e-6
    )
    # symmetric, and a coarser downsampling scores lower
    assert ssim(reference, upsampled) == pytest.approx(ssim(upsampled, reference), abs=1e-12)
    assert ssim(_degraded(reference, 2 * scale), reference) < ssim(upsampled, reference)


def test_uint8_is_divided_by_255():
    rng = np.random.default_rng(3)
    a = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    a_unit, b_unit = a / 255.0, b / 255.0
    assert psnr(a, b) == psnr(a_unit, b_unit)
    assert ssim(a, b) == ssim(a_unit, b_unit)
    # the same as scikit-image on the uint8 images with their own 0..255 range
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-9)
    assert ssim(a, b) == pytest.approx(_skimage_ssim(a_unit, b_unit), abs=1e-6)
    # float32 inputs are computed in float64
    assert ssim(a_unit.astype(np.float32), b_unit) == pytest.approx(ssim(a_unit, b_unit), abs=1e-6)


def test_bad_inputs_raise():
    image = np.full((16, 16, 3), 0.5)
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(image, image[:, :8])
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        ssim(image * 255, image)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        psnr(image, image - 0.6)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        psnr(np.full((4, 4), np.nan), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="float in"):
        psnr(image.astype(np.uint16), image.astype(np.uint16))
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, C\)"):
        psnr(image[None], image[None])
    with pytest.raises(ValueError, match="at least 11 x 11"):
        ssim(image[:10], image[:10])
