"""Clip augmentation for 3D CNNs, after Hara et al.'s 3D-ResNets-PyTorch (as Clownfish uses).

Clownfish (section VI-A) fine-tunes its local and remote 3D networks with the augmentation of
the 3D-ResNets codebase: multi-scale random cropping from the corners and the center, random
horizontal flip, temporal random cropping and normalisation by mean; testing resizes, center
crops and normalises. Here:

* :func:`temporal_random_crop` picks the frames of one clip inside a longer range (looping a
  range shorter than the clip, like the codebase's ``LoopPadding``);
* :class:`TrainClipTransform` draws one square crop per clip, side ``min(H, W) * scale`` for a
  scale of :func:`multi_scales` at one of five positions, flips it with probability
  ``horizontal_flip``, resizes it to ``input_size`` and normalises;
* :class:`EvalClipTransform` takes the central square, resizes it and normalises (the same
  pixels as resizing the shorter side to ``input_size`` and center cropping).

Clips go in as ``(T, H, W, 3)`` RGB uint8 arrays and come out as ``(3, T, S, S)`` float32
tensors, the layout of torchvision's video models. The same crop and flip apply to every frame
of a clip. All randomness comes from a ``numpy.random.Generator`` the caller passes, so a
dataset that seeds one generator per item is reproducible whatever the DataLoader workers do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

CROP_POSITIONS = ("c", "tl", "tr", "bl", "br")
"""Center, top-left, top-right, bottom-left and bottom-right, as in 3D-ResNets."""

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
"""Per-channel RGB statistics of Kinetics-400 in [0, 1], those torchvision's pretrained video
models expect. 3D-ResNets subtracts the mean only: pass ``std=(1, 1, 1)`` to reproduce it."""


def multi_scales(*, num_scales: int = 5, scale_step: float = 2**-0.25) -> tuple[float, ...]:
    """``(1, step, step**2, ...)``: the crop scales of 3D-ResNets (1, 0.84, 0.71, 0.59, 0.5)."""
    if num_scales < 1:
        raise ValueError(f"num_scales must be >= 1, got {num_scales}")
    if not 0 < scale_step <= 1:
        raise ValueError(f"scale_step must be in (0, 1], got {scale_step}")
    return tuple(float(scale_step**i) for i in range(num_scales))


DEFAULT_SCALES = multi_scales()
"""The five scales 3D-ResNets crops at: 1, 2^-1/4, 2^-1/2, 2^-3/4 and 1/2."""


def temporal_random_crop(
    start: int, end: int, *, size: int, generator: np.random.Generator
) -> np.ndarray:
    """``(size,)`` int64 frame indices of one clip drawn uniformly inside ``[start, end)``.

    The clip's first frame is uniform over every start that keeps it inside the range. A range
    shorter than ``size`` is looped (``start, start+1, .., end-1, start, ..``) as 3D-ResNets
    pads short clips, so every clip has exactly ``size`` frames.
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if not 0 <= start < end:
        raise ValueError(f"need 0 <= start < end, got [{start}, {end})")
    length = end - start
    if length <= size:
        return start + np.arange(size, dtype=np.int64) % length
    first = start + int(generator.integers(0, length - size + 1))
    return np.arange(first, first + size, dtype=np.int64)


def _check_clip(clip: np.ndarray) -> None:
    if clip.ndim != 4 or clip.shape[-1] != 3 or clip.dtype != np.uint8:
        raise ValueError(f"a clip is a (T, H, W, 3) uint8 array, got {clip.dtype} {clip.shape}")


