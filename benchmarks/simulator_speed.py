"""Simulator speed: REACT replay frames/s per tracker, the frequency-heatmap sweep, the
scalability run and the memory a replay keeps.

Five measurements on the recordings ``make demo`` writes (``logs/demo/evaluate_{edge,cloud}/
recording``, frames in ``data/drone_world/val/sequences``), configs composed from
``configs/simulate.yaml`` as ``simulate.py`` composes them:

1. REACT replay with the motion-model tracker (method=react, k=5, m=30, wifi_30ms): simulated
   frames per second counting ``build_react_scenario`` (opening and reading the recordings), the
   event simulation and ``ReplayReport.add`` with ``score_accuracy=True`` (which builds the
   displayed ``FrameDetections`` of every frame); the final mAP (``ReplayReport.results()``, COCO
   evaluation) is timed separately. Once over the recording as it is and once looped to
   ``--long-duration-s`` per device, to amortise start-up.
2. The same with the pixel trackers ``lk`` and, on a short subset, ``kcf`` and ``csrt``, with the
   time the tracker itself took per object and step.
3. The Fig. 4 heatmap sweep (``experiment=react/sim/frequency_heatmap``): 16 runs in one process
   (build, run, results incl. mAP), and the real ``simulate.py -m`` CLI in a subprocess (Hydra
   start-up, 16 jobs and the aggregation), checking both give the same mAP per cell.
4. The scalability experiment (``experiment=react/sim/scalability``) with 100 devices x 600 s,
   with its closed-loop load generators and open loop (``scenario.devices.load=open``).
5. Peak memory (peak RSS and ``tracemalloc``, each in a fresh subprocess) of a replay of
   one sequence and of the same sequence looped 4x longer, beside the recording's size on disk
   and in memory.

When the motion replay misses its 30,000 frames/s target it is profiled with ``cProfile`` and the
top functions (with per-call costs) go into the JSON and the printed report.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/simulator_speed.py   # full size, ~3.5 min
    .venv/bin/python benchmarks/simulator_speed.py --quick --toy       # ~15 s smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "configs"
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "simulator_speed.json"
DEMO_EDGE = REPO_ROOT / "logs" / "demo" / "evaluate_edge" / "recording"
DEMO_CLOUD = REPO_ROOT / "logs" / "demo" / "evaluate_cloud" / "recording"
DEMO_FRAMES = REPO_ROOT / "data" / "drone_world" / "val" / "sequences"

# The targets (on the project's shared 2-core machine).
REPLAY_TARGET_FPS = 30_000.0
HEATMAP_TARGET_S = 60.0
SCALING_TARGET_S = 30.0

# REACT with the motion model: method=react (k=5, m=30 are scenario/react.yaml's defaults).
REPLAY_OVERRIDES = (
    "method=react",
    "network=wifi_30ms",
    "scenario.policy.edge_every=5",
    "scenario.policy.cloud_every=30",
    "scenario.scoring.tide=false",
    "frames_csv=false",
    "figure=none",
)
HEATMAP_EXPERIMENT = "react/sim/frequency_heatmap"
HEATMAP_EDGE_EVERY = (5, 10, 15, 20)
HEATMAP_CLOUD_EVERY = (30, 45, 60, 100)
SCALING_EXPERIMENT = "react/sim/scalability"
# simulate.py logs this once per job: "replayed N frames in X s, scored in Y s: ..."
JOB_LOG = re.compile(r"replayed (\d+) frames in ([0-9.]+) s, scored in ([0-9.]+) s")

FULL = {
    "rounds": 5,
    "sequences": None,
    "duration_s": None,
    "long_duration_s": 60.0,
    "pixel_rounds": 1,
    "csrt_sequences": None,  # the first sequence
    # 1 s: at 2 s OpenCV's CSRT fails to start on a 2-px-high box at dw_val_0000's bottom edge
    "csrt_duration_s": 1.0,
    "heatmap_edge_every": list(HEATMAP_EDGE_EVERY),
    "heatmap_cloud_every": list(HEATMAP_CLOUD_EVERY),
    "sweep_rounds": 2,
    "devices": 100,
    "device_duration_s": 600.0,
    "scaling_rounds": 3,
    "memory_duration_s": None,
    "memory_factor": 4,
}
QUICK = FULL | {
    "rounds": 1,
    "sequences": "first",
    "duration_s": 2.0,
    "long_duration_s": 4.0,
    "csrt_duration_s": 0.2,
    "heatmap_edge_every": [5, 10],
    "heatmap_cloud_every": [30],
    "sweep_rounds": 1,
    "devices": 5,
    "device_duration_s": 20.0,
    "scaling_rounds": 1,
    "memory_duration_s": 1.0,
}


# --- recordings ------------------------------------------------------------------------------


def demo_recordings_exist(edge: Path, cloud: Path, frames_root: Path) -> bool:
    return (
        (edge / "manifest.json").is_file()
        and (cloud / "manifest.json").is_file()
        and frames_root.is_dir()
    )


def write_toy_recordings(
    root: Path,
    *,
    sequences: int = 2,
    num_frames: int = 90,
    fps: float = 30.0,
    height: int = 180,
    width: int = 320,
    objects: int = 8,
    seed: int = 0,
) -> tuple[Path, Path, Path]:
    """A small stand-in for the demo recordings: ``objects`` textured boxes moving at constant
    velocity over a textured background (real JPEG frames, so the pixel trackers have something
    to follow), an edge recording (jittered, 20% missed, 20% wrong class, a false positive now
    and then) and a cloud recording (tighter, 5% missed). Returns (edge, cloud, frames_root)."""
    import cv2

    from edgecloud.data.annotations import FrameAnnotations
    from edgecloud.detections import FrameDetections
    from edgecloud.recording.detection import DetectionRecordingWriter

    rng = np.random.default_rng(seed)
    classes = ["car", "van", "truck"]
    frames_root = root / "frames"
    per_sequence: dict[str, dict[str, list]] = {}
    for s in range(sequences):
        name = f"toy_{s:04d}"
        directory = frames_root / name
        directory.mkdir(parents=True)
        background = cv2.GaussianBlur(
            rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (0, 0), 2.0
        )
        sizes = rng.uniform(14, 40, (objects, 2))
        starts = rng.uniform([0, 0], [width - 40, height - 40], (objects, 2))
        velocities = rng.uniform(-1.5, 1.5, (objects, 2))
        labels = rng.integers(1, len(classes) + 1, objects)
        textures = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(objects)]
        record: dict[str, list] = {"gt": [], "edge": [], "cloud": [], "bytes": []}
        for frame in range(num_frames):
            corners = starts + velocities * frame
            corners = np.clip(corners, 0, [width - 1, height - 1] - sizes)
            boxes = np.hstack([corners, corners + sizes]).astype(np.float32)
            image = background.copy()
            for box, texture in zip(boxes.astype(int), textures, strict=True):
                patch = cv2.resize(
                    texture, (box[2] - box[0], box[3] - box[1]), interpolation=cv2.INTER_NEAREST
                )
                image[box[1] : box[3], box[0] : box[2]] = patch
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok
            (directory / f"{frame + 1:07d}.jpg").write_bytes(jpeg.tobytes())
            record["bytes"].append(len(jpeg))
            record["gt"].append(
                FrameAnnotations(
                    boxes=boxes, labels=labels.copy(), track_ids=np.arange(objects, dtype=np.int64)
                )
            )
            for role, jitter, miss, wrong in (("edge", 0.06, 0.2, 0.2), ("cloud", 0.02, 0.05, 0.0)):
                keep = rng.random(objects) >= miss
                sides = (boxes[keep, 2:] - boxes[keep, :2])[:, [0, 1, 0, 1]]
                found = boxes[keep] + rng.normal(0, jitter, (int(keep.sum()), 4)) * sides
                found_labels = labels[keep].copy()
                flip = rng.random(len(found_labels)) < wrong
                found_labels[flip] = rng.integers(1, len(classes) + 1, int(flip.sum()))
                scores = rng.uniform(0.55, 0.99, len(found_labels))
                if role == "edge" and rng.random() < 0.3:
                    corner = rng.uniform([0, 0], [width - 30, height - 30])
                    found = np.vstack([found, np.r_[corner, corner + 25]])
                    found_labels = np.r_[found_labels, rng.integers(1, len(classes) + 1)]
                    scores = np.r_[scores, rng.uniform(0.5, 0.8)]
                found[:, [0, 2]] = np.clip(found[:, [0, 2]], 0, width)
                found[:, [1, 3]] = np.clip(found[:, [1, 3]], 0, height)
                record[role].append(
                    FrameDetections(
                        boxes=found.astype(np.float32),
                        labels=found_labels.astype(np.int64),
                        scores=scores.astype(np.float32),
                    )
                )
        per_sequence[name] = record
    paths = {}
    for role, latency in (("edge", 0.03), ("cloud", 0.12)):
        paths[role] = root / role
        with DetectionRecordingWriter(
            paths[role], class_names=classes, model={"name": f"toy {role}"}, device="toy",
            jpeg_quality=90,
        ) as writer:  # fmt: skip
            for name, record in per_sequence.items():
                writer.add_sequence(
                    name,
                    fps=fps,
                    height=height,
                    width=width,
                    detections=record[role],
                    ground_truth=record["gt"],
                    latency_s=[latency] * num_frames,
                    encoded_bytes=record["bytes"],
                )
    return paths["edge"], paths["cloud"], frames_root


def recording_overrides(recordings: dict[str, Any]) -> list[str]:
    """Overrides pointing the scenario at the benchmark's recordings (none for the defaults)."""
    if not recordings["custom"]:
        return []
    return [
        f"scenario.recordings.edge={recordings['edge']}",
        f"scenario.recordings.cloud={recordings['cloud']}",
        f"scenario.frames_root={recordings['frames_root']}",
    ]


