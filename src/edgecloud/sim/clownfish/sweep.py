"""Aggregate a Clownfish ``simulate.py -m`` sweep into the paper's tables and figures.

On top of :mod:`edgecloud.sim.sweep`'s ``summary.csv`` / ``summary.json`` this writes
``table.csv`` and ``table.md`` (Tables II and III: one row per job, labelled by the settings
that vary between jobs, e.g. method and network; jobs with a phased uplink add one row per
phase) and any of the figures:

- ``accuracy``: accuracy per job (Figs. 11, 12);
- ``throughput``: displayed frames per second over time per job, phases shaded (Figs. 13, 15);
- ``lags``: the lag distribution of each fusing job, per phase where the uplink has phases
  (Figs. 11, 14).

Experiment configs enable it as a Hydra callback::

    hydra:
      callbacks:
        aggregate:
          _target_: edgecloud.sim.clownfish.sweep.ClownfishSweep
          figures: [throughput, lags]

or again on an existing sweep: ``python -m edgecloud.sim.clownfish.sweep <sweep_dir>``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from edgecloud.sim import figures as react_figures
from edgecloud.sim.clownfish import figures
from edgecloud.sim.sweep import SweepError, SweepJob, collect_sweep, write_summary

log = logging.getLogger(__name__)

FIGURES = ("accuracy", "throughput", "lags")
TABLE_METRICS = (
    "sim/accuracy",
    "sim/f1",
    "sim/throughput_fps",
    "sim/bandwidth_reduction",
    "sim/mbps_up",
    "sim/lag_within_1",
    "sim/requests",
)
PHASE_METRICS = ("accuracy", "f1", "throughput_fps", "lag_within_1")
PERCENT = ("accuracy", "f1", "reduction", "within", "fraction")
LABEL_KEYS = ("method", "network")


def job_results(job: SweepJob) -> dict[str, Any]:
    """The whole results.json of a job (throughput bins, lag counts, phases)."""
    return json.loads((job.directory / "results.json").read_text())


def sweep_labels(jobs: Sequence[SweepJob], *, keys: Sequence[str]) -> list[str]:
    """One label per job from the ``keys`` whose values differ between jobs (all of them when
    none differs), e.g. ``clownfish_siminet / delay_13ms``."""
    settings = [[job.setting(key) or "" for key in keys] for job in jobs]
    varying = [k for k in range(len(keys)) if len({row[k] for row in settings}) > 1]
    chosen = varying or list(range(len(keys)))
    labels = [
        " / ".join(row[k] for k in chosen if row[k]) or f"job {job.number}"
        for row, job in zip(settings, jobs, strict=True)
    ]
    return [
        f"{label} #{job.number}" if labels.count(label) > 1 else label
        for label, job in zip(labels, jobs, strict=True)
    ]


def _cell(name: str, value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "-"
    if any(word in name for word in PERCENT):
        return f"{100 * value:.2f}"
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:.2f}"


def table_rows(
    jobs: Sequence[SweepJob], labels: Sequence[str], *, metrics: Sequence[str]
) -> tuple[list[str], list[list[Any]]]:
    """Header and raw rows of the table: one per job, then one per job and phase."""
    header = ["run", *(name.removeprefix("sim/") for name in metrics)]
    rows: list[list[Any]] = [
        [label, *(job.metrics.get(name) for name in metrics)]
        for label, job in zip(labels, jobs, strict=True)
    ]
    for label, job in zip(labels, jobs, strict=True):
        phases = list(
            dict.fromkeys(key.split("/")[2] for key in job.metrics if key.startswith("sim/phase/"))
        )
        for phase in phases:
            row: list[Any] = [f"{label} (phase {phase})"]
            for name in metrics:
                short = name.removeprefix("sim/")
                key = f"sim/phase/{phase}/{short}"
                row.append(job.metrics.get(key) if short in PHASE_METRICS else None)
            rows.append(row)
    return header, rows


def write_tables(
    jobs: Sequence[SweepJob], labels: Sequence[str], *, metrics: Sequence[str], sweep_dir: Path
) -> Path:
    """``table.csv`` (raw numbers) and ``table.md`` (fractions as percent); returns the
    markdown's path."""
    header, rows = table_rows(jobs, labels, metrics=metrics)
    with open(sweep_dir / "table.csv", "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if value is None else value for value in row])
    names = ["", *metrics]
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |",
    ]
    for row in rows:
        cells = [
            row[0],
            *(_cell(name, value) for name, value in zip(names[1:], row[1:], strict=True)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    note = "Fractions (accuracy, F1, reductions, lag shares) in percent."
    path = sweep_dir / "table.md"
    path.write_text("\n".join([*lines, "", note]) + "\n")
    return path


def aggregate_clownfish_sweep(
    *,
    sweep_dir: Path,
    figures_to_draw: Sequence[str] = (),
    table_metrics: Sequence[str] = TABLE_METRICS,
    label_keys: Sequence[str] = LABEL_KEYS,
) -> list[Path]:
    """Write the summary, the tables and the requested figures; returns the files written
    after the summary (tables first). Raises :class:`~edgecloud.sim.sweep.SweepError` when
    no job has results."""
    unknown = sorted(set(figures_to_draw) - set(FIGURES))
    if unknown:
        raise ValueError(f"unknown figures {unknown}; known: {FIGURES}")
    sweep_dir = Path(sweep_dir)
    jobs = collect_sweep(sweep_dir)
    write_summary(jobs, sweep_dir=sweep_dir)
    labels = sweep_labels(jobs, keys=label_keys)
    written = [write_tables(jobs, labels, metrics=table_metrics, sweep_dir=sweep_dir)]
    results = [job_results(job) for job in jobs]
    if "accuracy" in figures_to_draw:
        path = sweep_dir / "accuracy.png"
        react_figures.plot_methods(
            values={
                label: job.metric("sim/accuracy") for label, job in zip(labels, jobs, strict=True)
            },
            metric="sim/accuracy",
            path=path,
        )
        written.append(path)
    if "throughput" in figures_to_draw:
        series = {
            label: result.get("throughput_bins_fps") or []
            for label, result in zip(labels, results, strict=True)
        }
        phases = next((r["phases"] for r in results if r.get("phases")), None)
        bin_s = float(results[0].get("throughput_bin_s") or 5.0)
        path = sweep_dir / "throughput.png"
        figures.plot_throughput(series=series, bin_s=bin_s, phases=phases, path=path)
        written.append(path)
    if "lags" in figures_to_draw:
        distributions = lag_distributions(jobs, labels)
        if not distributions:
            raise SweepError(f"no job in {sweep_dir} fused remote results (no lags to draw)")
        path = sweep_dir / "lags.png"
        figures.plot_lags(distributions=distributions, path=path)
        written.append(path)
    return written


def lag_distributions(
    jobs: Sequence[SweepJob], labels: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Share of requests per lag for each fusing job, or per job and phase when it has
    phases (from ``sim/lag_fraction/*`` and ``sim/phase/<name>/lag_fraction/*``)."""
    distributions: dict[str, dict[str, float]] = {}
    for label, job in zip(labels, jobs, strict=True):
        phased: dict[str, dict[str, float]] = {}
        plain: dict[str, float] = {}
        for key, value in job.metrics.items():
            if not isinstance(value, int | float):
                continue
            parts = key.split("/")
            if key.startswith("sim/lag_fraction/"):
                plain[parts[-1]] = float(value)
            elif key.startswith("sim/phase/") and parts[3] == "lag_fraction":
                phased.setdefault(parts[2], {})[parts[-1]] = float(value)
        if phased:
            for phase, distribution in phased.items():
                distributions[f"{label} ({phase})"] = distribution
        elif plain:
            distributions[label] = plain
    return distributions


class ClownfishSweep(Callback):
    """Hydra callback: aggregate the sweep when a multirun ends (module docstring). Options
    are checked when Hydra creates it, before any job runs."""

    def __init__(
        self,
        *,
        figures: Sequence[str] = (),
        table_metrics: Sequence[str] = TABLE_METRICS,
        label_keys: Sequence[str] = LABEL_KEYS,
    ) -> None:
        unknown = sorted(set(figures) - set(FIGURES))
        if unknown:
            raise ValueError(f"ClownfishSweep got unknown figures {unknown}; known: {FIGURES}")
        self.figures = tuple(figures)
        self.table_metrics = tuple(table_metrics)
        self.label_keys = tuple(label_keys)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            written = aggregate_clownfish_sweep(
                sweep_dir=sweep_dir,
                figures_to_draw=self.figures,
                table_metrics=self.table_metrics,
                label_keys=self.label_keys,
            )
        except SweepError as error:
            log.error("sweep not aggregated: %s", error)
            print(f"sweep not aggregated: {error}", file=sys.stderr)
            return
        print(f"sweep summary: {sweep_dir / 'summary.csv'}")
        for path in written:
            print(f"sweep output: {path}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edgecloud.sim.clownfish.sweep <sweep_dir> --figures throughput lags``."""
    parser = argparse.ArgumentParser(
        prog="python -m edgecloud.sim.clownfish.sweep",
        description="Write summary, Table II/III-style tables and figures for a Clownfish sweep.",
    )
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--figures", nargs="*", choices=FIGURES, default=[])
    parser.add_argument("--metrics", nargs="+", default=list(TABLE_METRICS))
    parser.add_argument("--label-keys", nargs="+", default=list(LABEL_KEYS))
    args = parser.parse_args(argv)
    try:
        written = aggregate_clownfish_sweep(
            sweep_dir=args.sweep_dir,
            figures_to_draw=args.figures,
            table_metrics=args.metrics,
            label_keys=args.label_keys,
        )
    except SweepError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print((args.sweep_dir / "table.md").read_text())
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
