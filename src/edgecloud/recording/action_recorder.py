"""Run Clownfish's models over action videos, window by window, into an action recording.

This is the torch side of :mod:`edgecloud.recording.action` (which stays torch-free for the
simulator): ``evaluate.py ... record=true`` for temporal action recognition calls
:func:`record_action_videos`, which for every window of every video, in stream order, runs

* the local (edge) model: softmax and the feature vector SimiNet compares,
* the remote (cloud) model: softmax,
* SimiNet: the similarity rho between the previous window's features and this one's,
* the optional relevance model (the filtering baseline of the paper's section VI-G): the
  probability that the window contains an action,

timing every call as the device that runs it would see it (a batch of one, synchronised on
CUDA, after ``warmup_calls`` untimed calls per model and video), and measures every frame's
upload cost: the frame resized to ``frame_size`` with ``cv2.INTER_AREA`` and PNG-encoded, the
paper's 171x128 lossless frames. Both models see the original frames through their transforms,
as in training and offline evaluation; ``frame_size`` only sets what an upload costs.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from edgecloud.data.action_video import BACKGROUND, ActionVideo
from edgecloud.data.action_windows import window_starts
from edgecloud.metrics.action import window_labels
from edgecloud.models.siminet import SimiNet
from edgecloud.recording.action import FEATURE_KINDS, ActionRecordingWriter
from edgecloud.utils.codec import png_encode

log = logging.getLogger(__name__)

ClipTransform = Callable[[np.ndarray], torch.Tensor]
"""``(T, H, W, 3)`` uint8 clip -> ``(3, T, S, S)`` float tensor, e.g. ``EvalClipTransform``."""


@dataclass(frozen=True)
class ActionVideoSummary:
    """What recording one video gave, for logs and evaluation reports.

    Accuracies count windows whose ground truth is an action (the C-way models cannot predict
    the background); aggregate several videos by summing the counts, not averaging accuracies.
    Mean SimiNet latency is over windows 1.. (SimiNet does not run on window 0).
    """

    name: str
    num_frames: int
    num_windows: int
    action_windows: int
    local_correct: int
    remote_correct: int
    mean_local_latency_s: float
    mean_remote_latency_s: float
    mean_siminet_latency_s: float | None
    mean_relevance_latency_s: float | None
    total_frame_bytes: int

    @property
    def local_accuracy(self) -> float:
        """Top-1 accuracy of the local model on action windows (NaN when there are none)."""
        return self.local_correct / self.action_windows if self.action_windows else math.nan

    @property
    def remote_accuracy(self) -> float:
        """Top-1 accuracy of the remote model on action windows (NaN when there are none)."""
        return self.remote_correct / self.action_windows if self.action_windows else math.nan


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work, so a timer around a call measures the call."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(device: torch.device, call: Callable[[], Any]) -> tuple[Any, float]:
    """``call()`` and its wall time in seconds, synchronised before and after."""
    synchronize(device)
    start = time.perf_counter()
    result = call()
    synchronize(device)
    return result, time.perf_counter() - start


def relevance_probability(output: torch.Tensor) -> torch.Tensor:
    """Probability of "relevant" from a relevance model's output for a batch ``(N,)``: the
    sigmoid of a single logit (``(N,)`` or ``(N, 1)``) or the softmax of class 1 of two logits
    (``(N, 2)``, class 0 = irrelevant)."""
    output = output.float()
    if output.dim() == 1:
        return torch.sigmoid(output)
    if output.dim() == 2 and output.shape[1] == 1:
        return torch.sigmoid(output[:, 0])
    if output.dim() == 2 and output.shape[1] == 2:
        return output.softmax(dim=1)[:, 1]
    raise ValueError(
        "a relevance model returns one logit (N,) or (N, 1) or two logits (N, 2), "
        f"got shape {tuple(output.shape)}"
    )


def resize_for_upload(frame: np.ndarray, frame_size: Sequence[int]) -> np.ndarray:
    """``frame`` resized to ``frame_size = (width, height)`` with ``cv2.INTER_AREA``, the frame
    whose PNG encoding the recording counts as its upload."""
    width, height = int(frame_size[0]), int(frame_size[1])
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def record_action_videos(
    *,
    videos: Sequence[ActionVideo],
    local: nn.Module,
    remote: nn.Module,
    siminet: SimiNet | None,
    relevance: nn.Module | None,
    local_transform: ClipTransform,
    remote_transform: ClipTransform,
    window_size: int,
    window_stride: int,
    device: torch.device | str,
    frame_size: Sequence[int],
    feature_kind: str,
    warmup_calls: int,
    writer: ActionRecordingWriter,
    relevance_transform: ClipTransform | None = None,
) -> list[ActionVideoSummary]:
    """Record every window of every video into ``writer`` (one sequence per video, named after
    the video) and return one summary per video, in order. ``writer`` is not closed.

    ``local`` is a :class:`~edgecloud.models.resnet3d.ResNet3d` (it needs ``features`` and
    ``fc``: ``feature_kind="penultimate"`` records ``features(x)``, ``"logits"`` records
    ``fc(features(x))``, whichever SimiNet was trained on); ``remote`` returns logits;
    ``relevance`` returns one logit or two (see :func:`relevance_probability`) and sees clips
    through ``relevance_transform``, by default ``local_transform``. Without ``siminet`` or
    ``relevance`` the recording has no similarity or relevance arrays. The models are moved to
    ``device`` and put in eval mode, in place.

    ``window_size``, ``window_stride``, ``frame_size`` and ``feature_kind`` must match the
    writer's, and every video must hold at least one window; both are checked before any model
    runs. Frames are read once each, in order.
    """
    device = torch.device(device)
    _check_arguments(
        videos=videos,
        local=local,
        writer=writer,
        window_size=window_size,
        window_stride=window_stride,
        frame_size=frame_size,
        feature_kind=feature_kind,
        warmup_calls=warmup_calls,
    )
    models = [local, remote, siminet, relevance]
    for model in models:
        if model is not None:
            model.to(device).eval()
    runner = _WindowRunner(
        local=local,
        remote=remote,
        siminet=siminet,
        relevance=relevance,
        local_transform=local_transform,
        remote_transform=remote_transform,
        relevance_transform=relevance_transform or local_transform,
        device=device,
        feature_kind=feature_kind,
        num_classes=len(writer.class_names),
    )
    summaries = []
    for video in videos:
        summary = _record_video(
            video,
            runner=runner,
            writer=writer,
            window_size=window_size,
            window_stride=window_stride,
            frame_size=frame_size,
            warmup_calls=warmup_calls,
        )
        log.info(
            "%s: %d windows, local acc %.4f, remote acc %.4f, local %.1f ms, remote %.1f ms",
            summary.name,
            summary.num_windows,
            summary.local_accuracy,
            summary.remote_accuracy,
            1e3 * summary.mean_local_latency_s,
            1e3 * summary.mean_remote_latency_s,
        )
        summaries.append(summary)
    return summaries


def _check_arguments(
    *,
    videos: Sequence[ActionVideo],
    local: nn.Module,
    writer: ActionRecordingWriter,
    window_size: int,
    window_stride: int,
    frame_size: Sequence[int],
    feature_kind: str,
    warmup_calls: int,
) -> None:
    """Fail before any model runs rather than after an hour of recording."""
    if feature_kind not in FEATURE_KINDS:
        raise ValueError(f"feature_kind must be one of {FEATURE_KINDS}, got {feature_kind!r}")
    mine = {
        "window_size": window_size,
        "window_stride": window_stride,
        "frame_size": tuple(int(v) for v in frame_size),
        "feature_kind": feature_kind,
    }
    for key, value in mine.items():
        if getattr(writer, key) != value:
            raise ValueError(f"{key} is {value!r} but the writer records {getattr(writer, key)!r}")
    if writer.frame_encoding != "png":
        raise ValueError(f"frames are PNG-encoded; the writer expects {writer.frame_encoding!r}")
    if warmup_calls < 0:
        raise ValueError(f"warmup_calls must be >= 0, got {warmup_calls}")
    if not callable(getattr(local, "features", None)) or not isinstance(
        getattr(local, "fc", None), nn.Module
    ):
        raise TypeError(f"the local model needs .features(x) and .fc, got {type(local).__name__}")
    if not videos:
        raise ValueError("no videos to record")
    short = [v.name for v in videos if v.num_frames < window_size]
    if short:
        raise ValueError(
            f"videos shorter than one window of {window_size} frames cannot be recorded: {short}"
        )


@dataclass
class _WindowOutputs:
    local_probs: np.ndarray
    local_features: np.ndarray
    remote_probs: np.ndarray
    similarity: float
    relevance: float | None
    local_latency_s: float
    remote_latency_s: float
    siminet_latency_s: float
    relevance_latency_s: float | None


class _WindowRunner:
    """Runs the models on one window at a time; remembers the previous window's features."""

    def __init__(
        self,
        *,
        local: nn.Module,
        remote: nn.Module,
        siminet: SimiNet | None,
        relevance: nn.Module | None,
        local_transform: ClipTransform,
        remote_transform: ClipTransform,
        relevance_transform: ClipTransform,
        device: torch.device,
        feature_kind: str,
        num_classes: int,
    ) -> None:
        self.local = local
        self.remote = remote
        self.siminet = siminet
        self.relevance = relevance
        self.local_transform = local_transform
        self.remote_transform = remote_transform
        self.relevance_transform = relevance_transform
        self.device = device
        self.feature_kind = feature_kind
        self.num_classes = num_classes

    def _batch(self, transform: ClipTransform, clip: np.ndarray) -> torch.Tensor:
        return transform(clip).unsqueeze(0).to(self.device)

    def _local(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.local.features(x)
        logits = self.local.fc(features)
        kept = features if self.feature_kind == "penultimate" else logits
        return kept.float(), logits.float().softmax(dim=1)

    def _remote(self, x: torch.Tensor) -> torch.Tensor:
        return self.remote(x).float().softmax(dim=1)

    def _check_classes(self, which: str, probs: torch.Tensor) -> None:
        if probs.shape != (1, self.num_classes):
            raise ValueError(
                f"the {which} model gives {tuple(probs.shape[1:])} outputs per clip, but the "
                f"recording has {self.num_classes} classes"
            )

    @torch.inference_mode()
    def run(
        self, clip: np.ndarray, *, previous: torch.Tensor | None, warmup_calls: int
    ) -> tuple[_WindowOutputs, torch.Tensor]:
        """Outputs for one window and its features (the next window's ``previous``); warms every
        model up with ``warmup_calls`` untimed calls on this window first."""
        device = self.device
        local_x = self._batch(self.local_transform, clip)
        remote_x = self._batch(self.remote_transform, clip)
        relevance_x = (
            self._batch(self.relevance_transform, clip) if self.relevance is not None else None
        )
        for _ in range(warmup_calls):
            features, _ = self._local(local_x)
            self._remote(remote_x)
            if self.siminet is not None:
                self.siminet.similarity(features, features)
            if self.relevance is not None:
                relevance_probability(self.relevance(relevance_x))

        (features, local_probs), local_latency = _timed(device, lambda: self._local(local_x))
        self._check_classes("local", local_probs)
        remote_probs, remote_latency = _timed(device, lambda: self._remote(remote_x))
        self._check_classes("remote", remote_probs)
        similarity, siminet_latency = 0.0, 0.0
        if self.siminet is not None and previous is not None:
            rho, siminet_latency = _timed(
                device, lambda: self.siminet.similarity(previous, features)
            )
            similarity = float(rho.float().item())
        relevance, relevance_latency = None, None
        if self.relevance is not None:
            score, relevance_latency = _timed(
                device, lambda: relevance_probability(self.relevance(relevance_x))
            )
            if score.shape != (1,):
                raise ValueError(f"expected one relevance score per clip, got {score.shape}")
            relevance = float(score.item())
        outputs = _WindowOutputs(
            local_probs=local_probs[0].cpu().numpy(),
            local_features=features[0].cpu().numpy(),
            remote_probs=remote_probs[0].cpu().numpy(),
            similarity=similarity,
            relevance=relevance,
            local_latency_s=local_latency,
            remote_latency_s=remote_latency,
            siminet_latency_s=siminet_latency,
            relevance_latency_s=relevance_latency,
        )
        return outputs, features


def _record_video(
    video: ActionVideo,
    *,
    runner: _WindowRunner,
    writer: ActionRecordingWriter,
    window_size: int,
    window_stride: int,
    frame_size: Sequence[int],
    warmup_calls: int,
) -> ActionVideoSummary:
    """Read the video's frames once, in order; run the models whenever a window fills; write
    the sequence."""
    num_frames = video.num_frames
    starts = window_starts(num_frames, window_size=window_size, window_stride=window_stride)
    frame_bytes = np.empty(num_frames, dtype=np.int64)
    recent: deque[np.ndarray] = deque(maxlen=window_size)
    outputs: list[_WindowOutputs] = []
    previous: torch.Tensor | None = None
    for index in range(num_frames):
        frame = video.frames.read(index)
        frame_bytes[index] = len(png_encode(resize_for_upload(frame, frame_size)))
        recent.append(frame)
        window = len(outputs)
        if window < len(starts) and index == starts[window] + window_size - 1:
            result, previous = runner.run(
                np.stack(recent), previous=previous, warmup_calls=warmup_calls if window == 0 else 0
            )
            outputs.append(result)

    frame_labels = video.frame_labels()
    labels = window_labels(frame_labels, window_size=window_size, window_stride=window_stride)
    has_similarity = runner.siminet is not None
    has_relevance = runner.relevance is not None

    def column(key: str, dtype: type) -> np.ndarray:
        return np.array([getattr(o, key) for o in outputs], dtype=dtype)

    local_probs = np.stack([o.local_probs for o in outputs]).astype(np.float32)
    remote_probs = np.stack([o.remote_probs for o in outputs]).astype(np.float32)
    local_latency = column("local_latency_s", np.float64)
    remote_latency = column("remote_latency_s", np.float64)
    siminet_latency = column("siminet_latency_s", np.float64) if has_similarity else None
    relevance_latency = column("relevance_latency_s", np.float64) if has_relevance else None
    writer.add_sequence(
        video.name,
        fps=video.fps,
        num_frames=num_frames,
        window_starts=starts,
        frame_labels=frame_labels,
        window_labels=labels,
        local_probs=local_probs,
        remote_probs=remote_probs,
        local_features=np.stack([o.local_features for o in outputs]).astype(np.float32),
        similarity=column("similarity", np.float32) if has_similarity else None,
        relevance=column("relevance", np.float32) if has_relevance else None,
        local_latency_s=local_latency,
        remote_latency_s=remote_latency,
        siminet_latency_s=siminet_latency,
        relevance_latency_s=relevance_latency,
        frame_bytes=frame_bytes,
    )
    action = labels != BACKGROUND
    return ActionVideoSummary(
        name=video.name,
        num_frames=num_frames,
        num_windows=len(starts),
        action_windows=int(action.sum()),
        local_correct=int((local_probs.argmax(axis=1) + 1 == labels)[action].sum()),
        remote_correct=int((remote_probs.argmax(axis=1) + 1 == labels)[action].sum()),
        mean_local_latency_s=float(local_latency.mean()),
        mean_remote_latency_s=float(remote_latency.mean()),
        mean_siminet_latency_s=(
            float(siminet_latency[1:].mean())
            if siminet_latency is not None and len(siminet_latency) > 1
            else None
        ),
        mean_relevance_latency_s=(
            float(relevance_latency.mean()) if relevance_latency is not None else None
        ),
        total_frame_bytes=int(frame_bytes.sum()),
    )