def sequence_override(names: Sequence[str] | None) -> list[str]:
    return [] if names is None else [f"scenario.sequences=[{','.join(names)}]"]


def duration_override(duration_s: float | None) -> list[str]:
    return [] if duration_s is None else [f"scenario.devices.duration_s={duration_s}"]


# --- running the simulator -------------------------------------------------------------------


def compose_config(overrides: Sequence[str]):
    """The config ``simulate.py`` would run with these overrides (without Hydra's run dir)."""
    from hydra import compose, initialize_config_dir

    from edgecloud.utils.config import register_resolvers

    os.environ.setdefault("PROJECT_ROOT", str(REPO_ROOT))
    register_resolvers()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        return compose("simulate", overrides=list(overrides))


class TrackerTimer:
    """Counts and times the tracker calls of a replay (wraps the scenario's tracker factory)."""

    def __init__(self) -> None:
        self.starts = self.steps = self.start_objects = self.step_objects = 0
        self.start_s = self.step_s = 0.0

    def wrap(self, factory: Callable[[], Any]) -> Callable[[], Any]:
        from edgecloud.tracking.base import BoxTracker

        timer = self

        class TimedTracker(BoxTracker):
            needs_pixels = False

            def __init__(self, inner: BoxTracker) -> None:
                self.inner = inner
                self.needs_pixels = inner.needs_pixels

            def start(self, *, frame_index, image, ids, boxes) -> None:
                began = time.perf_counter()
                self.inner.start(frame_index=frame_index, image=image, ids=ids, boxes=boxes)
                timer.start_s += time.perf_counter() - began
                timer.starts += 1
                timer.start_objects += len(ids)
                self.count = len(ids)

            def step(self, *, frame_index, image):
                began = time.perf_counter()
                boxes, found = self.inner.step(frame_index=frame_index, image=image)
                timer.step_s += time.perf_counter() - began
                timer.steps += 1
                timer.step_objects += len(boxes)
                return boxes, found

        return lambda: TimedTracker(factory())

    def summary(self) -> dict[str, Any]:
        return {
            "starts": self.starts,
            "start_objects": self.start_objects,
            "start_s": self.start_s,
            "steps": self.steps,
            "step_objects": self.step_objects,
            "step_s": self.step_s,
            "mean_objects_per_step": self.step_objects / self.steps if self.steps else None,
            "ms_per_step": 1e3 * self.step_s / self.steps if self.steps else None,
            "ms_per_object_step": 1e3 * self.step_s / self.step_objects
            if self.step_objects
            else None,
            "ms_per_object_start": 1e3 * self.start_s / self.start_objects
            if self.start_objects
            else None,
        }


