"""Torch datasets for temporal action recognition the way Clownfish trains and evaluates.

* :class:`ActionClipDataset` (training the local and remote models): clips drawn only inside
  action segments, as the paper trains "only on those portions of a video that contain a class
  category". Each item is one clip of ``window_size`` frames at a random temporal position
  inside one segment; every segment gives ``clips_per_segment`` items per epoch (1, one clip
  per action instance, is what 3D-ResNets does on trimmed clips).
* :class:`ActionWindowDataset` (validation and recording): every window of every video in
  stream order, with the window's ground truth from the half-coverage rule.
* :class:`SiminetPairDataset` (training SimiNet, section VI-A): for every action segment
  ``C_t`` the ``2 * window_size`` frames right before it form ``C_{t-1}``; the ordered pair
  ``(C_{t-1}, C_t)`` is labelled 0 (different) and ``(C_t, C_t)`` 1 (same).

Classes. The local and remote models output probabilities over the ``C`` action classes only
(Clownfish fuses such vectors, and its accuracy counts only frames that contain an action), so
targets are class indices ``0..C-1``: action id ``k`` (``1..C``) becomes ``k - 1``. A
background window has target :data:`IGNORE_INDEX`, the default ``ignore_index`` of
:func:`torch.nn.functional.cross_entropy`, so a validation loss and accuracy skip it without
extra code; its raw id 0 stays in ``window_label``.

Randomness. Each item draws from its own ``numpy.random.Generator`` (see
:func:`item_generator`): with a ``seed`` an item is the same every epoch (reproducible
validation pairs, tests); without one the generator is seeded from torch's RNG, which the
DataLoader seeds per worker from the main process (and Lightning's ``seed_everything``), so
augmentation differs between epochs yet a seeded run repeats exactly.

Items are ``(clip, target)`` with ``clip`` a ``(3, T, S, S)`` float32 tensor and ``target`` a
dict of scalar tensors; pairs are ``(first, second, target)``. The default collate stacks them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from edgecloud.data.action_transforms import (
    EvalClipTransform,
    TrainClipTransform,
    temporal_random_crop,
)
from edgecloud.data.action_video import BACKGROUND, ActionSegment, ActionVideo
from edgecloud.data.action_windows import FrameCache, read_frames, window_starts
from edgecloud.metrics.action import window_labels

IGNORE_INDEX = -100
"""Target of a background window: cross-entropy's default ``ignore_index``."""

DIFFERENT, SAME = 0, 1
"""SimiNet pair labels: ``(C_{t-1}, C_t)`` and ``(C_t, C_t)``."""


class ClipTransform(Protocol):
    """``(T, H, W, 3)`` uint8 clip → ``(3, T, S, S)`` float32 tensor, randomness from ``generator``."""

    def __call__(self, clip: np.ndarray, *, generator: np.random.Generator) -> torch.Tensor: ...


FeatureExtractor = Callable[[torch.Tensor], torch.Tensor]
"""``(N, 3, T, S, S)`` clips → ``(N, D)`` features, e.g. the frozen local model's penultimate
layer. It runs on whatever device it moves its input to; outputs are brought back to the CPU."""


def item_generator(seed: int | None, *keys: int) -> np.random.Generator:
    """A generator for one item: from ``(seed, *keys)``, or from torch's RNG when ``seed`` is None.

    Torch's RNG is the one DataLoader workers are seeded with (``base_seed + worker_id``), so
    unseeded datasets still repeat under a fixed global seed, and differ from epoch to epoch.
    """
    if seed is None:
        return np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))
    return np.random.default_rng([seed, *keys])


def check_action_labels(videos: Sequence[ActionVideo], *, num_classes: int) -> None:
    """Fail naming the video when a segment's class id is outside ``1..num_classes``."""
    for video in videos:
        for segment in video.segments:
            if not 1 <= segment.label <= num_classes:
                raise ValueError(
                    f"{video.name}: segment [{segment.start}, {segment.end}) has class "
                    f"{segment.label}, outside 1..{num_classes} (the class_names given)"
                )


