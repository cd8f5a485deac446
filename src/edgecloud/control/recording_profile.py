"""CAC's offline profiling run on a knob recording: the tail-frame threshold and the per-knob
profiles, from the recorded bytes, per-frame accuracies and small-region ratios.

*Tail frames* are the ``tail_fraction`` worst profiling frames by their accuracy under
degradation — a frame's per-frame mIoU averaged over every recorded configuration — so that
which frames are tail frames is a property of the content, shared by every configuration (the
paper's 90%-100% tail). The tail-frame threshold is fitted on every (configuration, frame)
point of the profiling frames — the small-region ratio of the server's prediction against that
frame's accuracy, as in the paper's Fig. 6 — by :func:`~edgecloud.control.tail_frames.
fit_tail_threshold`. :func:`~edgecloud.control.profiling.profile_knobs` then profiles every
configuration on the ordinary and on the tail frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgecloud.control.profiling import KnobProfile, profile_knobs
from edgecloud.control.tail_frames import (
    TailThresholdFit,
    detect_tail_frames,
    fit_tail_threshold,
    recall_precision,
)
from edgecloud.recording.knobs import KnobRecording


@dataclass(frozen=True)
class RecordingProfile:
    """What offline profiling learned from ``clips`` of a knob recording."""

    clips: tuple[str, ...]
    num_frames: int
    num_tail_frames: int
    threshold_fit: TailThresholdFit
    profiles: tuple[KnobProfile, ...]


@dataclass(frozen=True)
class ClipArrays:
    """The arrays profiling reads, for some clips concatenated along frames: ``(K, F)``."""

    frame_bytes: np.ndarray
    frame_miou: np.ndarray
    small_ratio: np.ndarray


def concatenated_clips(recording: KnobRecording, clip_names: Sequence[str]) -> ClipArrays:
    """Bytes, per-frame mIoU and prediction small-region ratios of ``clip_names``, frames of
    consecutive clips side by side."""
    if not clip_names:
        raise ValueError("no clips to profile")
    clips = [recording.clip(name) for name in clip_names]

    def joined(key: str) -> np.ndarray:
        return np.concatenate([clip.arrays[key] for clip in clips], axis=1)

    return ClipArrays(
        frame_bytes=joined("frame_bytes"),
        frame_miou=joined("frame_miou"),
        small_ratio=joined("small_ratio"),
    )


def tail_frames_by_accuracy(frame_miou: np.ndarray, *, tail_fraction: float) -> np.ndarray:
    """Bool per frame: its mIoU averaged over configurations ``(K, F)`` is among the
    ``tail_fraction`` worst (at or below that quantile, taken on the frames' own values)."""
    if not 0.0 < tail_fraction < 1.0:
        raise ValueError(f"tail_fraction must lie in (0, 1), got {tail_fraction}")
    accuracy = np.asarray(frame_miou, dtype=np.float64).mean(axis=0)
    return accuracy <= np.quantile(accuracy, tail_fraction, method="lower")


def profile_recording(
    recording: KnobRecording,
    *,
    clip_names: Sequence[str],
    tail_fraction: float = 0.1,
    min_recall: float = 0.9,
) -> RecordingProfile:
    """Fit the tail-frame threshold and profile every configuration on ``clip_names``."""
    arrays = concatenated_clips(recording, clip_names)
    is_tail = tail_frames_by_accuracy(arrays.frame_miou, tail_fraction=tail_fraction)
    threshold_fit = fit_tail_threshold(
        arrays.small_ratio.ravel(),
        arrays.frame_miou.ravel(),
        tail_fraction=tail_fraction,
        min_recall=min_recall,
    )
    profiles = profile_knobs(
        {knob: arrays.frame_bytes[k] for k, knob in enumerate(recording.knobs)},
        {knob: arrays.frame_miou[k] for k, knob in enumerate(recording.knobs)},
        is_tail=is_tail,
    )
    return RecordingProfile(
        clips=tuple(clip_names),
        num_frames=int(is_tail.size),
        num_tail_frames=int(is_tail.sum()),
        threshold_fit=threshold_fit,
        profiles=tuple(profiles),
    )


def tail_detection_scores(
    recording: KnobRecording,
    *,
    clip_names: Sequence[str],
    threshold: float,
    tail_fraction: float = 0.1,
) -> dict[str, tuple[float, float]]:
    """Recall and precision of the detector at ``threshold`` on ``clip_names`` (e.g. frames
    held out of profiling), per scale, against the tail frames by accuracy of each scale's
    (configuration, frame) points — the paper's Fig. 6 — keyed ``x<scale>``."""
    arrays = concatenated_clips(recording, clip_names)
    scores = {}
    for scale in sorted({knob.scale for knob in recording.knobs}):
        rows = [k for k, knob in enumerate(recording.knobs) if knob.scale == scale]
        accuracy = arrays.frame_miou[rows].ravel()
        actual = accuracy <= np.quantile(accuracy, tail_fraction, method="lower")
        detected = detect_tail_frames(arrays.small_ratio[rows].ravel(), threshold=threshold)
        scores[f"x{scale}"] = recall_precision(detected, actual)
    return scores