def run_scenario(
    cfg, *, score: bool, tracker_timer: TrackerTimer | None = None
) -> tuple[dict[str, Any], Any]:
    """What ``simulate()`` does minus its files: build, run, ``ReplayReport.add`` (accuracy and
    TIDE as the config says, no frames.csv), then ``results()`` when ``score``. Returns the
    timings and the report (so callers can measure what it keeps)."""
    from edgecloud.cli.simulate import build_react_scenario
    from edgecloud.sim.react.report import ReplayReport

    load = os.getloadavg()[0]
    cpu_started = time.process_time()
    started = time.perf_counter()
    scenario = build_react_scenario(cfg)
    built = time.perf_counter()
    if tracker_timer is not None and scenario.tracker_factory is not None:
        scenario.tracker_factory = tracker_timer.wrap(scenario.tracker_factory)
    report = ReplayReport(
        class_names=scenario.class_names,
        deadline_frames=scenario.policy.display_deadline_frames,
        score_accuracy=bool(cfg.scenario.scoring.accuracy) and scenario.layout.pipeline,
        score_tide=bool(cfg.scenario.scoring.tide),
        usd_per_1000_requests=float(cfg.scenario.usd_per_1000_requests),
    )
    add_s = 0.0
    for unit in scenario.run(seed=int(cfg.seed)):
        began = time.perf_counter()
        report.add(unit)
        add_s += time.perf_counter() - began
    replayed = time.perf_counter()
    cpu_replayed = time.process_time()
    frames = int(report.counts.get("frames", 0))
    run = {
        "frames": frames,
        "requests": int(report.counts.get("requests", 0)),
        "build_s": built - started,
        # loading each sequence's arrays and the event simulation (ReplayReport.add excluded)
        "load_and_simulate_s": replayed - built - add_s,
        "add_s": add_s,
        "replay_s": replayed - started,
        "replay_cpu_s": cpu_replayed - cpu_started,
        "frames_per_s": frames / (replayed - started),
        "load_1min_before": load,
    }
    if score:
        results = report.results()
        run["score_s"] = time.perf_counter() - replayed
        run["total_s"] = run["replay_s"] + run["score_s"]
        metrics = results["metrics"]
        run["map50"] = metrics.get("sim/mAP50")
        run["map"] = metrics.get("sim/mAP")
        run["server_throughput_rps"] = metrics.get("sim/server_throughput_rps")
        run["response_time_p95_s"] = metrics.get("sim/response_time_p95_s")
    return run, report


def summarise_runs(runs: list[dict[str, Any]], *, overrides: Sequence[str]) -> dict[str, Any]:
    def median(key: str) -> float | None:
        values = [run[key] for run in runs if run.get(key) is not None]
        return statistics.median(values) if values else None

    return {
        "overrides": list(overrides),
        "frames": runs[0]["frames"],
        "requests": runs[0]["requests"],
        "median_replay_s": median("replay_s"),
        "median_build_s": median("build_s"),
        "median_load_and_simulate_s": median("load_and_simulate_s"),
        "median_add_s": median("add_s"),
        "median_score_s": median("score_s"),
        "median_frames_per_s": median("frames_per_s"),
        "best_frames_per_s": max(run["frames_per_s"] for run in runs),
        "median_frames_per_cpu_s": statistics.median(
            run["frames"] / run["replay_cpu_s"] for run in runs
        ),
        "map50": runs[0].get("map50"),
        "runs": runs,
    }


def measure_replays(
    cases: dict[str, list[str]], *, rounds: int, timed_trackers: bool = False
) -> dict[str, dict[str, Any]]:
    """Each case ``rounds`` times, interleaved round by round; medians per case. One untimed
    replay of the first case comes first: numba compiles the simulator's kernels on their first
    call in a checkout (about 7 s, once) and loads them from ``__pycache__`` in every later
    process (about 0.3 s), a one-off like importing the package."""
    configs = {name: compose_config(overrides) for name, overrides in cases.items()}
    run_scenario(next(iter(configs.values())), score=False)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    trackers: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, cfg in configs.items():
            timer = TrackerTimer() if timed_trackers else None
            run, report = run_scenario(cfg, score=True, tracker_timer=timer)
            del report
            gc.collect()
            runs[name].append(run)
            if timer is not None:
                trackers[name].append(timer.summary())
    summaries = {}
    for name, overrides in cases.items():
        summaries[name] = summarise_runs(runs[name], overrides=overrides)
        if timed_trackers:
            summaries[name]["tracker"] = trackers[name][-1]
    return summaries


