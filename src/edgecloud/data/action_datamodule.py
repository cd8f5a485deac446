"""Lightning datamodules for action recognition (Clownfish's local/remote models) and SimiNet.

Like :class:`~edgecloud.data.datamodule.DetectionDataModule`, both take zero-argument callables
(Hydra partials of a format reader such as the PKU-MMD loader) returning the train and val
:class:`~edgecloud.data.action_video.ActionVideo` lists, read nothing before ``setup``, and run
``prepare`` once in ``prepare_data`` so a synthetic world generates (or finds cached) its files.

* :class:`ActionDataModule` serves :class:`~edgecloud.data.action_dataset.ActionClipDataset`
  (augmented clips inside actions) for training and
  :class:`~edgecloud.data.action_dataset.ActionWindowDataset` (every window, eval transform)
  for validation.
* :class:`SiminetPairDataModule` serves
  :class:`~edgecloud.data.action_dataset.SiminetPairDataset` pairs: augmented and redrawn every
  epoch for training, center-cropped and seeded (the same pairs every epoch) for validation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from edgecloud.data.action_dataset import (
    ActionClipDataset,
    ActionWindowDataset,
    FeatureExtractor,
    SiminetPairDataset,
    check_action_labels,
)
from edgecloud.data.action_transforms import (
    CROP_POSITIONS,
    DEFAULT_SCALES,
    KINETICS_MEAN,
    KINETICS_STD,
    EvalClipTransform,
    TrainClipTransform,
)
from edgecloud.data.action_video import ActionVideo

ActionVideoLoader = Callable[[], list[ActionVideo]]


class _ActionVideosDataModule(LightningDataModule):
    """What both datamodules share: the videos, the transforms and the loaders."""

    def __init__(
        self,
        *,
        class_names: Sequence[str],
        train_videos: ActionVideoLoader,
        val_videos: ActionVideoLoader,
        prepare: Callable[[], object] | None,
        window_size: int,
        input_size: int,
        batch_size: int,
        val_batch_size: int | None,
        num_workers: int,
        scales: Sequence[float],
        crop_positions: Sequence[str],
        horizontal_flip: float,
        mean: Sequence[float],
        std: Sequence[float],
        seed: int | None,
        pin_memory: bool,
        drop_last_train: bool,
    ) -> None:
        super().__init__()
        if len(set(class_names)) != len(class_names) or not class_names:
            raise ValueError(f"class_names must be non-empty and unique, got {list(class_names)}")
        if window_size < 1:
            raise ValueError(f"window_size must be >= 1, got {window_size}")
        self.class_names = list(class_names)
        self._load_train = train_videos
        self._load_val = val_videos
        self._prepare = prepare
        self.window_size = window_size
        self.input_size = input_size
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.pin_memory = pin_memory
        self.drop_last_train = drop_last_train
        self.train_transform = TrainClipTransform(
            input_size=input_size,
            scales=scales,
            positions=crop_positions,
            horizontal_flip=horizontal_flip,
            mean=mean,
            std=std,
        )
        self.eval_transform = EvalClipTransform(input_size=input_size, mean=mean, std=std)
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def prepare_data(self) -> None:
        if self._prepare is not None:
            self._prepare()

    def _videos(self, loader: ActionVideoLoader) -> list[ActionVideo]:
        videos = list(loader())
        check_action_labels(videos, num_classes=self.num_classes)
        return videos

    def val_videos(self) -> list[ActionVideo]:
        """The validation videos, whole (evaluation and recordings need every window)."""
        self.prepare_data()
        return self._videos(self._load_val)

    def _loader(
        self, dataset: Dataset | None, *, batch_size: int, shuffle: bool, drop_last: bool
    ) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            num_workers=self.num_workers,
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


class ActionDataModule(_ActionVideosDataModule):
    """Train on augmented clips inside actions, validate on every window of the val videos.

    ``class_names`` lists the action classes in id order (id ``k`` is ``class_names[k - 1]``;
    targets are ``k - 1``). ``window_size`` and ``window_stride`` are the window manager's
    (16 and 4 in the paper); ``input_size`` is the side of the square clips the model takes
    (112 for 3D-ResNets). ``clips_per_segment`` training items come from each action segment
    per epoch. ``scales``, ``crop_positions``, ``horizontal_flip``, ``mean`` and ``std``
    configure :class:`~edgecloud.data.action_transforms.TrainClipTransform`. ``seed`` fixes
    every training item's augmentation (the same each epoch); leave it None to redraw per epoch
    from the (seedable) torch RNG.
    """

    def __init__(
        self,
        *,
        class_names: Sequence[str],
        train_videos: ActionVideoLoader,
        val_videos: ActionVideoLoader,
        prepare: Callable[[], object] | None = None,
        window_size: int = 16,
        window_stride: int = 4,
        input_size: int = 112,
        clips_per_segment: int = 1,
        batch_size: int = 8,
        val_batch_size: int | None = None,
        num_workers: int = 0,
        scales: Sequence[float] = DEFAULT_SCALES,
        crop_positions: Sequence[str] = CROP_POSITIONS,
        horizontal_flip: float = 0.5,
        mean: Sequence[float] = KINETICS_MEAN,
        std: Sequence[float] = KINETICS_STD,
        seed: int | None = None,
        pin_memory: bool = False,
        drop_last_train: bool = False,
    ) -> None:
        super().__init__(
            class_names=class_names,
            train_videos=train_videos,
            val_videos=val_videos,
            prepare=prepare,
            window_size=window_size,
            input_size=input_size,
            batch_size=batch_size,
            val_batch_size=val_batch_size,
            num_workers=num_workers,
            scales=scales,
            crop_positions=crop_positions,
            horizontal_flip=horizontal_flip,
            mean=mean,
            std=std,
            seed=seed,
            pin_memory=pin_memory,
            drop_last_train=drop_last_train,
        )
        if window_stride < 1:
            raise ValueError(f"window_stride must be >= 1, got {window_stride}")
        if clips_per_segment < 1:
            raise ValueError(f"clips_per_segment must be >= 1, got {clips_per_segment}")
        self.window_stride = window_stride
        self.clips_per_segment = clips_per_segment

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = ActionClipDataset(
                self._videos(self._load_train),
                window_size=self.window_size,
                clips_per_segment=self.clips_per_segment,
                transform=self.train_transform,
                seed=self.seed,
            )
        if self.val_set is None:
            self.val_set = ActionWindowDataset(
                self._videos(self._load_val),
                window_size=self.window_size,
                window_stride=self.window_stride,
                transform=self.eval_transform,
            )


class SiminetPairDataModule(_ActionVideosDataModule):
    """SimiNet pairs (Clownfish section VI-A) from the train and val videos.

    Training pairs are redrawn (temporal crops and augmentation) every epoch unless ``seed``
    is set; validation pairs use the eval transform and ``val_seed``, so every epoch scores
    the same pairs. ``previous_frames`` is the length of ``C_{t-1}`` (default
    ``2 * window_size``); ``share_augmentation`` gives both clips of a pair the same crop and
    flip; ``feature_extractor``, when set, turns items into feature pairs (see
    :class:`~edgecloud.data.action_dataset.SiminetPairDataset`). The paper trains with batches
    of 16.
    """

    def __init__(
        self,
        *,
        class_names: Sequence[str],
        train_videos: ActionVideoLoader,
        val_videos: ActionVideoLoader,
        prepare: Callable[[], object] | None = None,
        window_size: int = 16,
        previous_frames: int | None = None,
        input_size: int = 112,
        batch_size: int = 16,
        val_batch_size: int | None = None,
        num_workers: int = 0,
        scales: Sequence[float] = DEFAULT_SCALES,
        crop_positions: Sequence[str] = CROP_POSITIONS,
        horizontal_flip: float = 0.5,
        mean: Sequence[float] = KINETICS_MEAN,
        std: Sequence[float] = KINETICS_STD,
        share_augmentation: bool = True,
        feature_extractor: FeatureExtractor | None = None,
        seed: int | None = None,
        val_seed: int = 0,
        pin_memory: bool = False,
        drop_last_train: bool = False,
    ) -> None:
        super().__init__(
            class_names=class_names,
            train_videos=train_videos,
            val_videos=val_videos,
            prepare=prepare,
            window_size=window_size,
            input_size=input_size,
            batch_size=batch_size,
            val_batch_size=val_batch_size,
            num_workers=num_workers,
            scales=scales,
            crop_positions=crop_positions,
            horizontal_flip=horizontal_flip,
            mean=mean,
            std=std,
            seed=seed,
            pin_memory=pin_memory,
            drop_last_train=drop_last_train,
        )
        self.previous_frames = previous_frames
        self.share_augmentation = share_augmentation
        self.feature_extractor = feature_extractor
        self.val_seed = val_seed

    def _pairs(self, videos: list[ActionVideo], *, train: bool) -> SiminetPairDataset:
        return SiminetPairDataset(
            videos,
            window_size=self.window_size,
            previous_frames=self.previous_frames,
            transform=self.train_transform if train else self.eval_transform,
            share_augmentation=self.share_augmentation,
            seed=self.seed if train else self.val_seed,
            feature_extractor=self.feature_extractor,
        )

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = self._pairs(self._videos(self._load_train), train=True)
        if self.val_set is None:
            self.val_set = self._pairs(self._videos(self._load_val), train=False)
