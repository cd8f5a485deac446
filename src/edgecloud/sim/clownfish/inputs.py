"""What a Clownfish replay reads: per video, what the local and remote models, SimiNet and the
relevance model said about every window, their measured latencies and the encoded frame sizes.

:class:`ClownfishSequence` holds one video as plain numpy arrays; windows follow the paper's
Window Manager (window ``t`` holds frames ``t * stride .. t * stride + size - 1``, see
:mod:`edgecloud.fusion.clownfish_filter`). A recording written by the action recorder is read
with :func:`open_action_recording` and :meth:`ClownfishSequence.from_recording`; tests and the
benchmark build sequences in memory (:mod:`edgecloud.sim.clownfish.synthetic`).

Probability columns are model outputs: column ``c`` is class id ``c + class_offset`` (the
training tasks' classifiers output the actions ``1..C`` only, so the default offset is 1; a
model with a background column 0 has offset 0). The offset belongs to the scenario config.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from edgecloud.fusion.clownfish_filter import num_windows

ARRAY_FIELDS = (
    "window_starts",
    "frame_labels",
    "window_labels",
    "local_probs",
    "remote_probs",
    "local_features",
    "similarity",
    "relevance",
    "local_latency_s",
    "remote_latency_s",
    "siminet_latency_s",
    "frame_bytes",
    "relevance_latency_s",
)
OPTIONAL_FIELDS = (
    "local_features",
    "similarity",
    "relevance",
    "siminet_latency_s",
    "relevance_latency_s",
)
"""Absent (None) in a recording without that model: SimiNet (``similarity``,
``siminet_latency_s``) or the relevance model (``relevance``, ``relevance_latency_s``)."""


@dataclass(frozen=True, eq=False)
class ClownfishSequence:
    """One video's replay inputs (``W`` windows, ``F`` frames, ``C`` classes):

    - ``name``, ``fps``, ``num_frames``, ``window_size``, ``window_stride``;
    - ``window_starts`` ``(W,)`` first frame of each window (``t * window_stride``);
    - ``frame_labels`` ``(F,)`` ground truth, 0 = background; ``window_labels`` ``(W,)``
      (:func:`edgecloud.metrics.action.window_labels`);
    - ``local_probs`` / ``remote_probs`` ``(W, C)`` the edge's and the cloud's probability
      vectors; ``local_features`` ``(W, D)`` or None (the local model's features, SimiNet's
      input; only the similarity traces use them);
    - ``similarity`` ``(W,)`` SimiNet's ``rho_t`` between windows ``t - 1`` and ``t``
      (``rho_0 = 0``), or None without SimiNet; ``relevance`` ``(W,)`` the filtering
      baseline's "contains an action" probability, or None without a relevance model;
    - ``local_latency_s``, ``remote_latency_s``, ``siminet_latency_s`` (or None),
      ``relevance_latency_s`` (or None) ``(W,)`` measured seconds per window;
      ``frame_bytes`` ``(F,)`` each frame's PNG size.

    Arrays are checked and stored read-only (float64 / int64)."""

    name: str
    fps: float
    num_frames: int
    window_size: int
    window_stride: int
    window_starts: np.ndarray
    frame_labels: np.ndarray
    window_labels: np.ndarray
    local_probs: np.ndarray
    remote_probs: np.ndarray
    local_features: np.ndarray | None
    similarity: np.ndarray | None
    relevance: np.ndarray | None
    local_latency_s: np.ndarray
    remote_latency_s: np.ndarray
    siminet_latency_s: np.ndarray | None
    frame_bytes: np.ndarray
    relevance_latency_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        where = f"sequence {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a sequence name must be a non-empty string, got {self.name!r}")
        if not (isinstance(self.fps, int | float) and math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"{where}: fps must be positive, got {self.fps!r}")
        for key in ("num_frames", "window_size", "window_stride"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{where}: {key} must be an integer >= 1, got {value!r}")
            object.__setattr__(self, key, int(value))
        object.__setattr__(self, "fps", float(self.fps))
        count = num_windows(
            self.num_frames, window_size=self.window_size, window_stride=self.window_stride
        )
        if count < 1:
            raise ValueError(
                f"{where}: {self.num_frames} frames make no window of {self.window_size}"
            )
        integer = {"window_starts", "frame_labels", "window_labels", "frame_bytes"}
        shapes: dict[str, tuple[int, ...]] = {
            "window_starts": (count,),
            "frame_labels": (self.num_frames,),
            "window_labels": (count,),
            "similarity": (count,),
            "relevance": (count,),
            "local_latency_s": (count,),
            "remote_latency_s": (count,),
            "siminet_latency_s": (count,),
            "relevance_latency_s": (count,),
            "frame_bytes": (self.num_frames,),
        }
        for key in ARRAY_FIELDS:
            value = getattr(self, key)
            if value is None:
                if key not in OPTIONAL_FIELDS:
                    raise ValueError(f"{where}: {key} is required")
                continue
            array = np.array(value, dtype=np.int64 if key in integer else np.float64)
            if key in integer and not np.array_equal(array, np.asarray(value)):
                raise ValueError(f"{where}: {key} must hold whole numbers")
            expected = shapes.get(key)
            if expected is not None and array.shape != expected:
                raise ValueError(f"{where}: {key} must have shape {expected}, got {array.shape}")
            if key not in integer and not np.all(np.isfinite(array)):
                raise ValueError(f"{where}: {key} must be finite")
            array.flags.writeable = False
            object.__setattr__(self, key, array)
        classes = self.local_probs.shape[1] if self.local_probs.ndim == 2 else -1
        for key in ("local_probs", "remote_probs"):
            array = getattr(self, key)
            if array.ndim != 2 or array.shape[0] != count or array.shape[1] != classes:
                raise ValueError(
                    f"{where}: {key} must be ({count}, C) with the same C for both, "
                    f"got {array.shape}"
                )
            if classes < 1 or np.any(array < 0):
                raise ValueError(f"{where}: {key} must be non-negative probabilities")
        if self.local_features is not None and (
            self.local_features.ndim != 2 or self.local_features.shape[0] != count
        ):
            raise ValueError(
                f"{where}: local_features must be ({count}, D), got {self.local_features.shape}"
            )
        if not np.array_equal(self.window_starts, np.arange(count) * self.window_stride):
            raise ValueError(f"{where}: window_starts must be 0, stride, 2 * stride, ...")
        if np.any(self.frame_labels < 0) or np.any(self.window_labels < 0):
            raise ValueError(f"{where}: labels must be >= 0 (0 is background)")
        if np.any(self.frame_bytes < 0):
            raise ValueError(f"{where}: frame_bytes must be >= 0")
        for key in ("similarity", "relevance"):
            scores = getattr(self, key)
            if scores is not None and count > 1 and not np.all((scores >= 0) & (scores <= 1)):
                raise ValueError(f"{where}: {key} scores must lie in [0, 1]")
        for key in (
            "local_latency_s",
            "remote_latency_s",
            "siminet_latency_s",
            "relevance_latency_s",
        ):
            latency = getattr(self, key)
            if latency is not None and np.any(latency < 0):
                raise ValueError(f"{where}: {key} must be >= 0")

    @property
    def num_windows(self) -> int:
        return len(self.window_starts)

    @property
    def num_classes(self) -> int:
        return int(self.local_probs.shape[1])

    @property
    def duration_s(self) -> float:
        """Seconds from the first frame's capture to when the frame after the last is due."""
        return self.num_frames / self.fps

    def window_formed_s(self) -> np.ndarray:
        """``(W,)`` when each window is complete: its newest frame's capture time, relative to
        the first frame's."""
        return (self.window_starts + self.window_size - 1) / self.fps

    @classmethod
    def from_recording(cls, sequence: Any) -> ClownfishSequence:
        """Adapt one sequence of an action recording (``ActionRecording.open(root).sequence(
        name)``, an :class:`~edgecloud.recording.action.ActionSequenceRecording`), which
        exposes every field of this class as an attribute of the same name (the
        :data:`OPTIONAL_FIELDS` may be absent or None); float32 arrays become float64."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            if field.name in OPTIONAL_FIELDS:
                values[field.name] = getattr(sequence, field.name, None)
            elif not hasattr(sequence, field.name):
                raise ValueError(
                    f"recorded sequence {getattr(sequence, 'name', sequence)!r} has no "
                    f"{field.name!r}; a Clownfish replay needs {[f.name for f in fields(cls)]}"
                )
            else:
                values[field.name] = getattr(sequence, field.name)
        return cls(**values)


def open_action_recording(root: str | Path) -> Any:
    """``edgecloud.recording.action.ActionRecording.open(root)``, with a clear error when the
    recording is missing."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(
            f"action recording {root} does not exist; record one (the README's record command "
            "writes logs/demo/clownfish_record/recording) or point scenario.recording at one"
        )
    from edgecloud.recording.action import ActionRecording

    return ActionRecording.open(root)


