"""Turn finished Clownfish simulations into what the paper reports.

**What is shown for each window.** After a unit ran, the outputs the device displayed are
recomputed from its timeline (:func:`shown_classes`): the Clownfish methods fuse the processed
windows with the arrivals and ``rho`` the device used (one
:func:`~edgecloud.fusion.clownfish.clownfish_fuse_batch` call per unit); the other methods
show the raw or FixMA-smoothed source. Column ``c`` of a probability vector is class id
``c + class_offset``; the filtering baseline's irrelevant windows show background (0).

**Accuracy** (section VI-B, :mod:`edgecloud.metrics.action`): every window's shown class
belongs to its newest frame; frames up to the next shown window keep it (windows the worker
skipped are gaps filled by the previous shown window; before the first there is nothing,
which counts as wrong); the first ``skip_frames`` frames of every context are skipped and only
action frames count. Accuracy and weighted F1 are over the scored frames of all videos
together.

**Throughput** is frames per second the edge displays results for: each displayed window
stands for ``stride`` frames, so a unit's throughput is ``displayed windows * stride /
span``, the span running from its first window's formation to its last display plus one
stride's worth of time (a device that displays every window as soon as it is formed shows
exactly ``fps``). Over several units the frames and spans are summed. ``throughput_bins_fps``
counts displays per ``bin_s`` of simulated time (Figs. 13-15; ``sim/throughput_median_fps`` is
their median without the partial first and last bins); in the isolated layout the videos'
timelines are laid end to end for this, without interacting. A backlog that drains later
shows as a dip and then a rise above ``fps`` in the bins (per phase:
``sim/phase/<name>/throughput_fps``), while the mean over the whole run counts every window
once.

**Bandwidth reduction** compares the bytes uploaded with what cloud-only would upload for the
same displayed windows ("at the same throughput", section VI-B): every such window sent, each
frame once, plus the same headers. ``frame_reduction`` is the same in frames.

**Lags** (fusing methods): the lag of a sent window is ``a - i`` in processed windows
(:mod:`edgecloud.sim.clownfish.device`); results that arrive after the video's last fusion are
``late``. ``sim/lag_fraction/<d>`` is the share of requests with lag ``d`` (``0 .. 9``, then
``10+``), over all requests; ``lag_counts`` in results.json keeps every lag.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

from edgecloud.fusion.clownfish import clownfish_fuse_batch
from edgecloud.metrics.action import accuracy, scored_frames, weighted_f1
from edgecloud.sim.clownfish.device import VideoPlayback
from edgecloud.sim.clownfish.policy import ClownfishPolicy, MethodSpec
from edgecloud.sim.clownfish.scenario import Phase, TimedUnit
from edgecloud.sim.clownfish.traffic import frames_uploaded, upload_bytes
from edgecloud.sim.summary import distribution

WINDOW_COLUMNS = (
    "video",
    "window",
    "start_frame",
    "label",
    "formed_s",
    "processed",
    "position",
    "start_s",
    "done_s",
    "rho",
    "sent",
    "suppressed",
    "sent_s",
    "bytes_up",
    "new_frames",
    "server_done_s",
    "arrival_s",
    "arrival_window",
    "lag",
    "displayed_s",
    "prediction",
    "phase",
)


def shown_windows(video: VideoPlayback, method: MethodSpec) -> np.ndarray:
    """Sorted windows whose output the edge displays: the processed ones, or for cloud-only
    every window whose result came back."""
    if method.worker == "none":
        return np.flatnonzero(np.isfinite(video.arrival_s))
    return video.processed_windows


def shown_classes(
    videos: Sequence[VideoPlayback],
    *,
    method: MethodSpec,
    policy: ClownfishPolicy,
    class_offset: int,
) -> list[np.ndarray]:
    """Per video, the class id shown for each of :func:`shown_windows` (see the module
    docstring); the fusing methods in one batched call over the unit's videos."""
    shown = [shown_windows(video, method) for video in videos]
    lengths = [len(windows) for windows in shown]
    if method.display == "relevant_remote":
        return [
            np.where(
                np.isfinite(video.sent_s[windows]),
                video.sequence.remote_probs[windows].argmax(axis=1) + class_offset,
                0,
            ).astype(np.int64)
            for video, windows in zip(videos, shown, strict=True)
        ]
    source = "remote" if method.display == "remote" else "local"
    probs = [
        getattr(video.sequence, f"{source}_probs")[windows]
        for video, windows in zip(videos, shown, strict=True)
    ]
    if not method.fuses and not method.smooth:
        return [p.argmax(axis=1).astype(np.int64) + class_offset for p in probs]
    stacked = np.concatenate(probs) if probs else np.zeros((0, 1))
    if method.fuses:
        remote = np.concatenate(
            [v.sequence.remote_probs[w] for v, w in zip(videos, shown, strict=True)]
        )
        similarity = np.concatenate([np.asarray(video.rho, dtype=np.float64) for video in videos])
        arrivals = np.concatenate(
            [video.arrival_position[w] for video, w in zip(videos, shown, strict=True)]
        )
        parameters = (
            policy.smoothing_parameters()
            if method.similarity == "fixed"
            else policy.fusion_parameters
        )
    else:  # FixMA over one source, no remote results
        remote = stacked
        similarity = np.full(len(stacked), float(policy.fixed_alpha))
        arrivals = np.full(len(stacked), -1, dtype=np.int64)
        parameters = policy.smoothing_parameters()
    labels, _ = clownfish_fuse_batch(
        stacked, remote, similarity, arrivals, video_lengths=lengths, **parameters
    )
    bounds = np.cumsum([0, *lengths])
    return [
        labels[0, bounds[k] : bounds[k + 1]].astype(np.int64) + class_offset
        for k in range(len(videos))
    ]


