"""Tail-aware offline profiling, the second half of Runespoor's controller (§III-B).

Profiling scores every knob configuration (scale x JPEG quality, each restored by its SR
network and segmented) on profiling frames: the bytes each frame costs and the accuracy it
gets. AWStream picks, per bandwidth target, the configuration with the best accuracy that fits;
Runespoor does that twice — on ordinary frames (the *standard* configuration) and on tail
frames (the *tail* configuration) — so that when the controller detects tail frames it can
switch to the configuration that serves them best *at the same data size*. The paper's tail
configurations have a higher resolution and a lower JPEG quality than the standard ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edgecloud.data.degradation import Knobs


@dataclass(frozen=True)
class KnobProfile:
    """One configuration's profile: mean encoded bytes per frame, and mean per-frame accuracy
    on the ordinary and on the tail profiling frames."""

    knobs: Knobs
    bytes_per_frame: float
    ordinary_accuracy: float
    tail_accuracy: float


@dataclass(frozen=True)
class Policy:
    """What to send under one bandwidth target: ``standard`` for ordinary frames, ``tail``
    after a tail frame; ``fits`` is False when no configuration fits the budget (both are
    then the smallest configuration)."""

    bandwidth_bps: float
    standard: Knobs
    tail: Knobs
    fits: bool


def profile_knobs(
    frame_bytes: Mapping[Knobs, Sequence[float]],
    frame_accuracy: Mapping[Knobs, Sequence[float]],
    *,
    is_tail: Sequence[bool],
) -> list[KnobProfile]:
    """Profiles of every configuration, from per-frame bytes and accuracies of the same
    profiling frames (in the same order for every configuration) and which of those frames
    are tail frames; sorted by bytes per frame."""
    is_tail = np.asarray(is_tail, dtype=bool)
    if not is_tail.any() or is_tail.all():
        raise ValueError("profiling needs both tail and ordinary frames")
    if set(frame_bytes) != set(frame_accuracy):
        raise ValueError("frame_bytes and frame_accuracy must profile the same configurations")
    profiles = []
    for knobs, sizes in frame_bytes.items():
        sizes = np.asarray(sizes, dtype=np.float64)
        accuracy = np.asarray(frame_accuracy[knobs], dtype=np.float64)
        if sizes.shape != is_tail.shape or accuracy.shape != is_tail.shape:
            raise ValueError(
                f"{knobs.name}: {len(sizes)} sizes and {len(accuracy)} accuracies for "
                f"{len(is_tail)} profiling frames"
            )
        profiles.append(
            KnobProfile(
                knobs=knobs,
                bytes_per_frame=float(sizes.mean()),
                ordinary_accuracy=float(accuracy[~is_tail].mean()),
                tail_accuracy=float(accuracy[is_tail].mean()),
            )
        )
    return sorted(profiles, key=lambda profile: (profile.bytes_per_frame, profile.knobs.name))


def choose_policy(profiles: Sequence[KnobProfile], *, bandwidth_bps: float, fps: float) -> Policy:
    """The best standard and tail configurations whose bytes per frame fit ``bandwidth_bps``
    at ``fps`` frames per second (ties: the smaller configuration)."""
    if not profiles:
        raise ValueError("no configuration profiled")
    if bandwidth_bps <= 0 or fps <= 0:
        raise ValueError(f"bandwidth and fps must be positive, got {bandwidth_bps}, {fps}")
    budget = bandwidth_bps / 8.0 / fps
    ordered = sorted(profiles, key=lambda profile: profile.bytes_per_frame)
    fitting = [profile for profile in ordered if profile.bytes_per_frame <= budget]
    if not fitting:
        smallest = ordered[0].knobs
        return Policy(bandwidth_bps=bandwidth_bps, standard=smallest, tail=smallest, fits=False)
    standard = max(fitting, key=lambda profile: profile.ordinary_accuracy)
    tail = max(fitting, key=lambda profile: profile.tail_accuracy)
    return Policy(bandwidth_bps=bandwidth_bps, standard=standard.knobs, tail=tail.knobs, fits=True)
