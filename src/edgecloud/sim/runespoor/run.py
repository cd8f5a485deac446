"""Run a Runespoor simulation end to end: profile, replay every method, write the results.

The knob recording's clips are split: the first ``profiling_clips`` are the offline profiling
frames (the tail-frame threshold and every configuration's profile,
:func:`~edgecloud.control.recording_profile.profile_recording`), the others are the replayed
camera stream, so no replayed frame was profiled. Every method replays the same stream with
its own links, server and generators (seeded from the run's seed), so their differences are
the controllers' alone.

Files written into the output directory: ``per_second.csv`` (Fig. 12's numbers for every
method), ``table5.md`` (Table V: every method's latency breakdown, the ``sim/<method>/``
latency metrics of results.json in ms), ``frames.csv`` (one row per method and frame,
optional), ``fig12.png`` and the returned ``results`` (the caller writes results.json).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgecloud.control.recording_profile import profile_recording, tail_detection_scores
from edgecloud.recording.knobs import KnobRecording
from edgecloud.sim.compute import ComputeProfile
from edgecloud.sim.network.base import LinkSpec
from edgecloud.sim.runespoor import figures
from edgecloud.sim.runespoor.replay import frame_stream
from edgecloud.sim.runespoor.report import (
    latency_breakdown,
    per_second,
    run_metrics,
    switches,
    table5_markdown,
)
from edgecloud.sim.runespoor.scenario import METHODS, EdgeSettings, RunespoorRun, simulate_method


@dataclass(frozen=True, kw_only=True)
class ProfilingSettings:
    """How offline profiling is run on the recording (module docstring)."""

    profiling_clips: int
    tail_fraction: float = 0.1
    min_recall: float = 0.9
    # a fixed tail-frame threshold instead of the fitted one (null: fitted)
    threshold: float | None = None


def split_clips(clip_names: Sequence[str], *, profiling_clips: int) -> tuple[list, list]:
    """The first ``profiling_clips`` clips, and the rest (both non-empty)."""
    if not 0 < profiling_clips < len(clip_names):
        raise ValueError(
            f"profiling_clips must leave clips on both sides: 1..{len(clip_names) - 1} of the "
            f"recording's {len(clip_names)} clips, got {profiling_clips}"
        )
    return list(clip_names[:profiling_clips]), list(clip_names[profiling_clips:])


def run_runespoor(
    *,
    recording_root: str | Path,
    methods: Sequence[str],
    profiling: ProfilingSettings,
    edge: dict,
    duration_s: float | None,
    uplink: LinkSpec,
    downlink: LinkSpec,
    server_profile: ComputeProfile | None,
    seed: int,
    output_dir: Path,
    frames_csv: bool = True,
    figure: bool = True,
) -> dict:
    """Profile, replay every method, write the files; returns the results dict."""
    unknown = [method for method in methods if method not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty list from {METHODS}, got {list(methods)}")
    recording = KnobRecording.open(recording_root)
    profiled, replayed = split_clips(
        recording.clip_names, profiling_clips=profiling.profiling_clips
    )
    profile = profile_recording(
        recording,
        clip_names=profiled,
        tail_fraction=profiling.tail_fraction,
        min_recall=profiling.min_recall,
    )
    threshold = (
        profile.threshold_fit.threshold if profiling.threshold is None else profiling.threshold
    )
    stream = frame_stream(recording, clip_names=replayed, duration_s=duration_s)
    settings = EdgeSettings(tail_threshold=threshold, **edge)
    runs = {
        method: simulate_method(
            method=method,
            stream=stream,
            profiles=list(profile.profiles),
            settings=settings,
            uplink_spec=uplink,
            downlink_spec=downlink,
            server_profile=server_profile,
            seed=seed,
        )
        for method in methods
    }
    seconds = {method: per_second(run) for method, run in runs.items()}
    _write_per_second(output_dir / "per_second.csv", seconds)
    breakdowns = {method: latency_breakdown(run) for method, run in runs.items()}
    (output_dir / "table5.md").write_text(table5_markdown(breakdowns))
    if frames_csv:
        _write_frames(output_dir / "frames.csv", runs)
    if figure:
        figures.plot_fig12(seconds=seconds, path=output_dir / "fig12.png")
    metrics: dict[str, float] = {}
    for method, run in runs.items():
        metrics.update({f"sim/{method}/{k}": v for k, v in run_metrics(run).items()})
    fit = profile.threshold_fit
    metrics["profile/threshold"] = threshold
    metrics["profile/fit_recall"] = fit.recall
    metrics["profile/fit_precision"] = fit.precision
    for scale, (recall, precision) in tail_detection_scores(
        recording, clip_names=replayed, threshold=threshold, tail_fraction=profiling.tail_fraction
    ).items():
        metrics[f"profile/heldout/{scale}/recall"] = recall
        metrics[f"profile/heldout/{scale}/precision"] = precision
    return {
        "metrics": metrics,
        "profiling": {
            "clips": list(profile.clips),
            "frames": profile.num_frames,
            "tail_frames": profile.num_tail_frames,
            "threshold_fit": asdict(fit),
            "profiles": [
                {"knobs": p.knobs.name, **{k: v for k, v in asdict(p).items() if k != "knobs"}}
                for p in profile.profiles
            ],
        },
        "replay": {"clips": replayed, "frames": stream.num_frames, "fps": stream.fps},
        "per_second": seconds,
        "switches": {method: switches(run) for method, run in runs.items()},
    }


def _write_per_second(path: Path, seconds: dict[str, dict[str, list[float]]]) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["method", "second", "miou", "hr_miou", "relative", "mbps", "bandwidth"])
        for method, rows in seconds.items():
            for values in zip(*rows.values(), strict=True):
                writer.writerow([method, *(f"{v:.6f}" for v in values)])


def _write_frames(path: Path, runs: dict[str, RunespoorRun]) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(
            ["method", "frame", "clip", "clip_frame", "knobs", "in_tail", "tail_signal",
             "bytes", "capture_s", "uplink_arrival_s", "server_finish_s", "response_s",
             "frame_miou", "hr_frame_miou"]
        )  # fmt: skip
        for method, run in runs.items():
            log, stream = run.frames, run.stream
            frame_miou = stream.arrays["frame_miou"][log.knob, np.arange(stream.num_frames)]
            for n, (clip, clip_frame) in enumerate(stream.source):
                writer.writerow(
                    [method, n, clip, clip_frame, stream.knobs[log.knob[n]].name,
                     int(log.in_tail[n]), int(log.tail_signal[n]), int(log.sent_bytes[n]),
                     f"{stream.capture_time(n):.6f}", f"{log.uplink_arrival_s[n]:.6f}",
                     f"{log.server_finish_s[n]:.6f}", f"{log.response_s[n]:.6f}",
                     f"{frame_miou[n]:.6f}", f"{stream.arrays['hr_frame_miou'][n]:.6f}"]
                )  # fmt: skip
