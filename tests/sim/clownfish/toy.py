"""Tiny hand-checkable Clownfish inputs: 2 classes, a dozen windows of 4 frames every 2 frames
at 8 fps (every time is a multiple of 1/8 s, so event times are exact in binary)."""

from __future__ import annotations

import numpy as np

from edgecloud.metrics.action import window_labels
from edgecloud.sim.clownfish.inputs import ClownfishSequence
from edgecloud.sim.clownfish.policy import ClownfishPolicy
from edgecloud.sim.clownfish.scenario import ClownfishScenario, Layout, ServerSettings
from edgecloud.sim.compute import ComputeProfile
from edgecloud.sim.network import ConstantRateLinkSpec, IdealLinkSpec

FPS = 8.0
SIZE, STRIDE = 4, 2


def frames_for(num_windows: int) -> int:
    return (num_windows - 1) * STRIDE + SIZE


def toy_sequence(
    *,
    name: str = "toy",
    num_windows: int = 12,
    frame_labels: np.ndarray | None = None,
    frame_bytes: np.ndarray | int = 1000,
    seed: int = 0,
    relevance: np.ndarray | None = None,
    similarity: np.ndarray | None = None,
) -> ClownfishSequence:
    """A 2-class toy video (columns are actions 1 and 2, class_offset 1): the first half of the
    frames is action 1, the rest action 2, unless ``frame_labels`` says otherwise; random
    probabilities from ``seed``."""
    num_frames = frames_for(num_windows)
    rng = np.random.default_rng(seed)
    if frame_labels is None:
        frame_labels = np.where(np.arange(num_frames) < num_frames // 2, 1, 2)
    frame_labels = np.asarray(frame_labels, dtype=np.int64)
    local = rng.dirichlet([1.0, 1.0], num_windows)
    remote = rng.dirichlet([1.0, 1.0], num_windows)
    rho = rng.uniform(0, 1, num_windows) if similarity is None else np.asarray(similarity)
    rho = rho.copy()
    rho[0] = 0.0
    if np.isscalar(frame_bytes):
        frame_bytes = np.full(num_frames, int(frame_bytes))
    return ClownfishSequence(
        name=name,
        fps=FPS,
        num_frames=num_frames,
        window_size=SIZE,
        window_stride=STRIDE,
        window_starts=np.arange(num_windows) * STRIDE,
        frame_labels=frame_labels,
        window_labels=window_labels(frame_labels, window_size=SIZE, window_stride=STRIDE),
        local_probs=local,
        remote_probs=remote,
        local_features=None,
        similarity=rho,
        relevance=rng.uniform(0, 1, num_windows) if relevance is None else relevance,
        local_latency_s=np.full(num_windows, 0.125),
        remote_latency_s=np.full(num_windows, 0.125),
        siminet_latency_s=np.zeros(num_windows),
        frame_bytes=frame_bytes,
    )


def constant(latency_s: float) -> ComputeProfile:
    return ComputeProfile.constant(name=f"{latency_s} s", latency_s=latency_s)


def toy_scenario(
    sequences: list[ClownfishSequence],
    *,
    method: str = "clownfish_siminet",
    policy: ClownfishPolicy | None = None,
    local_s: float = 0.125,
    server_s: float = 0.125,
    relevance_s: float = 0.125,
    uplink=None,
    downlink=None,
    layout: Layout | None = None,
    header_bytes: int = 0,
) -> ClownfishScenario:
    """A timed scenario with constant latencies and, by default, ideal links."""
    return ClownfishScenario(
        sequences=sequences,
        mode="timed",
        method=method,
        policy=policy or ClownfishPolicy(filter="periodic", interval=3),
        layout=layout or Layout(),
        uplink=uplink or IdealLinkSpec(),
        downlink=downlink or IdealLinkSpec(),
        server=ServerSettings(),
        worker_profile=constant(local_s),
        server_profile=constant(server_s),
        relevance_profile=constant(relevance_s),
        header_bytes=header_bytes,
        result_header_bytes=0,
    )


def link(*, bytes_per_s: float | None = None, delay_s: float = 0.0) -> ConstantRateLinkSpec:
    rate = None if bytes_per_s is None else bytes_per_s * 8 / 1e6
    return ConstantRateLinkSpec(rate_mbps=rate, delay_s=delay_s)
