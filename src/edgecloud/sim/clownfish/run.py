"""Run a configured Clownfish scenario in its mode and write what a run directory holds.

=====================  ===========================================================
file                   content
=====================  ===========================================================
``results.json``       ``metrics`` (flat; ``sim/*`` timed, ``ideal/*`` grid,
                       ``traces/*`` similarity) and the mode's series: throughput
                       bins, lag counts and phases (timed); grid rows, reference
                       scores and the periodic limit (ideal); trace snippets
                       (traces). Byte-identical for the same config and seed.
``windows.csv``        timed: one row per video and window (times, what the worker,
                       Filter, links and server did, lag, prediction, phase)
``grid.csv``           ideal: one row per method, ``n_w`` and lag
``references.md``      ideal: Table III's rows (edge/cloud-only, with FixMA)
``traces.csv``         traces: the plotted windows' scores per function
``<figure>.png``       ``timeline`` (timed), ``grid`` (ideal, Fig. 7),
                       ``similarity`` (traces, Fig. 8)
=====================  ===========================================================
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edgecloud.sim.clownfish import figures
from edgecloud.sim.clownfish.ideal import run_ideal
from edgecloud.sim.clownfish.report import ClownfishReport
from edgecloud.sim.clownfish.scenario import ClownfishScenario
from edgecloud.sim.clownfish.traces import trace_metrics, trace_snippets

FIGURES = ("auto", "timeline", "grid", "similarity", "none")
MODE_FIGURES = {"timed": "timeline", "ideal": "grid", "traces": "similarity"}


@dataclass(frozen=True, kw_only=True)
class Scoring:
    """``skip_frames`` of every context (8), only action frames (the paper), and the width
    of the throughput bins (5 s, Fig. 13)."""

    skip_frames: int = 8
    actions_only: bool = True
    throughput_bin_s: float = 5.0


@dataclass(frozen=True, kw_only=True)
class IdealSettings:
    """Fig. 7's grid: fusion methods, filter intervals, lags and the Filter."""

    methods: tuple[str, ...] = (
        "clownfish_siminet",
        "clownfish_cosine",
        "clownfish_fixma",
        "clownfish_optsim",
    )
    intervals: tuple[int, ...] = tuple(range(1, 11))
    lags: tuple[int, ...] = (0, 1, 2, 4)
    filter: Literal["periodic", "context_aware"] = "periodic"


@dataclass(frozen=True, kw_only=True)
class TraceSettings:
    """Fig. 8: how many videos to plot and how many windows either side of the transition."""

    num_videos: int = 10
    radius: int = 20


def run_clownfish(
    scenario: ClownfishScenario,
    *,
    seed: int,
    output_dir: Path,
    scoring: Scoring,
    ideal: IdealSettings,
    traces: TraceSettings,
    figure: str = "auto",
    windows_csv: bool = True,
    label: str = "run",
) -> dict:
    """Run ``scenario`` in its mode, write its files into ``output_dir`` (module docstring)
    and return the results (without writing results.json, the caller's job)."""
    if figure not in FIGURES:
        raise ValueError(f"figure must be one of {FIGURES} for a Clownfish run, got {figure!r}")
    figure = MODE_FIGURES[scenario.mode] if figure == "auto" else figure
    if figure != "none" and figure != MODE_FIGURES[scenario.mode]:
        raise ValueError(
            f"figure={figure} does not fit scenario.mode={scenario.mode}; use "
            f"{MODE_FIGURES[scenario.mode]}, auto or none"
        )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if scenario.mode == "timed":
        return _run_timed(scenario, seed, output_dir, scoring, figure, windows_csv, label)
    if scenario.mode == "ideal":
        return _run_ideal(scenario, output_dir, scoring, ideal, figure)
    return _run_traces(scenario, output_dir, traces, figure)


def _run_timed(
    scenario: ClownfishScenario,
    seed: int,
    output_dir: Path,
    scoring: Scoring,
    figure: str,
    windows_csv: bool,
    label: str,
) -> dict:
    with (
        open(output_dir / "windows.csv", "w", newline="")
        if windows_csv
        else contextlib.nullcontext() as csv_file
    ):
        report = ClownfishReport(
            method=scenario.method,
            policy=scenario.policy,
            class_offset=scenario.class_offset,
            skip_frames=scoring.skip_frames,
            actions_only=scoring.actions_only,
            bin_s=scoring.throughput_bin_s,
            header_bytes=scenario.header_bytes,
            result_header_bytes=scenario.result_header_bytes,
            phases=scenario.phases,
            windows_csv=csv_file,
        )
        for unit in scenario.run_timed(seed=seed):
            report.add(unit)
    results = report.results()
    if figure == "timeline":
        figures.plot_timed_run(
            label=label,
            bins=results["throughput_bins_fps"],
            bin_s=results["throughput_bin_s"],
            lag_counts=results["lag_counts"],
            phases=results["phases"],
            path=output_dir / "timeline.png",
        )
    return results


