"""Seeded synthetic Clownfish inputs: random but structured videos for tests and benchmarks.

A video alternates background gaps and action instances (log-normal durations around the
paper's PKU-MMD statistics: a median action of 3.3 s, about 20 actions in a few minutes). Both
models see the true window label through temporally correlated noise (an AR(1) process over
windows, so mistakes persist for a while, as a real classifier's do); the local model's signal
is weaker than the remote model's. The SimiNet score is high inside a context and low on
windows that straddle a label change (they mix two contexts, which is why the paper's scores
dip for a few windows at a transition, Fig. 8); the relevance score follows the fraction of
action frames in the window. Latencies scatter around the paper's figures (local 3D ResNet-18
about 125 ms, remote 3D ResNeXt-101 about 90 ms here, the relevance model's 3D MobileNet about
148 ms) and frames are about 33 kB each (8 Mbps
at 30 fps, section VI-A).

Nothing here claims to match a real model's accuracy; the point is structure: fusion helps,
transitions are detectable, and every code path sees realistic array shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from edgecloud.fusion.clownfish_filter import num_windows
from edgecloud.metrics.action import window_labels
from edgecloud.sim.clownfish.inputs import ClownfishSequence


@dataclass(frozen=True, kw_only=True)
class SyntheticSettings:
    """Knobs of :func:`synthetic_sequence` (defaults: a PKU-MMD-like video at 30 fps)."""

    num_frames: int = 6000
    num_actions: int = 51
    fps: float = 30.0
    window_size: int = 16
    window_stride: int = 4
    action_median_frames: float = 100.0
    gap_median_frames: float = 60.0
    local_signal: float = 6.0
    remote_signal: float = 6.8
    noise_scale: float = 2.5
    noise_correlation: float = 0.9
    feature_dim: int = 0
    local_latency_s: float = 0.125
    remote_latency_s: float = 0.09
    siminet_latency_s: float = 0.002
    relevance_latency_s: float = 0.148
    latency_jitter_s: float = 0.01
    frame_bytes: int = 33_000
    frame_bytes_jitter: int = 2_000


def synthetic_frame_labels(
    *, num_frames: int, num_actions: int, rng: np.random.Generator, settings: SyntheticSettings
) -> np.ndarray:
    """``(num_frames,)`` int64: background gaps and action segments of random classes."""
    labels = np.zeros(num_frames, dtype=np.int64)
    position = int(rng.integers(0, int(settings.gap_median_frames) + 1))
    while position < num_frames:
        length = max(8, int(rng.lognormal(np.log(settings.action_median_frames), 0.5)))
        labels[position : position + length] = rng.integers(1, num_actions + 1)
        position += length
        position += max(4, int(rng.lognormal(np.log(settings.gap_median_frames), 0.6)))
    return labels


def _ar1(rng: np.random.Generator, shape: tuple[int, int], correlation: float) -> np.ndarray:
    """Stationary AR(1) noise along axis 0 with unit variance."""
    innovations = rng.standard_normal(shape)
    scale = np.sqrt(1.0 - correlation**2)
    innovations[0] /= scale  # the first value is a plain standard normal
    return lfilter([scale], [1.0, -correlation], innovations, axis=0)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def synthetic_sequence(
    *, name: str, rng: np.random.Generator, settings: SyntheticSettings | None = None
) -> ClownfishSequence:
    """One synthetic video (see the module docstring); columns are actions ``1..C``
    (``class_offset = 1``)."""
    settings = settings or SyntheticSettings()
    size, stride = settings.window_size, settings.window_stride
    frames = synthetic_frame_labels(
        num_frames=settings.num_frames,
        num_actions=settings.num_actions,
        rng=rng,
        settings=settings,
    )
    count = num_windows(settings.num_frames, window_size=size, window_stride=stride)
    starts = np.arange(count, dtype=np.int64) * stride
    labels = window_labels(frames, window_size=size, window_stride=stride)
    onehot = np.zeros((count, settings.num_actions))
    actions = labels >= 1
    onehot[np.flatnonzero(actions), labels[actions] - 1] = 1.0

    def probabilities(signal: float) -> np.ndarray:
        noise = _ar1(rng, (count, settings.num_actions), settings.noise_correlation)
        return _softmax(signal * onehot + settings.noise_scale * noise)

    local = probabilities(settings.local_signal)
    remote = probabilities(settings.remote_signal)
    # a window straddles a boundary when its frames hold more than one label
    changes = np.concatenate([[0], np.cumsum(frames[1:] != frames[:-1])])
    mixed = changes[starts + size - 1] != changes[starts]
    same = (labels == np.roll(labels, 1)) & ~mixed
    rho = np.where(same, 0.9, 0.12) + 0.08 * rng.standard_normal(count)
    rho = np.clip(rho, 0.0, 1.0)
    rho[0] = 0.0
    action_share = (
        np.convolve((frames >= 1).astype(np.float64), np.ones(size), mode="valid")[starts] / size
    )
    relevance = 1.0 / (1.0 + np.exp(-(8.0 * (action_share - 0.4) + rng.standard_normal(count))))
    jitter = settings.latency_jitter_s
    features = None
    if settings.feature_dim:  # a random projection of the true label, plus noise
        projection = rng.standard_normal((settings.num_actions, settings.feature_dim))
        noise = rng.standard_normal((count, settings.feature_dim))
        features = np.maximum(onehot @ projection + 0.5 * noise, 0.0)  # post-ReLU features
    return ClownfishSequence(
        name=name,
        fps=settings.fps,
        num_frames=settings.num_frames,
        window_size=size,
        window_stride=stride,
        window_starts=starts,
        frame_labels=frames,
        window_labels=labels,
        local_probs=local,
        remote_probs=remote,
        local_features=features,
        similarity=rho,
        relevance=relevance,
        local_latency_s=settings.local_latency_s + rng.uniform(-jitter, jitter, count),
        remote_latency_s=settings.remote_latency_s + rng.uniform(-jitter, jitter, count),
        siminet_latency_s=np.where(np.arange(count) > 0, settings.siminet_latency_s, 0.0),
        relevance_latency_s=settings.relevance_latency_s + rng.uniform(-jitter, jitter, count),
        frame_bytes=settings.frame_bytes
        + rng.integers(
            -settings.frame_bytes_jitter, settings.frame_bytes_jitter + 1, settings.num_frames
        ),
    )


def synthetic_sequences(
    *, count: int, seed: int, settings: SyntheticSettings | None = None
) -> list[ClownfishSequence]:
    """``count`` independent synthetic videos ``syn_0000, syn_0001, ...`` from one seed."""
    children = np.random.SeedSequence(seed).spawn(count)
    return [
        synthetic_sequence(
            name=f"syn_{index:04d}", rng=np.random.default_rng(child), settings=settings
        )
        for index, child in enumerate(children)
    ]
