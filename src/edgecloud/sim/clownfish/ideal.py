"""The idealised replay behind the paper's Fig. 7: a fixed lag instead of timing.

Every window is processed by the local model; the Filter selects windows (plain ``periodic``,
the figure's setting, whose bandwidth reduction is the paper's 33.3% at ``n_w = 6``, or
``context_aware`` with each method's own ``rho``); the remote result of a selected window ``i``
is usable when window ``i + d`` is fused (:func:`~edgecloud.fusion.clownfish.
lagged_arrival_windows`; results that would come after the video's end are dropped). Nothing
is timed: ``d`` stands for every delay.

The whole grid (methods x ``n_w`` x ``d``) over all videos goes through
:func:`~edgecloud.fusion.clownfish.clownfish_fuse_batch`, one call per method with one row of
arrival windows per (``n_w``, ``d``) and the method's similarity shared by all rows; scoring
takes the scored frames' windows of every row at once. Reference lines: edge-only and
cloud-only (raw argmax), both with FixMA (Table III), and the filtering baseline when every
video has relevance scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from edgecloud.fusion.clownfish import clownfish_fuse_batch, lagged_arrival_windows
from edgecloud.fusion.clownfish_filter import (
    context_aware_periodic_windows,
    periodic_bandwidth_reduction,
    periodic_windows,
    relevance_windows,
)
from edgecloud.metrics.action import accuracy, scored_frames, weighted_f1
from edgecloud.sim.clownfish.inputs import ClownfishSequence, check_same_geometry
from edgecloud.sim.clownfish.policy import (
    ClownfishPolicy,
    adjacent_similarity,
    method_spec,
)
from edgecloud.sim.clownfish.traffic import frames_uploaded, upload_bytes

REFERENCES = ("edge_only", "cloud_only", "edge_fixma", "cloud_fixma", "filtering")
SCORE_CHUNK = 8
"""Configurations scored at once (bounds the (rows, scored frames) temporaries)."""


@dataclass(frozen=True)
class Corpus:
    """All videos concatenated along the window axis, with what scoring needs."""

    sequences: tuple[ClownfishSequence, ...]
    local: np.ndarray
    remote: np.ndarray
    lengths: np.ndarray
    offsets: np.ndarray
    scored_windows: np.ndarray
    scored_labels: np.ndarray
    class_offset: int

    @classmethod
    def build(
        cls,
        sequences: Sequence[ClownfishSequence],
        *,
        class_offset: int,
        skip_frames: int,
        actions_only: bool,
    ) -> Corpus:
        check_same_geometry(sequences)
        lengths = np.array([s.num_windows for s in sequences], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        windows, labels = [], []
        for sequence, offset in zip(sequences, offsets, strict=False):
            scored = scored_frames(
                sequence.frame_labels,
                window_size=sequence.window_size,
                window_stride=sequence.window_stride,
                skip_frames=skip_frames,
                actions_only=actions_only,
            )
            windows.append(scored.windows + offset)
            labels.append(scored.labels)
        return cls(
            sequences=tuple(sequences),
            local=np.concatenate([s.local_probs for s in sequences]),
            remote=np.concatenate([s.remote_probs for s in sequences]),
            lengths=lengths,
            offsets=offsets,
            scored_windows=np.concatenate(windows),
            scored_labels=np.concatenate(labels),
            class_offset=class_offset,
        )

    def score(self, window_classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Accuracy and weighted F1 of ``(K, N)`` class ids per window (one row per
        configuration), in chunks of :data:`SCORE_CHUNK` rows."""
        rows = np.atleast_2d(window_classes)
        accuracies, f1s = [], []
        for first in range(0, len(rows), SCORE_CHUNK):
            predicted = rows[first : first + SCORE_CHUNK][:, self.scored_windows]
            accuracies.append(np.atleast_1d(accuracy(self.scored_labels, predicted)))
            f1s.append(np.atleast_1d(weighted_f1(self.scored_labels, predicted)))
        return np.concatenate(accuracies), np.concatenate(f1s)