def _run_ideal(
    scenario: ClownfishScenario,
    output_dir: Path,
    scoring: Scoring,
    ideal: IdealSettings,
    figure: str,
) -> dict:
    grid = run_ideal(
        scenario.sequences,
        policy=scenario.policy,
        methods=ideal.methods,
        intervals=ideal.intervals,
        lags=ideal.lags,
        filter_kind=ideal.filter,
        class_offset=scenario.class_offset,
        header_bytes=scenario.header_bytes,
        skip_frames=scoring.skip_frames,
        actions_only=scoring.actions_only,
    )
    rows = [dataclasses.asdict(row) for row in grid.rows]
    metrics: dict[str, float | int | None] = {
        "ideal/videos": len(scenario.sequences),
        "ideal/windows": grid.windows,
        "ideal/scored_frames": grid.scored_frames,
        "ideal/frames_total": grid.frames_total,
        "ideal/bytes_total": grid.bytes_total,
    }
    for row in rows:
        prefix = f"ideal/{row['method']}/nw{row['interval']}"
        metrics[f"{prefix}/lag{row['lag']}/accuracy"] = row["accuracy"]
        metrics[f"{prefix}/lag{row['lag']}/f1"] = row["f1"]
        metrics[f"{prefix}/frame_reduction"] = row["frame_reduction"]
        metrics[f"{prefix}/bandwidth_reduction"] = row["bandwidth_reduction"]
        metrics[f"{prefix}/requests"] = row["requests"]
    for name, (acc, f1) in grid.references.items():
        metrics[f"ideal/{name}/accuracy"] = acc
        metrics[f"ideal/{name}/f1"] = f1
    for interval, value in grid.periodic_limit.items():
        metrics[f"ideal/periodic_limit/nw{interval}"] = value
    fields = [field.name for field in dataclasses.fields(type(grid.rows[0]))]
    with open(output_dir / "grid.csv", "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(fields)
        writer.writerows([[row[name] for name in fields] for row in rows])
    (output_dir / "references.md").write_text(_references_table(grid.references))
    if figure == "grid":
        figures.plot_grid(
            rows=rows,
            references=grid.references,
            periodic_limit=grid.periodic_limit,
            path=output_dir / "grid.png",
        )
    return {
        "metrics": metrics,
        "grid": rows,
        "references": {name: {"accuracy": a, "f1": f} for name, (a, f) in grid.references.items()},
        "periodic_limit": {str(k): v for k, v in grid.periodic_limit.items()},
    }


def _references_table(references: dict[str, Sequence[float]]) -> str:
    """Table III's rows that need no timing, in percent."""
    lines = ["| solution | accuracy (%) | F1 (%) |", "| --- | ---: | ---: |"]
    for name, (acc, f1) in references.items():
        lines.append(f"| {name} | {100 * acc:.2f} | {100 * f1:.2f} |")
    return "\n".join(lines) + "\n"


def _run_traces(
    scenario: ClownfishScenario, output_dir: Path, traces: TraceSettings, figure: str
) -> dict:
    snippets = trace_snippets(
        scenario.sequences, num_videos=traces.num_videos, radius=traces.radius
    )
    metrics = trace_metrics(scenario.sequences)
    metrics["traces/videos_plotted"] = len(snippets)
    names = list(snippets[0].scores) if snippets else []
    with open(output_dir / "traces.csv", "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["video", "window", "label", *names])
        for snippet in snippets:
            for k, label in enumerate(snippet.labels.tolist()):
                writer.writerow(
                    [
                        snippet.video,
                        snippet.first + k,
                        label,
                        *(f"{snippet.scores[name][k]:.6f}" for name in names),
                    ]
                )
    if figure == "similarity" and snippets:
        figures.plot_similarity_traces(snippets=snippets, path=output_dir / "similarity.png")
    return {
        "metrics": metrics,
        "snippets": [
            {"video": s.video, "first_window": s.first, "transition_window": s.transition}
            for s in snippets
        ],
    }