def action_target(label: int) -> int:
    """Action id ``1..C`` → class index ``0..C-1``; background → :data:`IGNORE_INDEX`."""
    return IGNORE_INDEX if label == BACKGROUND else label - 1


def _scalar(value: int | float, dtype: torch.dtype = torch.int64) -> torch.Tensor:
    return torch.tensor(value, dtype=dtype)


class ActionClipDataset(Dataset):
    """Training clips from inside action segments, ``clips_per_segment`` items per segment.

    Item ``(clip, target)``: ``clip`` covers ``window_size`` consecutive frames at a uniformly
    random position inside the segment (a segment shorter than a window is looped, see
    :func:`~edgecloud.data.action_transforms.temporal_random_crop`), passed through
    ``transform`` (default :class:`TrainClipTransform`); ``target`` holds ``label`` (class
    index ``0..C-1``), ``video_index``, ``segment_index`` and ``start`` (first frame read).
    """

    def __init__(
        self,
        videos: Sequence[ActionVideo],
        *,
        window_size: int = 16,
        clips_per_segment: int = 1,
        transform: ClipTransform | None = None,
        seed: int | None = None,
    ) -> None:
        if window_size < 1:
            raise ValueError(f"window_size must be >= 1, got {window_size}")
        if clips_per_segment < 1:
            raise ValueError(f"clips_per_segment must be >= 1, got {clips_per_segment}")
        self.videos = list(videos)
        self.window_size = window_size
        self.clips_per_segment = clips_per_segment
        self.transform = transform if transform is not None else TrainClipTransform()
        self.seed = seed
        self.index = [
            (video_index, segment_index)
            for video_index, video in enumerate(self.videos)
            for segment_index in range(len(video.segments))
            for _ in range(clips_per_segment)
        ]

    def __len__(self) -> int:
        return len(self.index)

    def segment(self, item: int) -> ActionSegment:
        video_index, segment_index = self.index[item]
        return self.videos[video_index].segments[segment_index]

    def __getitem__(self, item: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        video_index, segment_index = self.index[item]
        segment = self.videos[video_index].segments[segment_index]
        generator = item_generator(self.seed, item)
        indices = temporal_random_crop(
            segment.start, segment.end, size=self.window_size, generator=generator
        )
        clip = read_frames(self.videos[video_index].frames, indices)
        target = {
            "label": _scalar(action_target(segment.label)),
            "video_index": _scalar(video_index),
            "segment_index": _scalar(segment_index),
            "start": _scalar(int(indices[0])),
        }
        return self.transform(clip, generator=generator), target


class ActionWindowDataset(Dataset):
    """Every window of every video, in stream order, through a deterministic transform.

    Item ``(clip, target)``: ``target`` holds ``label`` (class index, or :data:`IGNORE_INDEX`
    for a background window), ``window_label`` (raw id, 0 = background), ``video_index``,
    ``window_index`` (within its video) and ``start`` (the window's first frame).
    ``starts[v]`` and ``labels[v]`` are video ``v``'s window starts and raw labels. Frames
    shared by consecutive windows are read once when items are taken in order.
    """

    def __init__(
        self,
        videos: Sequence[ActionVideo],
        *,
        window_size: int = 16,
        window_stride: int = 4,
        transform: ClipTransform | None = None,
    ) -> None:
        self.videos = list(videos)
        self.window_size = window_size
        self.window_stride = window_stride
        self.transform = transform if transform is not None else EvalClipTransform()
        window = {"window_size": window_size, "window_stride": window_stride}
        self.starts = [window_starts(video.num_frames, **window) for video in self.videos]
        self.labels = [window_labels(video.frame_labels(), **window) for video in self.videos]
        self.index = [
            (video_index, window_index)
            for video_index, starts in enumerate(self.starts)
            for window_index in range(len(starts))
        ]
        self._cache = FrameCache(capacity=window_size + window_stride)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        video_index, window_index = self.index[item]
        start = int(self.starts[video_index][window_index])
        label = int(self.labels[video_index][window_index])
        clip = read_frames(
            self.videos[video_index].frames,
            np.arange(start, start + self.window_size),
            cache=self._cache,
        )
        target = {
            "label": _scalar(action_target(label)),
            "window_label": _scalar(label),
            "video_index": _scalar(video_index),
            "window_index": _scalar(window_index),
            "start": _scalar(start),
        }
        return self.transform(clip, generator=item_generator(0, item)), target


def _two_different_starts(
    start: int, end: int, *, size: int, generator: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Two clips of ``[start, end)`` at different random positions, the earlier one first.

    When the range holds only one clip position (length <= size) both are that clip.
    """
    positions = end - start - size + 1
    if positions <= 1:
        clip = temporal_random_crop(start, end, size=size, generator=generator)
        return clip, clip.copy()
    first, second = generator.choice(positions, size=2, replace=False)
    first, second = sorted((int(first), int(second)))
    return (
        np.arange(start + first, start + first + size, dtype=np.int64),
        np.arange(start + second, start + second + size, dtype=np.int64),
    )


class SiminetPairDataset(Dataset):
    """SimiNet's ordered training pairs (Clownfish section VI-A), two per action segment.

    For segment ``C_t`` starting at frame ``s``, ``C_{t-1}`` is frames
    ``[s - previous_frames, s)`` (``previous_frames`` defaults to ``2 * window_size``, the
    paper's example), whatever they hold: background or the end of the previous action.

    * ``(C_{t-1}, C_t)``, label :data:`DIFFERENT` (0): a random clip of ``C_{t-1}`` then a
      random clip of ``C_t``;
    * ``(C_t, C_t)``, label :data:`SAME` (1): two clips of ``C_t`` at different random
      positions (temporal random cropping), the earlier first, as consecutive windows arrive;
      a segment with room for only one position gives that clip twice.

    A segment that starts too early for a full ``C_{t-1}`` uses the frames it has,
    ``[0, s)``, if they hold at least one window (``s >= window_size``); otherwise there is no
    valid ``C_{t-1}`` and the segment gives no pairs at all (both are dropped, keeping the two
    labels balanced); ``skipped`` lists those ``(video_index, segment_index)``.

    Augmentation: ``transform`` (default :class:`TrainClipTransform`). With
    ``share_augmentation`` (default) the two clips of a pair get the same spatial crop and
    flip when the transform can :meth:`~TrainClipTransform.sample` one: at run time SimiNet
    compares consecutive windows of one camera, so only time should differ within a pair.

    Item ``(first, second, target)``: two ``(3, T, S, S)`` clips, or with
    ``feature_extractor`` their ``(D,)`` features (computed under ``torch.inference_mode``);
    ``target`` holds ``label`` (float32 0/1, for BCE), ``video_index``, ``segment_index``,
    ``first_start`` and ``second_start``. To train on features of a frozen model on a GPU,
    leave ``feature_extractor`` unset and run the model on the batch in the training step, or
    see :func:`precompute_pair_features`.
    """

    def __init__(
        self,
        videos: Sequence[ActionVideo],
        *,
        window_size: int = 16,
        previous_frames: int | None = None,
        transform: ClipTransform | None = None,
        share_augmentation: bool = True,
        seed: int | None = None,
        feature_extractor: FeatureExtractor | None = None,
    ) -> None:
        if window_size < 1:
            raise ValueError(f"window_size must be >= 1, got {window_size}")
        previous_frames = 2 * window_size if previous_frames is None else previous_frames
        if previous_frames < window_size:
            raise ValueError(
                f"previous_frames ({previous_frames}) must hold a window ({window_size})"
            )
        self.videos = list(videos)
        self.window_size = window_size
        self.previous_frames = previous_frames
        self.transform = transform if transform is not None else TrainClipTransform()
        self.share_augmentation = share_augmentation
        self.seed = seed
        self.feature_extractor = feature_extractor
        self.index: list[tuple[int, int, int]] = []
        self.skipped: list[tuple[int, int]] = []
        for video_index, video in enumerate(self.videos):
            for segment_index, segment in enumerate(video.segments):
                if segment.start < window_size:
                    self.skipped.append((video_index, segment_index))
                    continue
                self.index.append((video_index, segment_index, DIFFERENT))
                self.index.append((video_index, segment_index, SAME))

    def __len__(self) -> int:
        return len(self.index)

    def previous_range(self, video_index: int, segment_index: int) -> tuple[int, int]:
        """``[start, end)`` of ``C_{t-1}``, the frames right before the segment."""
        start = self.videos[video_index].segments[segment_index].start
        return max(0, start - self.previous_frames), start

    def _transform_pair(
        self, first: np.ndarray, second: np.ndarray, generator: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        sample = getattr(self.transform, "sample", None)
        if self.share_augmentation and sample is not None:
            augmentation = sample(height=first.shape[1], width=first.shape[2], generator=generator)
            return self.transform.apply(first, augmentation), self.transform.apply(
                second, augmentation
            )
        return self.transform(first, generator=generator), self.transform(
            second, generator=generator
        )

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        video_index, segment_index, label = self.index[item]
        video = self.videos[video_index]
        segment = video.segments[segment_index]
        generator = item_generator(self.seed, item)
        size = self.window_size
        if label == DIFFERENT:
            before_start, before_end = self.previous_range(video_index, segment_index)
            first = temporal_random_crop(before_start, before_end, size=size, generator=generator)
            second = temporal_random_crop(
                segment.start, segment.end, size=size, generator=generator
            )
        else:
            first, second = _two_different_starts(
                segment.start, segment.end, size=size, generator=generator
            )
        cache = FrameCache(capacity=2 * size)
        clip_a, clip_b = self._transform_pair(
            read_frames(video.frames, first, cache=cache),
            read_frames(video.frames, second, cache=cache),
            generator,
        )
        if self.feature_extractor is not None:
            with torch.inference_mode():
                features = self.feature_extractor(torch.stack([clip_a, clip_b])).detach().cpu()
            clip_a, clip_b = features[0].clone(), features[1].clone()
        target = {
            "label": _scalar(float(label), torch.float32),
            "video_index": _scalar(video_index),
            "segment_index": _scalar(segment_index),
            "first_start": _scalar(int(first[0])),
            "second_start": _scalar(int(second[0])),
        }
        return clip_a, clip_b, target


class PairFeatureDataset(Dataset):
    """Precomputed SimiNet inputs: ``(first[i], second[i], {"label": labels[i]})``."""

    def __init__(self, first: torch.Tensor, second: torch.Tensor, labels: torch.Tensor) -> None:
        if not len(first) == len(second) == len(labels):
            raise ValueError(
                f"need as many firsts, seconds and labels, got "
                f"{len(first)}, {len(second)}, {len(labels)}"
            )
        self.first, self.second, self.labels = first, second, labels.float()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        return self.first[item], self.second[item], {"label": self.labels[item]}


def precompute_pair_features(
    pairs: SiminetPairDataset,
    *,
    feature_extractor: FeatureExtractor,
    batch_size: int = 16,
    num_workers: int = 0,
) -> PairFeatureDataset:
    """Run ``feature_extractor`` once over every pair (one augmentation draw per pair).

    Cheaper than extracting every epoch, at the cost of freezing the augmentation; concatenate
    several calls on an unseeded dataset for more draws.
    """
    if pairs.feature_extractor is not None:
        raise ValueError("the pair dataset already extracts features; pass one without")
    loader = DataLoader(pairs, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    firsts, seconds, labels = [], [], []
    with torch.inference_mode():
        for first, second, target in loader:
            firsts.append(feature_extractor(first).detach().cpu())
            seconds.append(feature_extractor(second).detach().cpu())
            labels.append(target["label"])
    if not labels:
        raise ValueError("the pair dataset is empty: no segment has a window of frames before it")
    return PairFeatureDataset(torch.cat(firsts), torch.cat(seconds), torch.cat(labels))
