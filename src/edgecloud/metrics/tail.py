"""Tail accuracy, section II-A and V-A of Wang et al., "Enabling Edge-Cloud Video Analytics for
Robotics Applications" (Runespoor): how badly the *worst* classes and the *worst*
stretches of video fare, which an overall mIoU/mAP hides.

Class-wise (Table I, Table II, Fig. 8): the *tail classes* are the worst half of the classes,
``floor(n / 2)`` of the ``n`` classes that have a score (9 of Cityscapes' 19), ranked by a
per-class score vector, worst first, ties going to the lower class index. The paper ranks by a
degraded baseline's accuracy normalised by the accuracy on the original high-resolution frames
(HR): Table I's nine rows are exactly Bilinear IoU / HR IoU in ascending order. Which baseline
ranks is the caller's choice; the same selected classes are then used for every method.
Classes whose score is NaN (no IoU, an HR IoU of 0, or a detection class without ground truth
given as ``None``) take no part in the ranking and are never selected. For a method, the tail
accuracy is the plain mean of its IoUs (or APs) over the tail classes, and the normalised one
that mean divided by HR's mean over the same classes (Table I's "normalized" row).

Note on Table I itself: the means of its printed per-class IoUs reproduce the "tail classes"
row for Bilinear (54.11), standard SR (61.73) and ASR (66.92) but not for CloudSeg (63.92
against 62.72 printed) nor HR (67.98 against 68.30), and the "normalized" row divides by the
printed 68.30 (Bilinear 54.11 / 68.30 = 0.79; from the per-class IoUs it is 0.80).

Frame-wise (Table III, Fig. 2 and 10): per-frame accuracies (e.g. per-frame mIoU,
:func:`edgecloud.metrics.segmentation.frame_mean_iou`) are cut, clip by clip, into consecutive
*episodes* of ``episode_length`` (10) frames, and an episode's value is the mean of its
frames. The tail accuracies are low percentiles of the episode values: ``tail_90`` is the
accuracy 90% of episodes reach (the 10th percentile) and ``tail_99`` the one 99% reach (the 1st
percentile), both with numpy's default ``method="linear"`` interpolation; ``mean`` is the mean
of the episode values (Fig. 10's horizontal lines, not the accumulated mIoU). A clip's last
``len % episode_length`` frames make a shorter episode only with ``drop_last=False``; by
default (``drop_last=True``) they are dropped, so every episode spans the same time.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ClassTailAccuracy",
    "FrameTailAccuracy",
    "class_tail_accuracy",
    "detection_tail_classes",
    "episode_values",
    "frame_tail_accuracy",
    "normalized_scores",
    "select_tail_classes",
]

PerClass = np.ndarray | Sequence[float] | Mapping[Hashable, float | None]
"""Per-class values: an array indexed by class, or a mapping class -> value (``None`` = no
value, e.g. a detection class without ground truth in :mod:`edgecloud.metrics.coco`)."""


def _vector(values: np.ndarray | Sequence[float], name: str) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float64)
    if vector.ndim != 1:
        raise ValueError(f"{name} must be a 1-D per-class vector, got shape {vector.shape}")
    return vector


def normalized_scores(
    values: np.ndarray | Sequence[float], reference: np.ndarray | Sequence[float]
) -> np.ndarray:
    """Per-class ``values / reference`` (e.g. a baseline's IoU over HR's, Fig. 1 and 7), NaN
    where either is NaN or the reference is 0."""
    values = _vector(values, "values")
    reference = _vector(reference, "reference")
    if values.shape != reference.shape:
        raise ValueError(f"values {values.shape} and reference {reference.shape} differ")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(reference != 0, values / reference, np.nan)


def select_tail_classes(
    scores: np.ndarray | Sequence[float], *, count: int | None = None
) -> np.ndarray:
    """Indices of the ``count`` lowest scores, worst first (ties: lower index first), among
    the classes with a finite score; ``count`` defaults to half of those, rounded down."""
    scores = _vector(scores, "scores")
    ranked = np.flatnonzero(np.isfinite(scores))
    if count is None:
        count = len(ranked) // 2
    if not 0 <= count <= len(ranked):
        raise ValueError(f"count must lie in 0..{len(ranked)} (classes with a score), got {count}")
    order = np.argsort(scores[ranked], kind="stable")
    return ranked[order[:count]].astype(np.int64)


def _mapping_vector(
    values: Mapping[Hashable, float | None], keys: Sequence[Hashable]
) -> np.ndarray:
    return np.array(
        [np.nan if values[key] is None else float(values[key]) for key in keys], dtype=np.float64
    )


def detection_tail_classes(
    ap: PerClass,
    *,
    reference_ap: PerClass | None = None,
    count: int | None = None,
) -> list[Hashable] | np.ndarray:
    """Tail classes of a detector (Fig. 8) with :func:`select_tail_classes`: ranked by ``ap``,
    or by ``ap / reference_ap`` when HR's APs are given. A mapping (e.g.
    ``DetectionMetrics.per_class_ap``, class name -> AP or ``None``) gives a list of its keys,
    worst first; an array gives class indices."""
    if isinstance(ap, Mapping):
        keys = list(ap)
        scores = _mapping_vector(ap, keys)
        if reference_ap is not None:
            if not isinstance(reference_ap, Mapping) or set(reference_ap) != set(keys):
                raise ValueError("reference_ap must be a mapping with the same classes as ap")
            scores = normalized_scores(scores, _mapping_vector(reference_ap, keys))
        return [keys[index] for index in select_tail_classes(scores, count=count)]
    scores = _vector(ap, "ap")
    if reference_ap is not None:
        if isinstance(reference_ap, Mapping):
            raise ValueError("reference_ap must be an array when ap is one")
        scores = normalized_scores(scores, reference_ap)
    return select_tail_classes(scores, count=count)


@dataclass(frozen=True)
class ClassTailAccuracy:
    """A method's class-wise tail accuracy: ``mean`` of its values over the tail classes (in
    the values' unit, e.g. IoU in [0, 1] or %) and ``normalized``, that mean over the
    reference's (HR) mean on the same classes."""

    mean: float
    normalized: float