@dataclass(frozen=True)
class GridRow:
    """One configuration of the grid and its scores, summed over every video."""

    method: str
    interval: int
    lag: int
    accuracy: float
    f1: float
    requests: int
    frames_sent: int
    frame_reduction: float
    bytes_up: int
    bandwidth_reduction: float


@dataclass(frozen=True)
class IdealResults:
    """The grid, the reference methods' (accuracy, f1) and the long-video periodic limit."""

    rows: tuple[GridRow, ...]
    references: dict[str, tuple[float, float]]
    periodic_limit: dict[int, float]
    frames_total: int
    bytes_total: int
    windows: int
    scored_frames: int


def selected_windows(
    sequence: ClownfishSequence,
    *,
    filter_kind: Literal["periodic", "context_aware"],
    interval: int,
    rho: np.ndarray,
    policy: ClownfishPolicy,
) -> np.ndarray:
    """The windows of one video the Filter sends, every window processed."""
    if filter_kind == "periodic":
        return periodic_windows(sequence.num_windows, interval=interval)
    return context_aware_periodic_windows(
        rho,
        interval=interval,
        jump=policy.transition_jump,
        direction=policy.transition_direction,
    )


def run_ideal(
    sequences: Sequence[ClownfishSequence],
    *,
    policy: ClownfishPolicy,
    methods: Sequence[str],
    intervals: Sequence[int],
    lags: Sequence[int],
    filter_kind: Literal["periodic", "context_aware"],
    class_offset: int,
    header_bytes: int,
    skip_frames: int,
    actions_only: bool,
) -> IdealResults:
    """Fig. 7's grid over ``methods`` x ``intervals`` x ``lags`` (see the module docstring)."""
    for name in methods:
        if not method_spec(name).fuses:
            raise ValueError(
                f"the ideal grid fuses remote results; {name!r} does not (it is a reference "
                f"line, computed anyway: {REFERENCES})"
            )
    if not intervals or not lags:
        raise ValueError("the ideal grid needs at least one interval and one lag")
    if any(lag < 0 for lag in lags) or any(interval < 1 for interval in intervals):
        raise ValueError(f"lags must be >= 0 and intervals >= 1, got {lags} and {intervals}")
    corpus = Corpus.build(
        sequences, class_offset=class_offset, skip_frames=skip_frames, actions_only=actions_only
    )
    geometry = {
        "window_size": sequences[0].window_size,
        "window_stride": sequences[0].window_stride,
    }
    all_windows = [np.arange(s.num_windows) for s in sequences]
    frames_total = sum(frames_uploaded(w, **geometry) for w in all_windows)
    bytes_total = sum(
        int(upload_bytes(w, frame_bytes=s.frame_bytes, header_bytes=header_bytes, **geometry).sum())
        for w, s in zip(all_windows, sequences, strict=True)
    )
    rows: list[GridRow] = []
    for name in methods:
        spec = method_spec(name)
        rhos = [
            adjacent_similarity(
                spec.similarity,
                local_probs=s.local_probs,
                siminet=s.similarity,
                window_labels=s.window_labels,
                fixed_alpha=policy.fixed_alpha,
            )
            for s in sequences
        ]
        similarity = np.concatenate(rhos)
        configurations: list[tuple[int, int]] = []
        arrivals: list[np.ndarray] = []
        traffic: dict[int, tuple[int, int, int]] = {}
        for interval in intervals:
            sent = [
                selected_windows(
                    s, filter_kind=filter_kind, interval=interval, rho=rho, policy=policy
                )
                for s, rho in zip(sequences, rhos, strict=True)
            ]
            traffic[interval] = (
                sum(len(w) for w in sent),
                sum(frames_uploaded(w, **geometry) for w in sent),
                sum(
                    int(
                        upload_bytes(
                            w, frame_bytes=s.frame_bytes, header_bytes=header_bytes, **geometry
                        ).sum()
                    )
                    for w, s in zip(sent, sequences, strict=True)
                ),
            )
            for lag in lags:
                configurations.append((interval, lag))
                arrivals.append(
                    np.concatenate(
                        [
                            lagged_arrival_windows(w, lag=lag, num_windows=s.num_windows)
                            for w, s in zip(sent, sequences, strict=True)
                        ]
                    )
                )
        parameters = (
            policy.smoothing_parameters()
            if spec.similarity == "fixed"
            else policy.fusion_parameters
        )
        labels, _ = clownfish_fuse_batch(
            corpus.local,
            corpus.remote,
            similarity,
            np.stack(arrivals),
            video_lengths=corpus.lengths,
            **parameters,
        )
        del arrivals
        accuracies, f1s = corpus.score(labels + class_offset)
        for (interval, lag), acc, f1 in zip(configurations, accuracies, f1s, strict=True):
            requests, frames, sent_bytes = traffic[interval]
            rows.append(
                GridRow(
                    method=name,
                    interval=interval,
                    lag=lag,
                    accuracy=float(acc),
                    f1=float(f1),
                    requests=requests,
                    frames_sent=frames,
                    frame_reduction=1.0 - frames / frames_total,
                    bytes_up=sent_bytes,
                    bandwidth_reduction=1.0 - sent_bytes / bytes_total,
                )
            )
    references = reference_scores(corpus, policy=policy)
    limit = {interval: periodic_bandwidth_reduction(interval, **geometry) for interval in intervals}
    return IdealResults(
        rows=tuple(rows),
        references=references,
        periodic_limit=limit,
        frames_total=frames_total,
        bytes_total=bytes_total,
        windows=int(corpus.lengths.sum()),
        scored_frames=len(corpus.scored_labels),
    )


