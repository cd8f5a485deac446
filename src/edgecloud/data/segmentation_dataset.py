"""Datasets of labelled frames for semantic segmentation and for super-resolution training.

* :class:`SegmentationFrameDataset` serves a frame and its train-id label map (Cityscapes'
  19 classes, 255 = ignore), with an optional random crop and horizontal flip for training.
* :class:`DegradedFrameDataset` adds what the server would receive of the same crop: the frame
  downscaled by ``scale`` and JPEG-coded at a quality (:func:`~edgecloud.data.degradation.degrade`),
  which is the input super-resolution learns to restore. Training draws the quality per item
  from ``jpeg_qualities`` so one network serves every encoding knob of its scale.

Randomness comes from torch's generator, which Lightning seeds per worker, so a seeded run crops
and flips the same way every time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from edgecloud.data.degradation import Knobs, degrade, trim_to_multiple
from edgecloud.data.formats.cityscapes import CityscapesFrame, load_image, load_train_ids
from edgecloud.metrics.regions import small_region_mask


def image_to_tensor(image_rgb: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 RGB to a ``(3, H, W)`` float tensor in ``[0, 1]``."""
    return torch.from_numpy(np.ascontiguousarray(image_rgb)).permute(2, 0, 1).float() / 255.0


def tensor_to_image(image: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` float tensor in ``[0, 1]`` to ``(H, W, 3)`` uint8 RGB (rounded, clamped:
    a network's output may overshoot the range slightly)."""
    array = (image.detach().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return array.permute(1, 2, 0).cpu().numpy()


def _random_crop_origin(
    image_size: tuple[int, int], crop_size: tuple[int, int], *, multiple: int
) -> tuple[int, int]:
    """Top-left corner of a random crop whose position is a multiple of ``multiple`` pixels, so
    that a downscaled crop covers whole low-resolution pixels of the full frame."""
    (height, width), (crop_h, crop_w) = image_size, crop_size
    if crop_h > height or crop_w > width:
        raise ValueError(f"crop {crop_w}x{crop_h} is larger than the {width}x{height} frame")
    top = int(torch.randint(0, (height - crop_h) // multiple + 1, ()).item()) * multiple
    left = int(torch.randint(0, (width - crop_w) // multiple + 1, ()).item()) * multiple
    return top, left


class SegmentationFrameDataset(Dataset):
    """Frames as ``{"image": (3, H, W) float in [0, 1], "target": (H, W) int64, "index": i}``.

    Args:
        frames: the frames to serve, in order.
        crop_size: ``(height, width)`` of a random crop per item (training); None serves whole
            frames (validation, evaluation), trimmed to multiples of ``crop_multiple``.
        horizontal_flip: probability of mirroring an item (image and labels together).
        crop_multiple: crop corners and whole frames' sides fall on multiples of this (the SR
            scale, so downscaling an item is exact: a 2048x1024 Cityscapes frame is served as
            2046x1020 at x6, see :func:`~edgecloud.data.degradation.exact_size`).
    """

    def __init__(
        self,
        frames: Sequence[CityscapesFrame],
        *,
        crop_size: Sequence[int] | None = None,
        horizontal_flip: float = 0.0,
        crop_multiple: int = 1,
    ) -> None:
        if not frames:
            raise ValueError("a segmentation dataset needs at least one frame")
        if not 0.0 <= horizontal_flip <= 1.0:
            raise ValueError(f"horizontal_flip is a probability, got {horizontal_flip}")
        if crop_size is not None:
            crop_size = tuple(int(side) for side in crop_size)
            if len(crop_size) != 2 or any(side % crop_multiple for side in crop_size):
                raise ValueError(
                    f"crop_size must be (height, width) in multiples of {crop_multiple}, "
                    f"got {crop_size}"
                )
        self.frames = list(frames)
        self.crop_size = crop_size
        self.horizontal_flip = horizontal_flip
        self.crop_multiple = crop_multiple

    def __len__(self) -> int:
        return len(self.frames)

    def _full_frame(self, frame: CityscapesFrame) -> dict[str, np.ndarray]:
        """The arrays of one whole frame, each ``(H, W, ...)``: the RGB image and train ids."""
        return {"image": load_image(frame), "target": load_train_ids(frame)}

    def _load(self, index: int) -> dict[str, np.ndarray]:
        """The arrays of item ``index``, cropped (or trimmed) and flipped together."""
        arrays = self._full_frame(self.frames[index])
        if self.crop_size is not None:
            top, left = _random_crop_origin(
                arrays["target"].shape, self.crop_size, multiple=self.crop_multiple
            )
            rows = slice(top, top + self.crop_size[0])
            cols = slice(left, left + self.crop_size[1])
            arrays = {name: array[rows, cols] for name, array in arrays.items()}
        else:
            arrays = {
                name: trim_to_multiple(array, multiple=self.crop_multiple)
                for name, array in arrays.items()
            }
        if self.horizontal_flip and torch.rand(()).item() < self.horizontal_flip:
            arrays = {name: array[:, ::-1] for name, array in arrays.items()}
        return {name: np.ascontiguousarray(array) for name, array in arrays.items()}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        arrays = self._load(index)
        return {
            "image": image_to_tensor(arrays["image"]),
            "target": torch.from_numpy(arrays["target"]).long(),
            "index": index,
        }


class DegradedFrameDataset(SegmentationFrameDataset):
    """:class:`SegmentationFrameDataset` items plus what super-resolution trains on:

    * ``"low_res"``: the server's copy of the (cropped) image at ``scale``, JPEG-coded at a
      quality drawn from ``jpeg_qualities``, and ``"num_bytes"``, its encoded size;
    * ``"small"``: ``(H, W)`` bool, the pixels of small ground-truth regions (connected
      components of one class under ``small_region_fraction`` of the *whole frame*, found
      before cropping so that a crop does not make regions look larger than they are), where
      analytics-aware SR applies its analytics loss.
    """

    def __init__(
        self,
        frames: Sequence[CityscapesFrame],
        *,
        scale: int,
        jpeg_qualities: Sequence[int],
        small_region_fraction: float = 0.01,
        crop_size: Sequence[int] | None = None,
        horizontal_flip: float = 0.0,
    ) -> None:
        if not jpeg_qualities:
            raise ValueError("jpeg_qualities must name at least one JPEG quality")
        self.knobs = [Knobs(scale=scale, quality=int(q)) for q in jpeg_qualities]
        self.small_region_fraction = small_region_fraction
        super().__init__(
            frames, crop_size=crop_size, horizontal_flip=horizontal_flip, crop_multiple=scale
        )

    def _full_frame(self, frame: CityscapesFrame) -> dict[str, np.ndarray]:
        arrays = super()._full_frame(frame)
        arrays["small"] = small_region_mask(
            arrays["target"], max_area_fraction=self.small_region_fraction
        )
        return arrays

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        arrays = self._load(index)
        knobs = self.knobs[int(torch.randint(0, len(self.knobs), ()).item())]
        sent = degrade(arrays["image"], knobs)
        return {
            "image": image_to_tensor(arrays["image"]),
            "low_res": image_to_tensor(sent.image),
            "num_bytes": sent.num_bytes,
            "target": torch.from_numpy(arrays["target"]).long(),
            "small": torch.from_numpy(arrays["small"]),
            "index": index,
        }