def window_predictions(num_windows: int, windows: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``(num_windows,)`` class shown at each window: its own output if shown, else the last
    shown window's before it, -1 before the first."""
    own = np.full(num_windows, -1, dtype=np.int64)
    own[windows] = classes
    has = np.zeros(num_windows, dtype=bool)
    has[windows] = True
    source = np.maximum.accumulate(np.where(has, np.arange(num_windows), -1))
    return np.where(source >= 0, own[np.maximum(source, 0)], -1)


def _phase_index(phases: Sequence[Phase], times: np.ndarray) -> np.ndarray:
    starts = np.array([phase.start_s for phase in phases])
    return np.maximum(np.searchsorted(starts, times, side="right") - 1, 0)


def _time(value: float) -> str:
    return f"{value:.6f}" if math.isfinite(value) else ""


@dataclass(kw_only=True)
class ClownfishReport:
    """Accumulates timed units; :meth:`results` gives the ``results.json`` content."""

    method: MethodSpec
    policy: ClownfishPolicy
    class_offset: int
    skip_frames: int
    actions_only: bool
    bin_s: float
    header_bytes: int
    result_header_bytes: int
    phases: Sequence[Phase] | None = None
    windows_csv: TextIO | None = None
    labels: list[np.ndarray] = field(default_factory=list)
    predictions: list[np.ndarray] = field(default_factory=list)
    scored_phase: list[np.ndarray] = field(default_factory=list)
    lags: Counter = field(default_factory=Counter)
    lags_by_phase: dict[str, Counter] = field(default_factory=dict)
    response_times: list[float] = field(default_factory=list)
    display_times: list[np.ndarray] = field(default_factory=list)
    counts: dict[str, float] = field(default_factory=dict)
    stride: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.bin_s) and self.bin_s > 0):
            raise ValueError(f"the throughput bin must be positive, got {self.bin_s!r}")
        self._writer = csv.writer(self.windows_csv) if self.windows_csv is not None else None
        if self._writer is not None:
            self._writer.writerow(WINDOW_COLUMNS)

    def _count(self, key: str, value: float) -> None:
        self.counts[key] = self.counts.get(key, 0) + value

    def add(self, unit: TimedUnit) -> None:
        videos = unit.videos
        method = self.method
        classes = shown_classes(
            videos, method=method, policy=self.policy, class_offset=self.class_offset
        )
        displayed = np.concatenate([video.displayed_s for video in videos])
        displayed = displayed[np.isfinite(displayed)]
        first = videos[0]
        stride = first.sequence.window_stride
        self.stride = stride
        if len(displayed):
            span = displayed.max() - first.formed_s[0] + stride / first.sequence.fps
            self._count("throughput_frames", len(displayed) * stride)
            self._count("throughput_span_s", span)
        self.display_times.append(displayed + unit.timeline_offset_s)
        self._count("units", 1)
        self._count("simulated_s", unit.horizon_s)
        self._count("edge_busy_s", unit.device.busy_s)
        if unit.server is not None:
            self._count("server_busy_s", sum(unit.server.busy_time_per_worker))
            self._count("server_capacity_s", unit.server.num_workers * unit.horizon_s)
        for video, shown_class in zip(videos, classes, strict=True):
            self._add_video(video, shown_class)

    def _add_video(self, video: VideoPlayback, classes: np.ndarray) -> None:
        sequence = video.sequence
        method = self.method
        shown = shown_windows(video, method)
        count = sequence.num_windows
        predictions = window_predictions(count, shown, classes)
        geometry = {
            "window_size": sequence.window_size,
            "window_stride": sequence.window_stride,
        }
        scored = scored_frames(
            sequence.frame_labels,
            skip_frames=self.skip_frames,
            actions_only=self.actions_only,
            **geometry,
        )
        self.labels.append(scored.labels)
        self.predictions.append(predictions[scored.windows])
        phase_of_window = (
            _phase_index(self.phases, video.formed_s) if self.phases is not None else None
        )
        if phase_of_window is not None:
            self.scored_phase.append(phase_of_window[scored.windows])
        sent = np.flatnonzero(np.isfinite(video.sent_s))
        processed = video.processed_windows
        self._count("videos", 1)
        self._count("windows", count)
        self._count("frames", sequence.num_frames)
        self._count("video_s", sequence.duration_s)
        self._count("processed_windows", len(processed))
        self._count("shown_windows", len(shown))
        self._count("requests", len(sent))
        self._count("suppressed", int(video.suppressed.sum()))
        self._count("bytes_up", int(video.bytes_up.sum()))
        arrived = np.isfinite(video.arrival_s)
        result_bytes = 4 * sequence.num_classes + self.result_header_bytes
        self._count("bytes_down", int(arrived.sum()) * result_bytes)
        self._count("frames_sent", int(video.new_frames.sum()))
        self._count("baseline_frames", frames_uploaded(shown, **geometry))
        self._count(
            "baseline_bytes",
            int(
                upload_bytes(
                    shown,
                    frame_bytes=sequence.frame_bytes,
                    header_bytes=self.header_bytes,
                    **geometry,
                ).sum()
            ),
        )
        self.response_times.extend((video.arrival_s[sent] - video.sent_s[sent]).tolist())
        lags = np.full(count, -1, dtype=np.int64)
        if method.fuses:
            fused = sent[video.arrival_position[sent] >= 0]
            lags[fused] = video.arrival_position[fused] - video.position[fused]
            for window in sent.tolist():
                lag = "late" if lags[window] < 0 else str(int(lags[window]))
                self.lags[lag] += 1
                if phase_of_window is not None:
                    name = self.phases[phase_of_window[window]].name
                    self.lags_by_phase.setdefault(name, Counter())[lag] += 1
        if self._writer is not None:
            self._write_rows(video, predictions, lags, phase_of_window)

    def _write_rows(
        self,
        video: VideoPlayback,
        predictions: np.ndarray,
        lags: np.ndarray,
        phase_of_window: np.ndarray | None,
    ) -> None:
        sequence = video.sequence
        rho = np.full(sequence.num_windows, math.nan)
        if video.rho:
            rho[video.processed_windows] = video.rho
        arrival_window = np.full(sequence.num_windows, -1, dtype=np.int64)
        has_arrival = video.arrival_position >= 0
        processed = video.processed_windows
        arrival_window[has_arrival] = processed[video.arrival_position[has_arrival]]
        for t in range(sequence.num_windows):
            self._writer.writerow(
                (
                    sequence.name,
                    t,
                    int(sequence.window_starts[t]),
                    int(sequence.window_labels[t]),
                    _time(video.formed_s[t]),
                    int(video.position[t] >= 0),
                    int(video.position[t]),
                    _time(video.start_s[t]),
                    _time(video.done_s[t]),
                    "" if math.isnan(rho[t]) else f"{rho[t]:.6f}",
                    int(math.isfinite(video.sent_s[t])),
                    int(video.suppressed[t]),
                    _time(video.sent_s[t]),
                    int(video.bytes_up[t]),
                    int(video.new_frames[t]),
                    _time(video.server_done_s[t]),
                    _time(video.arrival_s[t]),
                    int(arrival_window[t]),
                    "" if lags[t] < 0 else int(lags[t]),
                    _time(video.displayed_s[t]),
                    int(predictions[t]),
                    "" if phase_of_window is None else self.phases[phase_of_window[t]].name,
                )
            )

    # -- results ------------------------------------------------------------------------------

    def throughput_bins(self) -> np.ndarray:
        """Frames per second displayed in each ``bin_s`` of (laid end to end) simulated time."""
        times = np.concatenate(self.display_times) if self.display_times else np.zeros(0)
        if not len(times):
            return np.zeros(0)
        counts = np.bincount(np.floor(times / self.bin_s).astype(np.int64))
        return counts * self.stride / self.bin_s

    def results(self) -> dict:
        """``results.json``: flat ``metrics`` plus throughput bins, lag counts and phases."""
        counts = self.counts
        labels = np.concatenate(self.labels) if self.labels else np.zeros(0, dtype=np.int64)
        predictions = (
            np.concatenate(self.predictions) if self.predictions else np.zeros(0, dtype=np.int64)
        )
        requests = counts.get("requests", 0)
        metrics: dict[str, float | None] = {
            "sim/videos": counts.get("videos", 0),
            "sim/windows": counts.get("windows", 0),
            "sim/frames": counts.get("frames", 0),
            "sim/processed_windows": counts.get("processed_windows", 0),
            "sim/shown_windows": counts.get("shown_windows", 0),
            "sim/skipped_windows": counts.get("windows", 0) - counts.get("shown_windows", 0),
            "sim/scored_frames": len(labels),
            "sim/accuracy": accuracy(labels, predictions),
            "sim/f1": weighted_f1(labels, predictions),
            "sim/requests": requests,
            "sim/requests_suppressed": counts.get("suppressed", 0),
            "sim/bytes_up": counts.get("bytes_up", 0),
            "sim/bytes_down": counts.get("bytes_down", 0),
            "sim/mbps_up": _ratio(8e-6 * counts.get("bytes_up", 0), counts.get("video_s", 0)),
            "sim/frames_sent": counts.get("frames_sent", 0),
            "sim/frame_reduction": _reduction(
                counts.get("frames_sent", 0), counts.get("baseline_frames", 0)
            ),
            "sim/bandwidth_reduction": _reduction(
                counts.get("bytes_up", 0), counts.get("baseline_bytes", 0)
            ),
            "sim/throughput_fps": _ratio(
                counts.get("throughput_frames", 0), counts.get("throughput_span_s", 0)
            ),
            "sim/effective_stride_frames": _ratio(
                counts.get("windows", 0) * self.stride, counts.get("shown_windows", 0)
            ),
            "sim/simulated_s": counts.get("simulated_s", 0.0),
            "sim/edge_utilisation": _ratio(
                counts.get("edge_busy_s", 0.0), counts.get("simulated_s", 0.0)
            ),
            "sim/server_utilisation": _ratio(
                counts.get("server_busy_s", 0.0), counts.get("server_capacity_s", 0.0)
            ),
        }
        for key, value in distribution(self.response_times).items():
            metrics[f"sim/response_time_{key}_s"] = value
        if self.method.fuses:
            metrics.update(_lag_metrics("sim/", self.lags))
        bins = self.throughput_bins()
        # the first and last bins are partial (the run starts and ends inside them)
        metrics["sim/throughput_median_fps"] = (
            float(np.median(bins[1:-1])) if len(bins) > 2 else None
        )
        phases = []
        if self.phases is not None and self.labels:
            phases = self._phase_metrics(metrics, labels, predictions)
        return {
            "metrics": metrics,
            "lag_counts": dict(sorted(self.lags.items(), key=_lag_order)),
            "throughput_bin_s": self.bin_s,
            "throughput_bins_fps": bins.tolist(),
            "phases": phases,
            "response_times_s": sorted(self.response_times),
        }

    def _phase_metrics(
        self, metrics: dict, labels: np.ndarray, predictions: np.ndarray
    ) -> list[dict]:
        """Per named phase: accuracy, F1, throughput and lags (phases of one name pooled)."""
        phase_ids = np.concatenate(self.scored_phase)
        times = np.concatenate(self.display_times) if self.display_times else np.zeros(0)
        end = float(times.max()) if len(times) else 0.0
        names = list(dict.fromkeys(phase.name for phase in self.phases))
        described = []
        for name in names:
            members = [k for k, phase in enumerate(self.phases) if phase.name == name]
            mask = np.isin(phase_ids, members)
            duration = sum(
                max(0.0, min(self.phases[k].end_s, end) - self.phases[k].start_s) for k in members
            )
            shown = sum(
                int(
                    np.count_nonzero(
                        (times >= self.phases[k].start_s) & (times < self.phases[k].end_s)
                    )
                )
                for k in members
            )
            prefix = f"sim/phase/{name}/"
            metrics[f"{prefix}accuracy"] = accuracy(labels[mask], predictions[mask])
            metrics[f"{prefix}f1"] = weighted_f1(labels[mask], predictions[mask])
            metrics[f"{prefix}scored_frames"] = int(mask.sum())
            # phases are times of one timeline: with several units (isolated videos, each
            # starting at 0) displays of different videos would overlap
            single = self.counts.get("units", 0) == 1
            metrics[f"{prefix}throughput_fps"] = (
                _ratio(shown * self.stride, duration) if single else None
            )
            if self.method.fuses:
                metrics.update(_lag_metrics(prefix, self.lags_by_phase.get(name, Counter())))
            described.extend(
                {"name": name, "start_s": self.phases[k].start_s, "end_s": self.phases[k].end_s}
                for k in members
            )
        return sorted(described, key=lambda phase: phase["start_s"])