def _to_tensor(
    clip: np.ndarray, *, input_size: int, mean: torch.Tensor, std: torch.Tensor
) -> torch.Tensor:
    """Crop already taken: resize (T, h, w, 3) uint8 to (3, T, S, S) float32 and normalise.

    The resize runs on the uint8 frames (torch's antialiased bilinear has a uint8 kernel, about
    10x faster than on floats) and so rounds to whole intensity levels, as a decoder scaling the
    video would; done on floats it was half of a training clip's cost.
    """
    video = torch.from_numpy(np.ascontiguousarray(clip)).permute(0, 3, 1, 2)
    if video.shape[-2:] != (input_size, input_size):
        video = F.interpolate(
            video,
            size=(input_size, input_size),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
    # Channels first while still uint8 (a quarter of the bytes to move), then one float pass.
    video = video.permute(1, 0, 2, 3).contiguous().float()
    return video.sub_(255.0 * mean.view(3, 1, 1, 1)).div_(255.0 * std.view(3, 1, 1, 1))


class _Normalising:
    def __init__(
        self,
        *,
        input_size: int = 112,
        mean: Sequence[float] = KINETICS_MEAN,
        std: Sequence[float] = KINETICS_STD,
    ) -> None:
        if input_size < 1:
            raise ValueError(f"input_size must be >= 1, got {input_size}")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean and std need 3 values, std > 0; got {mean}, {std}")
        self.input_size = input_size
        # float() each value: Hydra hands over ListConfigs, which torch.tensor does not take.
        self.mean = torch.tensor([float(m) for m in mean], dtype=torch.float32)
        self.std = torch.tensor([float(s) for s in std], dtype=torch.float32)


@dataclass(frozen=True)
class SpatialAugmentation:
    """One clip's crop (``size`` x ``size`` pixels at ``top``, ``left``) and flip."""

    top: int
    left: int
    size: int
    flip: bool


class TrainClipTransform(_Normalising):
    """Multi-scale corner/center crop, random horizontal flip, resize and normalise.

    :meth:`sample` draws the spatial parameters and :meth:`apply` uses them, so two clips can
    share one draw (the two windows of a SimiNet pair seen through the same camera);
    ``transform(clip, generator=g)`` does both.
    """

    def __init__(
        self,
        *,
        input_size: int = 112,
        scales: Sequence[float] = DEFAULT_SCALES,
        positions: Sequence[str] = CROP_POSITIONS,
        horizontal_flip: float = 0.5,
        mean: Sequence[float] = KINETICS_MEAN,
        std: Sequence[float] = KINETICS_STD,
    ) -> None:
        super().__init__(input_size=input_size, mean=mean, std=std)
        if not scales or not all(0 < s <= 1 for s in scales):
            raise ValueError(f"scales must be non-empty values in (0, 1], got {list(scales)}")
        unknown = set(positions) - set(CROP_POSITIONS)
        if not positions or unknown:
            raise ValueError(f"positions must be among {CROP_POSITIONS}, got {list(positions)}")
        if not 0.0 <= horizontal_flip <= 1.0:
            raise ValueError(f"horizontal_flip is a probability, got {horizontal_flip}")
        self.scales = tuple(float(s) for s in scales)
        self.positions = tuple(positions)
        self.horizontal_flip = float(horizontal_flip)

    def sample(
        self, *, height: int, width: int, generator: np.random.Generator
    ) -> SpatialAugmentation:
        """Draw a scale, a position and a flip for a clip of ``height`` x ``width`` frames."""
        scale = self.scales[int(generator.integers(len(self.scales)))]
        position = self.positions[int(generator.integers(len(self.positions)))]
        flip = bool(generator.random() < self.horizontal_flip)
        # Rounded, not floored: 2**-0.25 to the 4th is 0.4999.., which would lose a pixel.
        size = max(1, round(min(height, width) * scale))
        top = {"t": 0, "b": height - size}.get(position[0], (height - size) // 2)
        left = {"l": 0, "r": width - size}.get(position[-1], (width - size) // 2)
        return SpatialAugmentation(top=top, left=left, size=size, flip=flip)

    def apply(self, clip: np.ndarray, augmentation: SpatialAugmentation) -> torch.Tensor:
        _check_clip(clip)
        a = augmentation
        crop = clip[:, a.top : a.top + a.size, a.left : a.left + a.size]
        if a.flip:
            crop = crop[:, :, ::-1]
        return _to_tensor(crop, input_size=self.input_size, mean=self.mean, std=self.std)

    def __call__(self, clip: np.ndarray, *, generator: np.random.Generator) -> torch.Tensor:
        _check_clip(clip)
        augmentation = self.sample(height=clip.shape[1], width=clip.shape[2], generator=generator)
        return self.apply(clip, augmentation)


class EvalClipTransform(_Normalising):
    """The central square of every frame, resized to ``input_size`` and normalised.

    ``generator`` is accepted and ignored so datasets can call either transform alike.
    """

    def __call__(
        self, clip: np.ndarray, *, generator: np.random.Generator | None = None
    ) -> torch.Tensor:
        _check_clip(clip)
        height, width = clip.shape[1:3]
        size = min(height, width)
        top, left = (height - size) // 2, (width - size) // 2
        crop = clip[:, top : top + size, left : left + size]
        return _to_tensor(crop, input_size=self.input_size, mean=self.mean, std=self.std)