def select_sequences(
    available: Sequence[str], *, names: Sequence[str] | None, max_videos: int | None
) -> list[str]:
    """The sequence names to replay: ``names`` (checked) or all, then the first
    ``max_videos``."""
    if names is None:
        chosen = list(available)
    else:
        unknown = [name for name in names if name not in available]
        if unknown:
            raise ValueError(
                f"sequences {unknown} are not in the recording; it has {list(available)}"
            )
        if not names:
            raise ValueError("scenario.sequences is an empty list; use null for all sequences")
        chosen = list(names)
    if max_videos is not None:
        if isinstance(max_videos, bool) or not isinstance(max_videos, int) or max_videos < 1:
            raise ValueError(f"max_videos must be a positive integer or null, got {max_videos!r}")
        chosen = chosen[:max_videos]
    return chosen


def check_same_geometry(sequences: Sequence[ClownfishSequence]) -> None:
    """Every sequence of one replay must share window size, stride and class count (they are
    concatenated for batched fusion and scored together)."""
    if not sequences:
        raise ValueError("no sequences to replay")
    first = sequences[0]
    for sequence in sequences[1:]:
        if (sequence.window_size, sequence.window_stride, sequence.num_classes) != (
            first.window_size,
            first.window_stride,
            first.num_classes,
        ):
            raise ValueError(
                f"sequence {sequence.name!r} has window size/stride/classes "
                f"{sequence.window_size}/{sequence.window_stride}/{sequence.num_classes}, "
                f"{first.name!r} has {first.window_size}/{first.window_stride}/"
                f"{first.num_classes}; one replay needs one geometry"
            )


def load_sequences(
    root: str | Path, *, names: Sequence[str] | None, max_videos: int | None
) -> list[ClownfishSequence]:
    """The chosen videos of the action recording at ``root`` as :class:`ClownfishSequence`\\ s
    (the recording lists its videos as ``sequence_names``)."""
    recording = open_action_recording(root)
    chosen = select_sequences(list(recording.sequence_names), names=names, max_videos=max_videos)
    sequences = [ClownfishSequence.from_recording(recording.sequence(name)) for name in chosen]
    check_same_geometry(sequences)
    return sequences