def profile_replay(overrides: Sequence[str], *, top: int) -> dict[str, Any]:
    """cProfile of one replay (build, run, ``add``; not ``results()``): the top functions by own
    time and by cumulative time, with per-call costs in microseconds."""
    cfg = compose_config(overrides)
    profiler = cProfile.Profile()
    profiler.enable()
    run, _ = run_scenario(cfg, score=False)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt

    def rows(order: str) -> list[dict[str, Any]]:
        entries = []
        for (filename, line, function), (primitive, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]  # fmt: skip
            entries.append(
                {
                    "function": f"{_short_path(filename)}:{line}({function})",
                    "calls": calls,
                    "own_s": own,
                    "cumulative_s": cumulative,
                    "own_us_per_call": 1e6 * own / calls if calls else None,
                    "cumulative_us_per_call": 1e6 * cumulative / primitive if primitive else None,
                    "own_share": own / total if total else None,
                }
            )
        key = "own_s" if order == "own" else "cumulative_s"
        return sorted(entries, key=lambda e: e[key], reverse=True)[:top]

    return {
        "overrides": list(overrides),
        "frames": run["frames"],
        "profiled_s": total,
        "unprofiled_replay_note": "cProfile adds overhead per Python call; compare shares, not "
        "absolute times, with the timed runs",
        "top_own_time": rows("own"),
        "top_cumulative_time": rows("cumulative"),
    }


def _short_path(filename: str) -> str:
    """``edgecloud/...``, ``numpy/...`` or ``json/...`` rather than an absolute path."""
    for marker in ("/site-packages/", "/src/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return re.sub(r"^.*/lib/python3\.\d+/", "", filename)


# --- the heatmap sweep -----------------------------------------------------------------------


def heatmap_in_process(
    edge_every: Sequence[int], cloud_every: Sequence[int], base: Sequence[str]
) -> dict[str, Any]:
    """Every cell composed and run in this process (build + run + results incl. mAP)."""
    started = time.perf_counter()
    cells, compose_s = [], 0.0
    for k in edge_every:
        for m in cloud_every:
            began = time.perf_counter()
            cfg = compose_config(
                [
                    f"experiment={HEATMAP_EXPERIMENT}",
                    *base,
                    f"scenario.policy.edge_every={k}",
                    f"scenario.policy.cloud_every={m}",
                ]
            )
            compose_s += time.perf_counter() - began
            run, report = run_scenario(cfg, score=True)
            del report
            cells.append({"edge_every": k, "cloud_every": m} | run)
    wall = time.perf_counter() - started
    return {
        "cells": len(cells),
        "wall_s": wall,
        "runs_s": sum(cell["total_s"] for cell in cells),
        "compose_s": compose_s,
        "replay_s": sum(cell["replay_s"] for cell in cells),
        "score_s": sum(cell["score_s"] for cell in cells),
        "frames": sum(cell["frames"] for cell in cells),
        "per_cell": cells,
    }


def heatmap_cli(
    edge_every: Sequence[int], cloud_every: Sequence[int], base: Sequence[str], sweep_dir: Path
) -> dict[str, Any]:
    """``simulate.py -m experiment=react/sim/frequency_heatmap`` in a subprocess: Hydra start-up,
    every job, and the aggregation into summary.csv and heatmap.png."""
    command = [
        sys.executable,
        "simulate.py",
        "-m",
        f"experiment={HEATMAP_EXPERIMENT}",
        f"hydra.sweep.dir={sweep_dir}",
        *base,
    ]
    if list(edge_every) != list(HEATMAP_EDGE_EVERY):
        command.append(f"scenario.policy.edge_every={','.join(map(str, edge_every))}")
    if list(cloud_every) != list(HEATMAP_CLOUD_EVERY):
        command.append(f"scenario.policy.cloud_every={','.join(map(str, cloud_every))}")
    env = os.environ | {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stderr[-4000:]}"
        )
    logged = JOB_LOG.findall(completed.stdout + completed.stderr)
    summary = json.loads((sweep_dir / "summary.json").read_text())
    maps = {}
    for job in summary["jobs"]:
        overrides = job["overrides"]
        k = overrides.get("scenario.policy.edge_every", HEATMAP_EDGE_EVERY[0])
        m = overrides.get("scenario.policy.cloud_every", HEATMAP_CLOUD_EVERY[0])
        maps[(int(k), int(m))] = job["metrics"].get("sim/mAP50")
    return {
        "command": " ".join(["python", *command[1:]]),
        "wall_s": wall,
        "jobs": len(summary["jobs"]),
        "jobs_replay_s": sum(float(replay) for _, replay, _ in logged),
        "jobs_score_s": sum(float(score) for _, _, score in logged),
        "heatmap_png": (sweep_dir / "heatmap.png").is_file(),
        "map50_per_cell": {f"{k},{m}": value for (k, m), value in sorted(maps.items())},
    }


# --- memory ----------------------------------------------------------------------------------


def _status_kib(field: str) -> int | None:
    """A ``VmRSS``/``VmHWM``-style field of /proc/self/status in bytes (None off Linux)."""
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def rss_bytes() -> int | None:
    """Current resident set size."""
    return _status_kib("VmRSS")


