"""Aggregate a ``simulate.py -m`` sweep into a summary table and one of the paper's figures.

A Hydra multirun writes one directory per job, ``<sweep_dir>/<job_num>/``, holding the job's
``results.json``, ``config.yaml`` and ``.hydra/overrides.yaml``. :func:`aggregate_sweep`
writes ``<sweep_dir>/summary.csv`` (one row per job: its overrides, labels and every metric),
``<sweep_dir>/summary.json`` and ``<sweep_dir>/<figure>.png``. It runs at the end of a sweep
through the :class:`AggregateSweep` Hydra callback, which experiment configs enable as::

    hydra:
      callbacks:
        aggregate: {_target_: edgecloud.sim.sweep.AggregateSweep, figure: heatmap}

or again on an existing sweep: ``python -m edgecloud.sim.sweep <sweep_dir> --figure heatmap``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from edgecloud.sim import figures
from edgecloud.utils.jsonio import write_json_report

log = logging.getLogger(__name__)

FIGURES = ("methods", "heatmap", "tide", "network", "scaling", "none")
# aggregate_sweep's options besides sweep_dir and figure, as the callback accepts them.
OPTIONS = ("row_key", "column_key", "metric", "series_key", "label_key")
DEVICES_KEY = "scenario.devices.count"
# results.json labels under a name other than the config key they come from.
LABEL_ALIASES = {DEVICES_KEY: "devices"}
# plot_scaling's series keys and the metric each one reads.
SCALING_METRICS = {
    "throughput": "sim/server_throughput_rps",
    "p50": "sim/response_time_p50_s",
    "p95": "sim/response_time_p95_s",
}


class SweepError(ValueError):
    """A sweep directory that cannot be aggregated: no job results, a malformed file, or
    jobs that do not fit the requested figure. The message names the path or the key."""


@dataclass(frozen=True)
class SweepJob:
    """One job of a sweep: its Hydra overrides and what its results.json holds."""

    number: int
    directory: Path
    overrides: dict[str, str]
    metrics: dict[str, Any]
    response_times_s: list[float]
    labels: dict[str, Any]
    config: dict[str, Any]

    def setting(self, key: str) -> str | None:
        """The job's value for ``key`` as text: its override, else its results.json label,
        else the scalar at that dotted path of its config.yaml; ``None`` if none has it.

        Keys that a sweep did not vary (e.g. the device count of a sweep over GPU types) are
        thus still known from what the job recorded."""
        if key in self.overrides:
            return self.overrides[key]
        for label in (key, LABEL_ALIASES.get(key)):
            if label in self.labels:
                return _as_text(self.labels[label])
        node: Any = self.config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return None if isinstance(node, dict | list) else _as_text(node)

    def metric(self, name: str) -> float:
        """A metric as a float; NaN when absent, undefined (``null``) or not a number."""
        value = self.metrics.get(name)
        return float(value) if isinstance(value, int | float) else math.nan


def collect_sweep(sweep_dir: Path) -> list[SweepJob]:
    """Every job of ``sweep_dir`` that wrote a results.json, sorted by job number.

    Job directories without results.json (a job that failed or still runs) are skipped with a
    warning, so a partly failed sweep still aggregates; raises :class:`SweepError` when no job
    has results or a results.json or overrides.yaml cannot be read."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise SweepError(f"sweep directory {sweep_dir} does not exist")
    job_dirs = sorted(
        (path for path in sweep_dir.iterdir() if path.is_dir() and path.name.isdigit()),
        key=lambda path: int(path.name),
    )
    jobs = []
    for job_dir in job_dirs:
        if not (job_dir / "results.json").is_file():
            log.warning(
                "skipping %s: no results.json (the job failed or has not finished)", job_dir
            )
            continue
        jobs.append(_read_job(job_dir))
    if not jobs:
        raise SweepError(
            f"no job results in {sweep_dir}: expected <job number>/results.json in it "
            f"(found {len(job_dirs)} job directories)"
        )
    return jobs


