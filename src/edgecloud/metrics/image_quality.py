"""Reconstruction quality of super-resolved frames: PSNR and SSIM, the similarity targets of
standard SR that Runespoor reports next to mIoU (Table IV of Wang et al., "Enabling Edge-Cloud
Video Analytics for Robotics Applications").

Images are ``(H, W, C)`` (RGB, or any channel order: both metrics treat channels alike) or
``(H, W)``, of equal shape, either float in [0, 1] or uint8, which is divided by 255. Floats
outside [0, 1] are rejected rather than guessed at (a 0..255 float image would otherwise score
nonsense): clip SR outputs first. Everything is computed in float64, with a data range of 1.

PSNR is ``10 log10(1 / MSE)`` with the MSE over every pixel and channel, scikit-image's
``peak_signal_noise_ratio(a, b, data_range=1.0)``; identical images give ``inf``.

SSIM follows Wang et al., "Image quality assessment: from error visibility to structural
similarity", TIP 2004: local statistics under an 11-tap Gaussian window (sigma 1.5, the kernel
truncated at radius 5), population (co)variances, ``C1 = (0.01)^2``, ``C2 = (0.03)^2``; the
SSIM map's mean leaves out a 5-pixel border (the window's radius, so every window lies inside
the image), and the channels' means are averaged. This is scikit-image's
``structural_similarity(a, b, channel_axis=-1, data_range=1.0, gaussian_weights=True,
sigma=1.5, use_sample_covariance=False)``, up to rounding, for float64 inputs (scikit-image
itself computes float32 inputs in float32). Unlike Wang et al.'s MATLAB code there is no
automatic downsampling of large images. Both sides must be at least 11 pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["SSIM_K1", "SSIM_K2", "SSIM_SIGMA", "psnr", "ssim"]

SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
_RADIUS = int(3.5 * SSIM_SIGMA + 0.5)  # 5, scipy.ndimage's radius at truncate=3.5: 11 taps


def _unit_image(image: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim not in (2, 3):
        raise ValueError(f"{name} must be (H, W) or (H, W, C), got shape {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float64) / 255.0
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{name} must be float in [0, 1] or uint8, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if array.size and not (np.all(np.isfinite(array)) and array.min() >= 0 and array.max() <= 1):
        raise ValueError(f"{name} must lie in [0, 1] (clip it first)")
    return array


def _pair(image: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first = _unit_image(image, "image")
    second = _unit_image(reference, "reference")
    if first.shape != second.shape:
        raise ValueError(f"image and reference shapes differ: {first.shape} vs {second.shape}")
    return first, second


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two images with values in [0, 1] (or uint8);
    ``inf`` when they are identical."""
    first, second = _pair(image, reference)
    mse = float(np.mean((first - second) ** 2))
    return float("inf") if mse == 0.0 else float(10.0 * np.log10(1.0 / mse))


def _gaussian_window() -> np.ndarray:
    offsets = np.arange(-_RADIUS, _RADIUS + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / SSIM_SIGMA) ** 2)
    return weights / weights.sum()


def _local_mean(values: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Gaussian-weighted mean of a 2-D float64 map over the window around every pixel whose
    window lies inside the image ('valid' positions: ``H - 10`` by ``W - 10``)."""
    filtered = cv2.sepFilter2D(values, cv2.CV_64F, window, window, borderType=cv2.BORDER_CONSTANT)
    return filtered[_RADIUS:-_RADIUS, _RADIUS:-_RADIUS]


def _channel_ssim(x: np.ndarray, y: np.ndarray, window: np.ndarray) -> float:
    mean_x = _local_mean(x, window)
    mean_y = _local_mean(y, window)
    var_x = _local_mean(x * x, window) - mean_x * mean_x
    var_y = _local_mean(y * y, window) - mean_y * mean_y
    cov_xy = _local_mean(x * y, window) - mean_x * mean_y
    c1, c2 = SSIM_K1**2, SSIM_K2**2  # (K * data_range)^2 with a data range of 1
    ssim_map = ((2 * mean_x * mean_y + c1) * (2 * cov_xy + c2)) / (
        (mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2)
    )
    return float(ssim_map.mean())


def ssim(image: np.ndarray, reference: np.ndarray) -> float:
    """Mean structural similarity of two images with values in [0, 1] (or uint8), averaged
    over channels (module docstring for the settings). 1.0 for identical images."""
    first, second = _pair(image, reference)
    if min(first.shape[:2]) < 2 * _RADIUS + 1:
        raise ValueError(f"SSIM needs images of at least 11 x 11 pixels, got {first.shape[:2]}")
    if first.ndim == 2:
        first, second = first[..., None], second[..., None]
    window = _gaussian_window()
    per_channel = [
        _channel_ssim(
            np.ascontiguousarray(first[..., channel]),
            np.ascontiguousarray(second[..., channel]),
            window,
        )
        for channel in range(first.shape[2])
    ]
    return float(np.mean(per_channel))