def peak_rss_bytes() -> int | None:
    """Peak resident set size of this process's address space (``VmHWM``).

    Not ``getrusage().ru_maxrss``: that one survives fork and exec, so a probe started from the
    benchmark process (which imported torch for the machine description) would report the
    parent's peak. ``VmHWM`` belongs to the new address space and can be reset, see
    :func:`reset_peak_rss`."""
    return _status_kib("VmHWM")


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False when that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_probe(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: one replay without tracing (RSS before and at its peak), then the
    same replay under ``tracemalloc`` (Python and numpy allocations: peak and what is retained)."""
    import tracemalloc

    cfg = compose_config(spec["overrides"])
    # A 3-frame warm-up replay first, so the baseline includes every module a replay imports.
    warm_up = compose_config([*spec["overrides"], "scenario.devices.duration_s=0.1"])
    run_scenario(warm_up, score=False)
    gc.collect()
    peak_reset = reset_peak_rss()
    baseline = rss_bytes()
    run, report = run_scenario(cfg, score=False)
    replay_peak, after_replay = peak_rss_bytes(), rss_bytes()
    displayed = report.displayed
    # Frames showing the same output may share one FrameDetections; count each object once.
    distinct = list({id(d): d for d in displayed}.values())
    kept = {
        "displayed_frames": len(displayed),
        "distinct_displayed": len(distinct),
        "displayed_objects": int(sum(len(d) for d in displayed)),
        "displayed_array_bytes": int(
            sum(d.boxes.nbytes + d.labels.nbytes + d.scores.nbytes for d in distinct)
        ),
        "scored_frames": len(report.image_sizes),
    }
    started = time.perf_counter()
    report.results()
    score_s = time.perf_counter() - started
    results_peak = peak_rss_bytes()
    del report, displayed, distinct
    gc.collect()

    tracemalloc.start()
    traced_start, _ = tracemalloc.get_traced_memory()
    _, report = run_scenario(cfg, score=False)
    gc.collect()
    traced_after, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    report.results()
    _, traced_results_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    def minus(a: int | None, b: int | None) -> int | None:
        return a - b if a is not None and b is not None else None

    return {
        "frames": run["frames"],
        "replay_s": run["replay_s"],
        "score_s": score_s,
        "peak_reset": peak_reset,
        "rss_before_replay_bytes": baseline,
        "peak_rss_replay_bytes": replay_peak,
        "rss_after_replay_bytes": after_replay,
        "peak_rss_with_results_bytes": results_peak,
        # Only meaningful when the peak could be reset before the replay.
        "replay_peak_rss_growth_bytes": minus(replay_peak, baseline) if peak_reset else None,
        "retained_rss_growth_bytes": minus(after_replay, baseline),
        "traced_replay_peak_bytes": traced_peak - traced_start,
        "traced_retained_after_replay_bytes": traced_after - traced_start,
        "traced_results_peak_bytes": traced_results_peak - traced_start,
        "kept": kept,
    }


def recording_size(recordings: dict[str, Any], name: str) -> dict[str, Any]:
    """One sequence's files on disk (edge + cloud .npz) and its decompressed arrays in memory,
    plus the thresholded copies the replay makes (``ThresholdedDetections``, float64)."""
    from edgecloud.recording.detection import DetectionRecording

    disk = memory = 0
    for role in ("edge", "cloud"):
        recording = DetectionRecording.open(recordings[role])
        entry = next(e for e in recording.manifest["sequences"] if e["name"] == name)
        path = Path(recordings[role]) / entry["file"]
        disk += path.stat().st_size
        with np.load(path, allow_pickle=False) as archive:
            memory += sum(archive[key].nbytes for key in archive.files)
    total_disk = sum(
        path.stat().st_size
        for role in ("edge", "cloud")
        for path in (Path(recordings[role]) / "sequences").glob("*.npz")
    )
    return {
        "sequence": name,
        "num_frames": entry["num_frames"],
        "disk_bytes": disk,
        "memory_bytes": memory,
        "all_sequences_disk_bytes": total_disk,
    }


def measure_memory(
    recordings: dict[str, Any], *, sequence: str, duration_s: float | None, factor: int
) -> dict[str, Any]:
    """The probe in two fresh processes: the sequence replayed once (or ``duration_s``) and
    ``factor`` times as long."""
    size = recording_size(recordings, sequence)
    fps = recordings["fps"]
    base_s = duration_s if duration_s is not None else size["num_frames"] / fps
    probes = {}
    for label, seconds in (("base", base_s), ("longer", factor * base_s)):
        overrides = [
            *REPLAY_OVERRIDES,
            "tracker=motion",
            *recording_overrides(recordings),
            f"scenario.sequences=[{sequence}]",
            f"scenario.devices.duration_s={seconds}",
        ]
        completed = subprocess.run(
            [sys.executable, __file__, "--memory-probe", json.dumps({"overrides": overrides})],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
            env=os.environ | {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
        )
        if completed.returncode != 0:
            raise RuntimeError(f"memory probe failed:\n{completed.stderr[-4000:]}")
        probes[label] = json.loads(completed.stdout.strip().splitlines()[-1])
        probes[label]["duration_s"] = seconds
    base, longer = probes["base"], probes["longer"]
    extra_frames = longer["frames"] - base["frames"]

    def per_extra_frame(key: str) -> float | None:
        return (longer[key] - base[key]) / extra_frames if extra_frames else None

    return {
        "recording": size,
        "probes": probes,
        "factor": factor,
        "retained_bytes_per_extra_frame": per_extra_frame("traced_retained_after_replay_bytes"),
        "replay_peak_bytes_per_extra_frame": per_extra_frame("traced_replay_peak_bytes"),
        "peak_rss_growth_bytes_per_extra_frame": per_extra_frame("replay_peak_rss_growth_bytes")
        if base["peak_reset"] and longer["peak_reset"]
        else None,
        "displayed_array_bytes_per_frame": longer["kept"]["displayed_array_bytes"]
        / longer["frames"],
    }


# --- reporting -------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f} MiB"


def markdown_table(result: dict[str, Any]) -> str:
    lines = [
        "| measurement | work | build (s) | load + simulate (s) | add (s) | median wall (s) "
        "| median frames/s | best frames/s | results()/mAP (s) | target | met |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    targets = {t["name"]: t for t in result["targets"]}
    for tracker, cases in result["replay"].items():
        for case, summary in cases.items():
            if "error" in summary:
                error = " ".join(summary["error"].split())[:120]
                lines.append(f"| replay {tracker} ({case}) | failed: {error} |{' |' * 9}")
                continue
            target = targets.get(f"replay:{tracker}:{case}")
            lines.append(
                f"| replay {tracker} ({case}) | {summary['frames']:,} frames "
                f"| {_fmt(summary['median_build_s'])} "
                f"| {_fmt(summary['median_load_and_simulate_s'])} "
                f"| {_fmt(summary['median_add_s'])} "
                f"| {_fmt(summary['median_replay_s'])} | {_fmt(summary['median_frames_per_s'], 0)} "
                f"| {_fmt(summary['best_frames_per_s'], 0)} | {_fmt(summary['median_score_s'])} "
                f"| {target['target'] if target else ''} "
                f"| {_met(target)} |"
            )
    heatmap = result["heatmap"]
    for method in ("in_process", "cli"):
        if heatmap.get(method) is None:
            continue
        summary = heatmap[method]
        target = targets.get(f"heatmap:{method}")
        lines.append(
            f"| heatmap sweep, {method.replace('_', '-')} | {summary['cells']} runs "
            f"| | | | {_fmt(summary['median_wall_s'])} | | | | {target['target']} | {_met(target)} |"
        )
    scaling = result["scalability"]
    for name, case in scaling["cases"].items():
        target = targets.get(f"scalability:{name}")
        lines.append(
            f"| scalability, {name} loop | {scaling['devices']} devices x "
            f"{scaling['duration_s']:g} s, {case['requests']:,} requests | | | "
            f"| {_fmt(case['median_total_s'])} | | | | {target['target']} | {_met(target)} |"
        )
    memory = result["memory"]
    base, longer = memory["probes"]["base"], memory["probes"]["longer"]
    memory_lines = [
        "| replay | frames | RSS before | peak RSS | peak RSS growth | tracemalloc peak "
        "| kept after replay (traced) | displayed arrays | peak RSS incl. results() "
        "| tracemalloc peak of results() |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, probe in (("base", base), (f"{memory['factor']}x longer", longer)):
        memory_lines.append(
            f"| {memory['recording']['sequence']} {label} | {probe['frames']:,} "
            f"| {_mib(probe['rss_before_replay_bytes'])} | {_mib(probe['peak_rss_replay_bytes'])} "
            f"| {_mib(probe['replay_peak_rss_growth_bytes'])} "
            f"| {_mib(probe['traced_replay_peak_bytes'])} "
            f"| {_mib(probe['traced_retained_after_replay_bytes'])} "
            f"| {_mib(probe['kept']['displayed_array_bytes'])} "
            f"| {_mib(probe['peak_rss_with_results_bytes'])} "
            f"| {_mib(probe['traced_results_peak_bytes'])} |"
        )
    size = memory["recording"]
    memory_lines.append(
        f"\nrecording of {size['sequence']} (edge + cloud): {_mib(size['disk_bytes'])} on disk, "
        f"{_mib(size['memory_bytes'])} in memory; kept per extra frame "
        f"{_fmt(memory['retained_bytes_per_extra_frame'], 0)} bytes"
    )
    text = "\n".join(lines) + "\n\n" + "\n".join(memory_lines)
    if result.get("profile"):
        text += "\n\n" + profile_table(result["profile"])
    return text


def profile_table(profile: dict[str, Any], rows: int = 15) -> str:
    lines = [
        f"cProfile of one motion replay ({profile['frames']:,} frames, "
        f"{profile['profiled_s']:.2f} s profiled), top by own time:",
        "",
        "| function | calls | own (s) | own us/call | cumulative (s) | cum. us/call |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for entry in profile["top_own_time"][:rows]:
        lines.append(
            f"| {entry['function']} | {entry['calls']:,} | {entry['own_s']:.3f} "
            f"| {_fmt(entry['own_us_per_call'], 1)} | {entry['cumulative_s']:.3f} "
            f"| {_fmt(entry['cumulative_us_per_call'], 1)} |"
        )
    return "\n".join(lines)


def _met(target: dict[str, Any] | None) -> str:
    if target is None or target["met"] is None:
        return "n/a"
    return "yes" if target["met"] else "**no**"


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument(
        "--toy",
        action="store_true",
        help="replay small generated recordings instead of the demo's (automatic with --quick "
        "when the demo recordings are missing)",
    )
    parser.add_argument("--edge-recording", type=Path, default=DEMO_EDGE)
    parser.add_argument("--cloud-recording", type=Path, default=DEMO_CLOUD)
    parser.add_argument("--frames-root", type=Path, default=DEMO_FRAMES)
    parser.add_argument("--rounds", type=int, help="timed motion replays per case (median)")
    parser.add_argument(
        "--sequences",
        nargs="+",
        help="sequences of the motion and lk replays and the heatmap (default: all)",
    )
    parser.add_argument("--duration-s", type=float, help="loop/cap those replays to this")
    parser.add_argument("--long-duration-s", type=float, help="per device, the longer replay")
    parser.add_argument("--pixel-rounds", type=int, help="timed lk/csrt replays")
    parser.add_argument(
        "--csrt-sequences", nargs="+", help="kcf and csrt replay these (default: the first)"
    )
    parser.add_argument("--csrt-duration-s", type=float, help="kcf and csrt: seconds per device")
    parser.add_argument("--heatmap-edge-every", type=int, nargs="+")
    parser.add_argument("--heatmap-cloud-every", type=int, nargs="+")
    parser.add_argument("--sweep-rounds", type=int, help="heatmap sweeps per method")
    parser.add_argument("--skip-cli", action="store_true", help="no simulate.py subprocess")
    parser.add_argument("--devices", type=int, help="scalability: scenario.devices.count")
    parser.add_argument("--device-duration-s", type=float, help="scalability: seconds per device")
    parser.add_argument("--scaling-rounds", type=int)
    parser.add_argument("--memory-duration-s", type=float, help="default: the sequence once")
    parser.add_argument("--memory-factor", type=int)
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="cProfile the motion replay (auto: when it misses its target in a full run)",
    )
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON result file")
    parser.add_argument(
        "--source-commit", help="commit to record when the tree has no .git (a git archive)"
    )
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def source_description(commit: str | None) -> dict[str, Any]:
    """Which code was measured: where ``edgecloud`` was imported from, and the git commit and
    uncommitted changes (:func:`~edgecloud.utils.machine.describe_source`)."""
    import edgecloud
    from edgecloud.utils.machine import describe_source

    return {
        "edgecloud": str(Path(edgecloud.__file__).parent),
        **describe_source(REPO_ROOT, commit=commit),
    }


@contextlib.contextmanager
def benchmark_recordings(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """The recordings to replay: the demo's, or toy ones in a temporary directory."""
    from edgecloud.recording.detection import DetectionRecording

    have_demo = demo_recordings_exist(args.edge_recording, args.cloud_recording, args.frames_root)
    if not args.toy and not have_demo and not args.quick:
        raise SystemExit(
            f"recordings not found ({args.edge_recording}, {args.cloud_recording}, frames in "
            f"{args.frames_root}); run `make demo` first, or pass --toy for generated ones"
        )
    with contextlib.ExitStack() as stack:
        if args.toy or not have_demo:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="simspeed_")))
            edge, cloud, frames_root = write_toy_recordings(root)
            kind, custom = "toy", True
        else:
            edge, cloud, frames_root = args.edge_recording, args.cloud_recording, args.frames_root
            kind = "demo"
            custom = (edge, cloud, frames_root) != (DEMO_EDGE, DEMO_CLOUD, DEMO_FRAMES)
        recording = DetectionRecording.open(edge)
        entries = recording.manifest["sequences"]
        yield {
            "kind": kind,
            "custom": custom,
            "edge": str(edge),
            "cloud": str(cloud),
            "frames_root": str(frames_root),
            "sequences": [entry["name"] for entry in entries],
            "frames_per_sequence": [entry["num_frames"] for entry in entries],
            "fps": entries[0]["fps"],
            "frame_size": [entries[0]["height"], entries[0]["width"]],
        }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.memory_probe is not None:
        print(json.dumps(memory_probe(json.loads(args.memory_probe))))
        return {}
    try:
        import cv2

        cv2.setNumThreads(1)  # the pixel trackers on one core, like the rest
    except ImportError:
        pass
    with benchmark_recordings(args) as recordings:
        result = run_benchmarks(args, recordings)
    # Described after the runs: describe_machine imports torch, whose many objects would make
    # every full garbage collection during the replays slower than in simulate.py (no torch).
    from edgecloud.utils.machine import describe_machine

    result["source"] = source_description(args.source_commit)
    result["machine"] = describe_machine(
        ["numpy", "hydra-core", "faster-coco-eval", "opencv-contrib-python-headless"]
    )
    result["torch_imported_during_runs"] = result.pop("torch_imported_during_runs")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown_table(result))
    print(f"\nwrote {args.output}")
    return result


