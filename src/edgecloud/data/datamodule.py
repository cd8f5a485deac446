"""The Lightning datamodule for detection on any supported format.

Without ``scale`` it serves :class:`~edgecloud.data.detection_dataset.DetectionFrameDataset`
``(image, target)`` pairs (training detectors); with ``scale`` it serves
:class:`~edgecloud.data.degraded_detection_dataset.DegradedDetectionDataset` dicts, adding the
server's low-resolution JPEG copy that super-resolution restores (Runespoor's ASR for detection).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lightning import LightningDataModule
from torch.utils.data import DataLoader

from edgecloud.data.annotations import VideoAnnotations
from edgecloud.data.degraded_detection_dataset import (
    DegradedDetectionDataset,
    collate_degraded_detection_batch,
)
from edgecloud.data.detection_dataset import DetectionFrameDataset, collate_detection_batch

VideoLoader = Callable[[], list[VideoAnnotations]]


class DetectionDataModule(LightningDataModule):
    """Train and val loaders over videos read by format-specific loaders.

    ``train_videos`` and ``val_videos`` are zero-argument callables (Hydra partials of a format
    reader such as :func:`edgecloud.data.formats.visdrone_vid.read_visdrone_vid`) so that nothing
    is read before ``setup``. ``prepare`` runs once in ``prepare_data``: the synthetic worlds
    generate (or find in their cache) their files there.

    With ``scale`` set it serves super-resolution items, which the arguments below configure
    (all but ``scale`` are unused while it is None).

    Args:
        scale: downscale factor of the server's copy; None serves no low-resolution copy.
        crop_size: ``(height, width)`` of the random training crops, multiples of ``scale``;
            None trains on whole frames. Validation always uses whole frames.
        jpeg_qualities: training items are JPEG-coded at a quality drawn from these.
        val_jpeg_quality: the quality of every validation item.
        small_box_fraction: a ground-truth box under this fraction of the frame's area is small
            (where analytics-aware SR applies its detection loss).
        min_visible_fraction: a box cut by a crop stays an object while it keeps this fraction
            of its area (else it becomes an ignore region).
    """

    def __init__(
        self,
        *,
        class_names: Sequence[str],
        train_videos: VideoLoader,
        val_videos: VideoLoader,
        prepare: Callable[[], object] | None = None,
        batch_size: int = 8,
        val_batch_size: int | None = None,
        num_workers: int = 0,
        train_frame_stride: int = 1,
        val_frame_stride: int = 1,
        horizontal_flip: float = 0.5,
        pin_memory: bool = False,
        drop_last_train: bool = True,
        scale: int | None = None,
        crop_size: Sequence[int] | None = None,
        jpeg_qualities: Sequence[int] = (90,),
        val_jpeg_quality: int = 90,
        small_box_fraction: float = 0.001,
        min_visible_fraction: float = 0.5,
    ) -> None:
        super().__init__()
        if len(set(class_names)) != len(class_names) or not class_names:
            raise ValueError(f"class_names must be non-empty and unique, got {list(class_names)}")
        self.class_names = list(class_names)
        self._load_train = train_videos
        self._load_val = val_videos
        self._prepare = prepare
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.train_frame_stride = train_frame_stride
        self.val_frame_stride = val_frame_stride
        self.horizontal_flip = horizontal_flip
        self.pin_memory = pin_memory
        # A last training batch of one image breaks batch norm on 1x1 feature maps (SSDlite).
        self.drop_last_train = drop_last_train
        self.scale = scale
        self.crop_size = crop_size
        self.jpeg_qualities = list(jpeg_qualities)
        self.val_jpeg_quality = val_jpeg_quality
        self.small_box_fraction = small_box_fraction
        self.min_visible_fraction = min_visible_fraction
        self.train_set: DetectionFrameDataset | None = None
        self.val_set: DetectionFrameDataset | None = None

    def prepare_data(self) -> None:
        if self._prepare is not None:
            self._prepare()

    def _dataset(
        self,
        videos: list[VideoAnnotations],
        *,
        frame_stride: int,
        horizontal_flip: float,
        crop_size: Sequence[int] | None,
        jpeg_qualities: Sequence[int],
    ) -> DetectionFrameDataset:
        if self.scale is None:
            return DetectionFrameDataset(
                videos, frame_stride=frame_stride, horizontal_flip=horizontal_flip
            )
        return DegradedDetectionDataset(
            videos,
            scale=self.scale,
            jpeg_qualities=jpeg_qualities,
            small_box_fraction=self.small_box_fraction,
            crop_size=crop_size,
            frame_stride=frame_stride,
            horizontal_flip=horizontal_flip,
            min_visible_fraction=self.min_visible_fraction,
        )

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = self._dataset(
                self._load_train(),
                frame_stride=self.train_frame_stride,
                horizontal_flip=self.horizontal_flip,
                crop_size=self.crop_size,
                jpeg_qualities=self.jpeg_qualities,
            )
        if self.val_set is None:
            self.val_set = self._dataset(
                self._load_val(),
                frame_stride=self.val_frame_stride,
                horizontal_flip=0.0,
                crop_size=None,
                jpeg_qualities=[self.val_jpeg_quality],
            )

    def val_videos(self) -> list[VideoAnnotations]:
        """The validation videos, whole (evaluation and recordings need every frame)."""
        self.prepare_data()
        return self._load_val()

    def _loader(
        self, dataset: DetectionFrameDataset, *, batch_size: int, shuffle: bool, drop_last: bool
    ) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            num_workers=self.num_workers,
            collate_fn=(
                collate_detection_batch if self.scale is None else collate_degraded_detection_batch
            ),
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(
            self.train_set, batch_size=self.batch_size, shuffle=True, drop_last=self.drop_last_train
        )

    def val_dataloader(self) -> DataLoader:
        return self._loader(
            self.val_set, batch_size=self.val_batch_size, shuffle=False, drop_last=False
        )