LAG_BUCKETS = 10
"""Lags from this one on share one metric (``lag_fraction/10+``); the counts stay exact."""


def lag_sort_key(key: str) -> tuple[int, int]:
    """Order of lag labels: ``0, 1, ..., 10+, late``."""
    if key == "late":
        return (2, 0)
    if key.endswith("+"):
        return (1, int(key[:-1]))
    return (0, int(key))


def _lag_order(item: tuple[str, int]) -> tuple[int, int]:
    return lag_sort_key(item[0])


def bucket_lags(counts: dict[str, int], *, buckets: int = LAG_BUCKETS) -> dict[str, int]:
    """Exact lag counts with every lag ``>= buckets`` pooled as ``"<buckets>+"``."""
    pooled: Counter = Counter()
    for key, value in counts.items():
        if key != "late" and int(key) >= buckets:
            pooled[f"{buckets}+"] += value
        else:
            pooled[key] += value
    return dict(sorted(pooled.items(), key=_lag_order))


def _lag_metrics(prefix: str, lags: Counter) -> dict[str, float | None]:
    """Fractions per lag (``0 .. 9``, ``10+``, ``late``) over all requests, the mean lag of
    the fused ones and the share within lag 1."""
    total = sum(lags.values())
    metrics: dict[str, float | None] = {}
    numeric = {int(k): v for k, v in lags.items() if k != "late"}
    for lag in range(min(max(numeric, default=-1) + 1, LAG_BUCKETS)):
        metrics[f"{prefix}lag_fraction/{lag}"] = _ratio(numeric.get(lag, 0), total)
    if any(lag >= LAG_BUCKETS for lag in numeric):
        beyond = sum(v for k, v in numeric.items() if k >= LAG_BUCKETS)
        metrics[f"{prefix}lag_fraction/{LAG_BUCKETS}+"] = _ratio(beyond, total)
    metrics[f"{prefix}lag_fraction/late"] = _ratio(lags.get("late", 0), total)
    fused = sum(numeric.values())
    metrics[f"{prefix}lag_mean"] = _ratio(sum(k * v for k, v in numeric.items()), fused)
    metrics[f"{prefix}lag_max"] = max(numeric, default=None)
    metrics[f"{prefix}lag_within_1"] = _ratio(sum(v for k, v in numeric.items() if k <= 1), total)
    return metrics


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator else None


def _reduction(used: float, baseline: float) -> float | None:
    return float(1.0 - used / baseline) if baseline else None