def reference_classes(corpus: Corpus, *, policy: ClownfishPolicy) -> dict[str, np.ndarray]:
    """Class ids per window of the reference methods (no timing, every window processed)."""
    offset = corpus.class_offset
    smoothing = policy.smoothing_parameters()
    rho = np.full(len(corpus.local), float(policy.fixed_alpha))
    none = np.full(len(corpus.local), -1, dtype=np.int64)
    edge_fixma, _ = clownfish_fuse_batch(
        corpus.local, corpus.local, rho, none, video_lengths=corpus.lengths, **smoothing
    )
    cloud_fixma, _ = clownfish_fuse_batch(
        corpus.remote, corpus.remote, rho, none, video_lengths=corpus.lengths, **smoothing
    )
    classes = {
        "edge_only": corpus.local.argmax(axis=1) + offset,
        "cloud_only": corpus.remote.argmax(axis=1) + offset,
        "edge_fixma": edge_fixma[0].astype(np.int64) + offset,
        "cloud_fixma": cloud_fixma[0].astype(np.int64) + offset,
    }
    if all(s.relevance is not None for s in corpus.sequences):
        relevant = np.zeros(len(corpus.local), dtype=bool)
        for sequence, start in zip(corpus.sequences, corpus.offsets, strict=False):
            chosen = relevance_windows(sequence.relevance, cutoff=policy.relevance_cutoff)
            relevant[start + chosen] = True
        classes["filtering"] = np.where(relevant, classes["cloud_only"], 0)
    return classes


def reference_scores(corpus: Corpus, *, policy: ClownfishPolicy) -> dict[str, tuple[float, float]]:
    """(accuracy, weighted F1) of each reference method."""
    classes = reference_classes(corpus, policy=policy)
    accuracies, f1s = corpus.score(np.stack(list(classes.values())))
    return {
        name: (float(acc), float(f1))
        for name, acc, f1 in zip(classes, accuracies, f1s, strict=True)
    }