def aggregate_sweep(
    *,
    sweep_dir: Path,
    figure: str,
    row_key: str = "scenario.policy.edge_every",
    column_key: str = "scenario.policy.cloud_every",
    metric: str = "sim/mAP50",
    series_key: str = "compute",
    label_key: str | None = None,
) -> Path:
    """Write ``summary.csv``, ``summary.json`` and ``<figure>.png`` into ``sweep_dir``;
    returns the figure's path, or the summary's for ``figure="none"``.

    Figures: ``methods`` (``metric`` per job labelled by ``label_key``, default ``method``),
    ``heatmap`` (``metric`` over ``row_key`` x ``column_key``), ``tide`` (TIDE breakdown per
    job, labelled by ``label_key`` or by the overrides that vary), ``network`` (response-time
    CDF per ``label_key``, default ``network``, plus ``metric`` bars) and ``scaling``
    (throughput and response times against the device count, one line per value of
    ``series_key``, or one line "server" if no job sets it). The summary is written before
    the figure, so it survives a figure that the jobs cannot fill (:class:`SweepError`)."""
    if figure not in FIGURES:
        raise ValueError(f"figure must be one of {FIGURES}, got {figure!r}")
    sweep_dir = Path(sweep_dir)
    jobs = collect_sweep(sweep_dir)
    summary_path = write_summary(jobs, sweep_dir=sweep_dir)
    path = sweep_dir / f"{figure}.png"
    if figure == "methods":
        labels = job_labels(jobs, key=label_key or "method")
        figures.plot_methods(
            values={label: job.metric(metric) for label, job in zip(labels, jobs, strict=True)},
            metric=metric,
            path=path,
        )
    elif figure == "heatmap":
        rows, columns, grid = heatmap_grid(
            jobs, row_key=row_key, column_key=column_key, metric=metric
        )
        figures.plot_heatmap(
            rows=rows,
            columns=columns,
            values=grid,
            row_label=row_key,
            column_label=column_key,
            metric=metric,
            path=path,
        )
    elif figure == "tide":
        _plot_tide(jobs, label_key=label_key, path=path)
    elif figure == "network":
        _plot_network(jobs, label_key=label_key or "network", metric=metric, path=path)
    elif figure == "scaling":
        devices, series = scaling_series(jobs, series_key=series_key)
        figures.plot_scaling(devices=devices, series=series, path=path)
    else:
        return summary_path
    return path


