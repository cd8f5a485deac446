"""The Lightning datamodule for detection on any supported format."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lightning import LightningDataModule
from torch.utils.data import DataLoader

from edgecloud.data.annotations import VideoAnnotations
from edgecloud.data.detection_dataset import DetectionFrameDataset, collate_detection_batch

VideoLoader = Callable[[], list[VideoAnnotations]]


class DetectionDataModule(LightningDataModule):
    """Train and val loaders over videos read by format-specific loaders.

    ``train_videos`` and ``val_videos`` are zero-argument callables (Hydra partials of a format
    reader such as :func:`edgecloud.data.formats.visdrone_vid.read_visdrone_vid`) so that nothing
    is read before ``setup``. ``prepare`` runs once in ``prepare_data``: the synthetic worlds
    generate (or find in their cache) their files there.
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
        self.train_set: DetectionFrameDataset | None = None
        self.val_set: DetectionFrameDataset | None = None

    def prepare_data(self) -> None:
        if self._prepare is not None:
            self._prepare()

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = DetectionFrameDataset(
                self._load_train(),
                frame_stride=self.train_frame_stride,
                horizontal_flip=self.horizontal_flip,
            )
        if self.val_set is None:
            self.val_set = DetectionFrameDataset(
                self._load_val(), frame_stride=self.val_frame_stride
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
            collate_fn=collate_detection_batch,
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
