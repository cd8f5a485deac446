"""Windows labelled relevant (an action) or irrelevant (background), for the filtering baseline.

Clownfish (section VI-G) compares itself with EarlyDiscard/FilterForward-style filtering: a small
3D CNN on the edge classifies every window as relevant (it holds an action) or not, and only
relevant windows go to the cloud. That classifier needs windows of both kinds, whereas the action
models train only inside actions; this module provides them:

* :class:`RelevanceWindowDataset`: windows cut from the whole stream, labelled
  :data:`RELEVANT` (1) when an action covers at least half of the window (the window manager's
  rule, :func:`~edgecloud.metrics.action.window_labels`) and :data:`IRRELEVANT` (0)
  otherwise. For training, windows are spaced ``window_stride`` frames apart and each item is
  shifted by a random offset inside its stride (temporal random cropping), so an epoch sees
  different windows, transition windows and background fidgets included; for validation the
  windows are the stream's own (every ``window_stride`` frames, no shift, in order).
* :class:`RelevanceDataModule`: the two datasets, taking the arguments of
  :class:`~edgecloud.data.action_datamodule.ActionDataModule` (but ``clips_per_segment``) so
  the same data config serves both (only ``_target_`` changes).

Targets are ``{"label": 0 | 1, "window_label": raw class id, "video_index", "window_index",
"start"}``; ``window_index`` counts windows of the video at this dataset's stride.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from edgecloud.data.action_datamodule import ActionVideoLoader, _ActionVideosDataModule
from edgecloud.data.action_dataset import ClipTransform, check_action_labels, item_generator
from edgecloud.data.action_transforms import (
    CROP_POSITIONS,
    DEFAULT_SCALES,
    KINETICS_MEAN,
    KINETICS_STD,
    EvalClipTransform,
)
from edgecloud.data.action_video import BACKGROUND, ActionVideo
from edgecloud.data.action_windows import FrameCache, read_frames, window_starts
from edgecloud.metrics.action import window_labels

IRRELEVANT, RELEVANT = 0, 1
"""Targets of a background window and of a window that holds an action."""

RELEVANCE_CLASS_NAMES: tuple[str, ...] = ("background", "action")
"""Names of the targets ``0`` and ``1``."""


def _scalar(value: int) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.int64)


class RelevanceWindowDataset(Dataset):
    """Every ``window_stride``-th window of every video, labelled action (1) or background (0).

    With ``random_offset`` item ``k`` of a video starts at ``k * window_stride + u`` with ``u``
    uniform in ``[0, window_stride)`` (clamped to the last window that fits), drawn per item
    from ``seed`` (or torch's RNG when ``seed`` is None, so it changes every epoch); its label
    is computed for the shifted window. Without it the windows are exactly the stream's, as
    :class:`~edgecloud.data.action_dataset.ActionWindowDataset` serves them. ``transform``
    defaults to :class:`~edgecloud.data.action_transforms.EvalClipTransform`.
    """

    def __init__(
        self,
        videos: Sequence[ActionVideo],
        *,
        window_size: int = 16,
        window_stride: int = 4,
        random_offset: bool = False,
        transform: ClipTransform | None = None,
        seed: int | None = None,
    ) -> None:
        if window_size < 1 or window_stride < 1:
            raise ValueError(
                f"window_size and window_stride must be >= 1, got {window_size}, {window_stride}"
            )
        self.videos = list(videos)
        self.window_size = window_size
        self.window_stride = window_stride
        self.random_offset = random_offset
        self.transform = transform if transform is not None else EvalClipTransform()
        self.seed = seed
        self.starts = [
            window_starts(v.num_frames, window_size=window_size, window_stride=window_stride)
            for v in self.videos
        ]
        # The raw label of the window starting at every frame, so shifted windows are labelled
        # by the same rule as the stream's.
        self._labels_by_start = [
            window_labels(v.frame_labels(), window_size=window_size, window_stride=1)
            for v in self.videos
        ]
        self.index = [
            (video_index, window_index)
            for video_index, starts in enumerate(self.starts)
            for window_index in range(len(starts))
        ]
        self._cache = FrameCache(capacity=window_size + window_stride)

    def __len__(self) -> int:
        return len(self.index)

    def labels(self) -> np.ndarray:
        """``(len(self),)`` targets of the unshifted windows (class balance, tests)."""
        return np.array(
            [int(self._labels_by_start[v][self.starts[v][w]] != BACKGROUND) for v, w in self.index],
            dtype=np.int64,
        )

    def __getitem__(self, item: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        video_index, window_index = self.index[item]
        video = self.videos[video_index]
        generator = item_generator(self.seed, item)
        start = int(self.starts[video_index][window_index])
        if self.random_offset:
            last = video.num_frames - self.window_size
            start = min(start + int(generator.integers(0, self.window_stride)), last)
        label = int(self._labels_by_start[video_index][start])
        clip = read_frames(
            video.frames, np.arange(start, start + self.window_size), cache=self._cache
        )
        target = {
            "label": _scalar(RELEVANT if label != BACKGROUND else IRRELEVANT),
            "window_label": _scalar(label),
            "video_index": _scalar(video_index),
            "window_index": _scalar(window_index),
            "start": _scalar(start),
        }
        return self.transform(clip, generator=generator), target


class RelevanceDataModule(_ActionVideosDataModule):
    """Action-vs-background windows: shifted, augmented training windows every
    ``train_window_stride`` frames (default: one window length, so training windows barely
    overlap) and every stream window (``window_stride``) for validation.

    ``class_names`` are the dataset's action classes (to read and check the videos, as for
    :class:`~edgecloud.data.action_datamodule.ActionDataModule`); the targets this module
    serves are named by :attr:`class_names` = :data:`RELEVANCE_CLASS_NAMES`, the action names
    stay in :attr:`action_names`. Other arguments as for ``ActionDataModule``.
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
        train_window_stride: int | None = None,
        input_size: int = 112,
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
        train_window_stride = window_size if train_window_stride is None else train_window_stride
        if window_stride < 1 or train_window_stride < 1:
            raise ValueError(
                f"window strides must be >= 1, got {window_stride} and {train_window_stride}"
            )
        self.action_names = list(class_names)
        self.class_names = list(RELEVANCE_CLASS_NAMES)
        self.window_stride = window_stride
        self.train_window_stride = train_window_stride

    def _videos(self, loader: ActionVideoLoader) -> list[ActionVideo]:
        videos = list(loader())
        check_action_labels(videos, num_classes=len(self.action_names))
        return videos

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = RelevanceWindowDataset(
                self._videos(self._load_train),
                window_size=self.window_size,
                window_stride=self.train_window_stride,
                random_offset=True,
                transform=self.train_transform,
                seed=self.seed,
            )
        if self.val_set is None:
            self.val_set = RelevanceWindowDataset(
                self._videos(self._load_val),
                window_size=self.window_size,
                window_stride=self.window_stride,
                transform=self.eval_transform,
            )