def _take(values: PerClass, classes: Sequence[Hashable] | np.ndarray, name: str) -> np.ndarray:
    if isinstance(values, Mapping):
        return _mapping_vector(values, list(classes))
    return _vector(values, name)[np.asarray(classes, dtype=np.int64)]


def class_tail_accuracy(
    values: PerClass,
    *,
    tail_classes: Sequence[Hashable] | np.ndarray,
    reference: PerClass,
) -> ClassTailAccuracy:
    """Tail accuracy of one method (module docstring): ``values`` and ``reference`` are
    per-class IoUs or APs (arrays indexed by class, or mappings keyed like ``tail_classes``).
    A NaN/``None`` among the tail classes makes the result NaN."""
    if len(tail_classes) == 0:
        raise ValueError("tail_classes is empty")
    mean = float(_take(values, tail_classes, "values").mean())
    reference_mean = float(_take(reference, tail_classes, "reference").mean())
    normalized = mean / reference_mean if reference_mean != 0 else float("nan")
    return ClassTailAccuracy(mean=mean, normalized=normalized)


def episode_values(
    frame_values: np.ndarray | Sequence[float],
    *,
    clip_ids: np.ndarray | Sequence[Hashable] | None = None,
    episode_length: int = 10,
    drop_last: bool = True,
) -> np.ndarray:
    """Mean of every episode (module docstring): ``frame_values`` ``(F,)`` in temporal order
    within each clip, ``clip_ids`` ``(F,)`` the clip of every frame (``None``: one clip). A
    clip's frames need not be contiguous; episodes are listed clip by clip in order of first
    appearance."""
    values = _vector(frame_values, "frame_values")
    if episode_length < 1:
        raise ValueError(f"episode_length must be >= 1, got {episode_length}")
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"{int((~np.isfinite(values)).sum())} frame values are not finite "
            "(e.g. frames without scored pixels); drop or fill them first"
        )
    if clip_ids is None:
        clips = [np.arange(len(values))]
    else:
        ids = np.asarray(clip_ids)
        if ids.shape != values.shape:
            raise ValueError(f"clip_ids {ids.shape} and frame_values {values.shape} differ")
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        clips = [np.flatnonzero(inverse == clip) for clip in np.argsort(first, kind="stable")]
    episodes: list[float] = []
    for frames in clips:
        clip_values = values[frames]
        full = len(clip_values) // episode_length * episode_length
        if full:
            episodes.extend(clip_values[:full].reshape(-1, episode_length).mean(axis=1))
        if full < len(clip_values) and not drop_last:
            episodes.append(float(clip_values[full:].mean()))
    return np.asarray(episodes, dtype=np.float64)


@dataclass(frozen=True)
class FrameTailAccuracy:
    """Frame-wise accuracy over episodes: ``mean`` of the episode values, ``tail_90`` and
    ``tail_99`` their 10th and 1st percentiles (numpy ``method="linear"``), and the
    ``episodes`` themselves. All NaN when there is no episode."""

    mean: float
    tail_90: float
    tail_99: float
    episodes: np.ndarray


def frame_tail_accuracy(
    frame_values: np.ndarray | Sequence[float],
    *,
    clip_ids: np.ndarray | Sequence[Hashable] | None = None,
    episode_length: int = 10,
    drop_last: bool = True,
) -> FrameTailAccuracy:
    """Table III's mean / 90% / 99% accuracy of per-frame accuracies (see
    :func:`episode_values` for the arguments)."""
    episodes = episode_values(
        frame_values, clip_ids=clip_ids, episode_length=episode_length, drop_last=drop_last
    )
    if len(episodes) == 0:
        nan = float("nan")
        return FrameTailAccuracy(mean=nan, tail_90=nan, tail_99=nan, episodes=episodes)
    tail_90, tail_99 = np.percentile(episodes, [10.0, 1.0], method="linear")
    return FrameTailAccuracy(
        mean=float(episodes.mean()),
        tail_90=float(tail_90),
        tail_99=float(tail_99),
        episodes=episodes,
    )
