"""The Lightning datamodule for Runespoor's segmentation and super-resolution experiments.

Like the detection and action datamodules it takes zero-argument callables (Hydra partials of a
format reader such as :func:`edgecloud.data.formats.cityscapes.read_cityscapes`) for the train
and val frames, reads nothing before ``setup``, and runs ``prepare`` once in ``prepare_data`` so
the synthetic urban world generates (or finds cached) its files.

Without ``scale`` it serves :class:`~edgecloud.data.segmentation_dataset.SegmentationFrameDataset`
items (training the analytics model on full-resolution frames); with ``scale`` it serves
:class:`~edgecloud.data.segmentation_dataset.DegradedFrameDataset` items, adding the server's
low-resolution copy that super-resolution restores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lightning import LightningDataModule
from torch.utils.data import DataLoader

from edgecloud.data.formats.cityscapes import CityscapesFrame
from edgecloud.data.segmentation_dataset import DegradedFrameDataset, SegmentationFrameDataset

FrameLoader = Callable[[], list[CityscapesFrame]]


class SegmentationDataModule(LightningDataModule):
    """Train and val loaders over labelled frames, optionally with their degraded copies.

    Args:
        class_names: the train ids' class names, in id order.
        train_frames, val_frames: zero-argument callables returning the frames.
        prepare: called once in ``prepare_data`` (e.g. the synthetic world's generator).
        crop_size: ``(height, width)`` of the random training crops; None trains on whole frames.
        horizontal_flip: probability of mirroring a training item.
        scale: downscale factor of the server's copy; None serves no low-resolution copy.
        jpeg_qualities: training items are JPEG-coded at a quality drawn from these.
        val_jpeg_quality: the quality of every validation item.
        small_region_fraction: a ground-truth region smaller than this fraction of the frame is
            small (where analytics-aware SR applies its analytics loss).
        train_frame_stride, val_frame_stride: keep every n-th frame (consecutive video frames
            are nearly identical; a stride makes an epoch cheaper without losing scenes).
    """

    def __init__(
        self,
        *,
        class_names: Sequence[str],
        train_frames: FrameLoader,
        val_frames: FrameLoader,
        prepare: Callable[[], object] | None = None,
        batch_size: int = 8,
        val_batch_size: int | None = None,
        num_workers: int = 0,
        crop_size: Sequence[int] | None = None,
        horizontal_flip: float = 0.5,
        scale: int | None = None,
        jpeg_qualities: Sequence[int] = (90,),
        val_jpeg_quality: int = 90,
        small_region_fraction: float = 0.01,
        train_frame_stride: int = 1,
        val_frame_stride: int = 1,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        if len(set(class_names)) != len(class_names) or not class_names:
            raise ValueError(f"class_names must be non-empty and unique, got {list(class_names)}")
        if train_frame_stride < 1 or val_frame_stride < 1:
            raise ValueError("frame strides must be positive")
        self.class_names = list(class_names)
        self._load_train = train_frames
        self._load_val = val_frames
        self._prepare = prepare
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.crop_size = crop_size
        self.horizontal_flip = horizontal_flip
        self.scale = scale
        self.jpeg_qualities = list(jpeg_qualities)
        self.val_jpeg_quality = val_jpeg_quality
        self.small_region_fraction = small_region_fraction
        self.train_frame_stride = train_frame_stride
        self.val_frame_stride = val_frame_stride
        self.pin_memory = pin_memory
        self.train_set: SegmentationFrameDataset | None = None
        self.val_set: SegmentationFrameDataset | None = None

    def prepare_data(self) -> None:
        if self._prepare is not None:
            self._prepare()

    def _dataset(
        self,
        frames: list[CityscapesFrame],
        *,
        crop_size: Sequence[int] | None,
        horizontal_flip: float,
        jpeg_qualities: Sequence[int],
    ) -> SegmentationFrameDataset:
        if self.scale is None:
            return SegmentationFrameDataset(
                frames, crop_size=crop_size, horizontal_flip=horizontal_flip
            )
        return DegradedFrameDataset(
            frames,
            scale=self.scale,
            jpeg_qualities=jpeg_qualities,
            small_region_fraction=self.small_region_fraction,
            crop_size=crop_size,
            horizontal_flip=horizontal_flip,
        )

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = self._dataset(
                self._load_train()[:: self.train_frame_stride],
                crop_size=self.crop_size,
                horizontal_flip=self.horizontal_flip,
                jpeg_qualities=self.jpeg_qualities,
            )
        if self.val_set is None:
            self.val_set = self._dataset(
                self._load_val()[:: self.val_frame_stride],
                crop_size=None,
                horizontal_flip=0.0,
                jpeg_qualities=[self.val_jpeg_quality],
            )

    def val_frames(self) -> list[CityscapesFrame]:
        """Every validation frame (evaluation and recordings score whole clips)."""
        self.prepare_data()
        return self._load_val()

    def _loader(self, dataset: SegmentationFrameDataset, *, batch_size: int, shuffle: bool):
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, batch_size=self.val_batch_size, shuffle=False)