def write_summary(jobs: Sequence[SweepJob], *, sweep_dir: Path) -> Path:
    """``summary.csv`` (columns: job, every override key, ``labels/<name>``, every metric;
    empty cell where a job lacks one) and ``summary.json`` (the same per job, without
    response times); returns the CSV's path."""
    override_keys = _union(job.overrides for job in jobs)
    label_keys = sorted(_union(job.labels for job in jobs))
    metric_keys = sorted(_union(job.metrics for job in jobs))
    header = ["job", *override_keys, *(f"labels/{key}" for key in label_keys), *metric_keys]
    csv_path = sweep_dir / "summary.csv"
    with open(csv_path, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        for job in jobs:
            writer.writerow(
                [
                    job.number,
                    *(job.overrides.get(key, "") for key in override_keys),
                    *(_cell(job.labels.get(key)) for key in label_keys),
                    *(_cell(job.metrics.get(key)) for key in metric_keys),
                ]
            )
    write_json_report(
        sweep_dir / "summary.json",
        {
            "jobs": [
                {
                    "job": job.number,
                    "overrides": job.overrides,
                    "labels": job.labels,
                    "metrics": job.metrics,
                }
                for job in jobs
            ]
        },
    )
    return csv_path


def job_labels(jobs: Sequence[SweepJob], *, key: str | None) -> list[str]:
    """One distinct label per job: its setting for ``key``; with ``key=None`` the overrides
    that differ between jobs (``edge_every=5, cloud_every=30``). Falls back to the job
    number where there is nothing to tell jobs apart; repeated labels get ``#<job>``."""
    if key is None:
        varying = [
            name
            for name in _union(job.overrides for job in jobs)
            if len({job.overrides.get(name) for job in jobs}) > 1
        ]
        labels = [
            ", ".join(
                f"{name.rsplit('.', 1)[-1]}={job.overrides[name]}"
                for name in varying
                if name in job.overrides
            )
            for job in jobs
        ]
    else:
        labels = [job.setting(key) or "" for job in jobs]
    labels = [label or f"job {job.number}" for label, job in zip(labels, jobs, strict=True)]
    return [
        f"{label} #{job.number}" if labels.count(label) > 1 else label
        for label, job in zip(labels, jobs, strict=True)
    ]


def heatmap_grid(
    jobs: Sequence[SweepJob], *, row_key: str, column_key: str, metric: str
) -> tuple[list[int], list[int], np.ndarray]:
    """Sorted integer values of ``row_key`` and ``column_key`` and the ``metric`` grid over
    them; NaN where no job ran that cell or its metric is undefined. Jobs whose row or column
    value is not an integer (e.g. ``null`` for a baseline without cloud) are skipped."""
    cells: dict[tuple[int, int], SweepJob] = {}
    for job in jobs:
        row, column = _integer(job.setting(row_key)), _integer(job.setting(column_key))
        if row is None or column is None:
            log.warning(
                "heatmap skips job %d: %s=%s, %s=%s are not both integers",
                job.number,
                row_key,
                job.setting(row_key),
                column_key,
                job.setting(column_key),
            )
            continue
        if (row, column) in cells:
            raise SweepError(
                f"jobs {cells[row, column].number} and {job.number} both have "
                f"{row_key}={row}, {column_key}={column}; pick row and column keys that "
                "tell the jobs apart"
            )
        cells[row, column] = job
    if not cells:
        raise SweepError(
            f"no job in {jobs[0].directory.parent} has integer {row_key} and {column_key}"
        )
    rows = sorted({row for row, _ in cells})
    columns = sorted({column for _, column in cells})
    grid = np.full((len(rows), len(columns)), math.nan)
    for (row, column), job in cells.items():
        grid[rows.index(row), columns.index(column)] = job.metric(metric)
    return rows, columns, grid


def scaling_series(
    jobs: Sequence[SweepJob], *, series_key: str
) -> tuple[list[int], dict[str, dict[str, list[float]]]]:
    """Sorted device counts and, per value of ``series_key`` (one series ``"server"`` when
    no job sets it), throughput, p50 and p95 per device count; NaN where no job ran it."""
    points: dict[tuple[str, int], SweepJob] = {}
    for job in jobs:
        devices = _integer(job.setting(DEVICES_KEY))
        if devices is None:
            raise SweepError(f"job {job.number} in {job.directory} has no integer {DEVICES_KEY}")
        label = job.setting(series_key) or "server"
        if (label, devices) in points:
            raise SweepError(
                f"jobs {points[label, devices].number} and {job.number} both have "
                f"{series_key}={label}, {DEVICES_KEY}={devices}; set series_key to the "
                "override that tells them apart"
            )
        points[label, devices] = job
    devices = sorted({count for _, count in points})
    labels = list(dict.fromkeys(label for label, _ in points))
    series = {
        label: {
            key: [
                points[label, count].metric(metric) if (label, count) in points else math.nan
                for count in devices
            ]
            for key, metric in SCALING_METRICS.items()
        }
        for label in labels
    }
    return devices, series


def format_table(jobs: Sequence[SweepJob], *, label_key: str | None, metrics: Sequence[str]) -> str:
    """A plain-text table, one row per job (labelled as :func:`job_labels` does) and one
    column per metric (``sim/`` dropped from headers, "-" where undefined), e.g. for
    ``make demo`` to compare REACT with its baselines. Returns the text; printing is the
    caller's choice."""
    headers = ["", *(name.removeprefix("sim/") for name in metrics)]
    rows = [
        [label, *(_table_cell(job.metric(name)) for name in metrics)]
        for label, job in zip(job_labels(jobs, key=label_key), jobs, strict=True)
    ]
    widths = [max(len(row[column]) for row in [headers, *rows]) for column in range(len(headers))]
    lines = [
        "  ".join(
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


class AggregateSweep(Callback):
    """Hydra callback: aggregate the sweep when a multirun ends (summary and ``figure``).

    Options are checked when Hydra creates the callback, before any job runs, so a typo
    fails at once rather than after a long sweep."""

    def __init__(self, *, figure: str = "none", **options: Any) -> None:
        if figure not in FIGURES:
            raise ValueError(f"AggregateSweep figure must be one of {FIGURES}, got {figure!r}")
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ValueError(f"AggregateSweep got unknown options {unknown}; known: {OPTIONS}")
        self.figure = figure
        self.options = options

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Aggregate ``config.hydra.sweep.dir``. A sweep that cannot be aggregated (e.g. every
        job failed) is reported, not raised: the jobs' own outcome stands and the CLI can
        re-aggregate later."""
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            path = aggregate_sweep(sweep_dir=sweep_dir, figure=self.figure, **self.options)
        except SweepError as error:
            log.error("sweep not aggregated: %s", error)
            print(f"sweep not aggregated: {error}", file=sys.stderr)
            return
        print(f"sweep summary: {sweep_dir / 'summary.csv'}")
        if self.figure != "none":
            print(f"sweep figure: {path}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edgecloud.sim.sweep <sweep_dir> --figure heatmap``: re-aggregate a sweep."""
    parser = argparse.ArgumentParser(
        prog="python -m edgecloud.sim.sweep",
        description="Write summary.csv, summary.json and a figure for a simulate.py sweep.",
    )
    parser.add_argument("sweep_dir", type=Path, help="the multirun dir holding <job>/ dirs")
    parser.add_argument("--figure", choices=FIGURES, default="none")
    parser.add_argument("--row-key", default="scenario.policy.edge_every")
    parser.add_argument("--column-key", default="scenario.policy.cloud_every")
    parser.add_argument("--metric", default="sim/mAP50")
    parser.add_argument("--series-key", default="compute")
    parser.add_argument(
        "--label-key", default=None, help="override naming each job (default per figure)"
    )
    parser.add_argument(
        "--table",
        nargs="+",
        metavar="METRIC",
        help="also print these metrics per job as a table",
    )
    args = parser.parse_args(argv)
    try:
        path = aggregate_sweep(
            sweep_dir=args.sweep_dir,
            figure=args.figure,
            row_key=args.row_key,
            column_key=args.column_key,
            metric=args.metric,
            series_key=args.series_key,
            label_key=args.label_key,
        )
        if args.table:
            jobs = collect_sweep(args.sweep_dir)
            print(format_table(jobs, label_key=args.label_key, metrics=args.table))
    except SweepError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"summary: {args.sweep_dir / 'summary.csv'}")
    if args.figure != "none":
        print(f"figure: {path}")
    return 0


def _plot_tide(jobs: Sequence[SweepJob], *, label_key: str | None, path: Path) -> None:
    """TIDE breakdown of every job that scored TIDE, one bar group entry per job."""
    scored = [
        job
        for job in jobs
        if any(f"sim/tide/{name}" in job.metrics for name in figures.TIDE_ERRORS)
    ]
    if not scored:
        raise SweepError(
            f"no job in {jobs[0].directory.parent} has TIDE metrics (sim/tide/*); "
            "run with scenario.scoring.tide=true"
        )
    figures.plot_tide(
        breakdowns={
            label: {name: job.metric(f"sim/tide/{name}") for name in figures.TIDE_ERRORS}
            for label, job in zip(job_labels(scored, key=label_key), scored, strict=True)
        },
        path=path,
    )


def _plot_network(jobs: Sequence[SweepJob], *, label_key: str, metric: str, path: Path) -> None:
    """Response-time CDF per job, with ``metric`` bars when any job has it (a sweep without
    accuracy scoring gets the CDF alone)."""
    labels = job_labels(jobs, key=label_key)
    accuracy = {label: job.metric(metric) for label, job in zip(labels, jobs, strict=True)}
    figures.plot_response_cdf(
        response_times={
            label: job.response_times_s for label, job in zip(labels, jobs, strict=True)
        },
        accuracy=accuracy if any(math.isfinite(value) for value in accuracy.values()) else None,
        accuracy_label=metric,
        path=path,
    )


def _read_job(job_dir: Path) -> SweepJob:
    """Parse one job directory, naming the file in any error."""
    results_path = job_dir / "results.json"
    try:
        results = json.loads(results_path.read_text())
    except (OSError, ValueError) as error:
        raise SweepError(f"cannot read {results_path}: {error}") from error
    if not isinstance(results, dict) or not isinstance(results.get("metrics"), dict):
        raise SweepError(f"{results_path} has no 'metrics' object; is it a simulate.py result?")
    return SweepJob(
        number=int(job_dir.name),
        directory=job_dir,
        overrides=_read_overrides(job_dir / ".hydra" / "overrides.yaml"),
        metrics=results["metrics"],
        response_times_s=list(results.get("response_times_s") or []),
        labels=dict(results.get("labels") or {}),
        config=_read_yaml_mapping(job_dir / "config.yaml"),
    )


def _read_overrides(path: Path) -> dict[str, str]:
    """Hydra's ``overrides.yaml`` (a list of ``key=value``) as ``{key: value}``; ``+`` and
    ``++`` prefixes are dropped, deletions (``~key``) carry no value and are left out."""
    if not path.is_file():
        return {}
    try:
        entries = yaml.safe_load(path.read_text()) or []
    except yaml.YAMLError as error:
        raise SweepError(f"cannot read {path}: {error}") from error
    if not isinstance(entries, list) or not all(isinstance(entry, str) for entry in entries):
        raise SweepError(f"{path} is not a list of key=value strings")
    overrides = {}
    for entry in entries:
        key, separator, value = entry.partition("=")
        if separator and not key.startswith("~"):
            overrides[key.lstrip("+")] = value
    return overrides


def _read_yaml_mapping(path: Path) -> dict[str, Any]:
    """A job's config.yaml as a dict; empty when absent (jobs run outside simulate.py)."""
    if not path.is_file():
        return {}
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise SweepError(f"cannot read {path}: {error}") from error
    return content if isinstance(content, dict) else {}


def _union(mappings: Any) -> list[str]:
    """Keys of several mappings, in order of first appearance."""
    keys: dict[str, None] = {}
    for mapping in mappings:
        keys.update(dict.fromkeys(mapping))
    return list(keys)


def _as_text(value: Any) -> str:
    """A config or label value spelled as Hydra overrides spell it (``null``, ``true``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _integer(text: str | None) -> int | None:
    """``"5"`` as 5; ``None`` for anything that is not an integer (``null``, ``1.5``)."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _cell(value: Any) -> str:
    """A CSV cell: empty for missing or undefined, shortest round-trip text for numbers."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return _as_text(value) if isinstance(value, bool | str | int | float) else json.dumps(value)


def _table_cell(value: float) -> str:
    """Whole numbers (counts) with thousands separators, others with three decimals (mAP,
    seconds), "-" when undefined."""
    if not math.isfinite(value):
        return "-"
    return f"{value:,.0f}" if value == int(value) or abs(value) >= 1000 else f"{value:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