def run_benchmarks(args: argparse.Namespace, recordings: dict[str, Any]) -> dict[str, Any]:
    first = recordings["sequences"][0]
    sequences = [first] if args.sequences == "first" else args.sequences
    base = [*recording_overrides(recordings), *sequence_override(sequences)]
    replay_base = [*REPLAY_OVERRIDES, *base]
    motion_cases = {
        "short": [*replay_base, "tracker=motion", *duration_override(args.duration_s)],
        "long": [*replay_base, "tracker=motion", *duration_override(args.long_duration_s)],
    }
    replay = {"motion": measure_replays(motion_cases, rounds=args.rounds)}
    pixel_cases = {
        "lk": [*replay_base, "tracker=lk", *duration_override(args.duration_s)],
    } | {
        # the slow OpenCV trackers on a short subset
        tracker: [
            *REPLAY_OVERRIDES,
            *recording_overrides(recordings),
            f"tracker={tracker}",
            *sequence_override(args.csrt_sequences or [first]),
            *duration_override(args.csrt_duration_s),
        ]
        for tracker in ("kcf", "csrt")
    }
    for tracker, overrides in pixel_cases.items():
        case = "short" if tracker == "lk" else "subset"
        try:
            replay[tracker] = measure_replays(
                {case: overrides}, rounds=args.pixel_rounds, timed_trackers=True
            )
        except Exception as error:  # a tracker bug should not lose the other measurements
            replay[tracker] = {
                case: {"overrides": overrides, "error": f"{type(error).__name__}: {error}"}
            }

    heatmap_base = [*base, *duration_override(args.duration_s)]
    in_process_runs, cli_runs = [], []
    for round_index in range(args.sweep_rounds):
        in_process_runs.append(
            heatmap_in_process(args.heatmap_edge_every, args.heatmap_cloud_every, heatmap_base)
        )
        if not args.skip_cli:
            with tempfile.TemporaryDirectory(prefix="simspeed_sweep_") as sweep_root:
                cli_runs.append(
                    heatmap_cli(
                        args.heatmap_edge_every,
                        args.heatmap_cloud_every,
                        heatmap_base,
                        Path(sweep_root) / f"sweep{round_index}",
                    )
                )
    heatmap: dict[str, Any] = {
        "edge_every": args.heatmap_edge_every,
        "cloud_every": args.heatmap_cloud_every,
        "in_process": {
            "cells": in_process_runs[0]["cells"],
            "median_wall_s": statistics.median(r["wall_s"] for r in in_process_runs),
            "median_runs_s": statistics.median(r["runs_s"] for r in in_process_runs),
            "rounds": in_process_runs,
        },
        "cli": None,
    }
    if cli_runs:
        in_process_maps = {
            f"{cell['edge_every']},{cell['cloud_every']}": cell["map50"]
            for cell in in_process_runs[0]["per_cell"]
        }
        heatmap["cli"] = {
            "cells": cli_runs[0]["jobs"],
            "command": cli_runs[0]["command"],
            "median_wall_s": statistics.median(r["wall_s"] for r in cli_runs),
            "same_map50_as_in_process": all(
                r["map50_per_cell"] == in_process_maps for r in cli_runs
            ),
            "rounds": cli_runs,
        }

    # The experiment's closed-loop load generators (each device waits 2 s after an answer),
    # and open loop (a request every 2 s regardless), which queues far more requests.
    scaling_cases = {"closed": [], "open": ["scenario.devices.load=open"]}
    scaling_configs = {}
    for name, extra in scaling_cases.items():
        scaling_cases[name] = [
            f"experiment={SCALING_EXPERIMENT}",
            *recording_overrides(recordings),
            f"scenario.devices.count={args.devices}",
            f"scenario.devices.duration_s={args.device_duration_s}",
            *extra,
        ]
        scaling_configs[name] = compose_config(scaling_cases[name])
    scaling_runs: dict[str, list[dict[str, Any]]] = {name: [] for name in scaling_cases}
    for _ in range(args.scaling_rounds):
        for name, cfg in scaling_configs.items():
            run, report = run_scenario(cfg, score=True)
            del report
            scaling_runs[name].append(run)
    scalability = {
        "devices": args.devices,
        "duration_s": args.device_duration_s,
        "cases": {
            name: {
                "overrides": scaling_cases[name],
                "requests": runs[0]["requests"],
                "median_total_s": statistics.median(r["total_s"] for r in runs),
                "server_throughput_rps": runs[0]["server_throughput_rps"],
                "response_time_p95_s": runs[0]["response_time_p95_s"],
                "runs": runs,
            }
            for name, runs in scaling_runs.items()
        },
    }

    memory = measure_memory(
        recordings,
        sequence=first,
        duration_s=args.memory_duration_s,
        factor=args.memory_factor,
    )

    judged = not args.quick and recordings["kind"] == "demo"

    def target(name: str, description: str, value: float | None, ok: bool) -> dict[str, Any]:
        return {
            "name": name,
            "target": description,
            "value": value,
            "met": (ok if judged else None),
        }

    motion = replay["motion"]
    targets = [
        target(
            f"replay:motion:{case}",
            f">= {REPLAY_TARGET_FPS:,.0f} frames/s",
            motion[case]["median_frames_per_s"],
            motion[case]["median_frames_per_s"] >= REPLAY_TARGET_FPS,
        )
        for case in ("short", "long")
    ]
    for method in ("in_process", "cli"):
        if heatmap[method] is not None:
            wall = heatmap[method]["median_wall_s"]
            targets.append(
                target(
                    f"heatmap:{method}", f"< {HEATMAP_TARGET_S:g} s", wall, wall < HEATMAP_TARGET_S
                )
            )
    for name, case in scalability["cases"].items():
        wall = case["median_total_s"]
        targets.append(
            target(
                f"scalability:{name}", f"< {SCALING_TARGET_S:g} s", wall, wall < SCALING_TARGET_S
            )
        )

    missed = any(t["value"] < REPLAY_TARGET_FPS for t in targets[:2])
    profile = None
    if args.profile == "always" or (args.profile == "auto" and judged and missed):
        profile = profile_replay(motion_cases["long"], top=args.profile_top)

    return {
        "torch_imported_during_runs": "torch" in sys.modules,
        "benchmark": "simulator_speed",
        "quick": args.quick,
        "config": {
            key: getattr(args, key) for key in (*FULL, "skip_cli") if key not in ("sequences",)
        }
        | {"sequences": sequences},
        "recordings": recordings,
        "replay": replay,
        "heatmap": heatmap,
        "scalability": scalability,
        "memory": memory,
        "targets": targets,
        "profile": profile,
    }


if __name__ == "__main__":
    main(sys.argv[1:])
