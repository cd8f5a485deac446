"""The Clownfish paper's simulation figures, drawn from plain numbers into PNG files.

Like :mod:`edgecloud.sim.figures` (whose canvas and saving helpers these reuse): no pyplot, no
global state, no metadata in the PNG, and missing numbers leave gaps instead of raising.

- :func:`plot_grid`: Fig. 7, accuracy against the filter interval per lag and method, with the
  local and remote models as reference lines, and the bandwidth reduction curve.
- :func:`plot_similarity_traces`: Fig. 8, similarity scores around a context transition.
- :func:`plot_throughput`: Figs. 13 and 15, displayed frames per second over time, phases shaded.
- :func:`plot_lags`: Figs. 11 and 14, the distribution of lags of remote results.
- :func:`plot_timed_run`: one timed run's throughput and lags side by side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from edgecloud.sim.clownfish.report import bucket_lags, lag_sort_key
from edgecloud.sim.clownfish.traces import TraceSnippet
from edgecloud.sim.figures import as_number, new_figure, require_items, save_png

REFERENCE_STYLES = {
    "cloud_only": ("remote (cloud-only)", "k", "--"),
    "edge_only": ("local (edge-only)", "0.5", ":"),
}
TRACE_STYLES = {
    "siminet": ("SimiNet", "C0"),
    "cosine": ("Cosine", "C1"),
    "euclidean": ("Euclidean", "C2"),
    "feature_cosine": ("feature cosine", "C4"),
}


def plot_grid(
    *,
    rows: Sequence[Mapping],
    references: Mapping[str, Sequence[float]],
    periodic_limit: Mapping[int, float],
    path: Path,
    metric: str = "accuracy",
) -> None:
    """One panel per lag: ``metric`` against ``n_w`` for every method (``rows`` are
    :class:`~edgecloud.sim.clownfish.ideal.GridRow`-like mappings), with the edge-only and
    cloud-only references; a last panel with each method's bandwidth reduction and the
    long-video periodic limit."""
    require_items(rows, what="rows")
    lags = sorted({int(row["lag"]) for row in rows})
    methods = list(dict.fromkeys(row["method"] for row in rows))
    figure = new_figure(width=3.3 * (len(lags) + 1) + 0.5, height=3.4)
    axes_list = [figure.add_subplot(1, len(lags) + 1, k + 1) for k in range(len(lags) + 1)]
    position = 0 if metric == "accuracy" else 1
    for axes, lag in zip(axes_list, lags, strict=False):
        for index, method in enumerate(methods):
            points = sorted(
                (int(row["interval"]), as_number(row[metric]))
                for row in rows
                if row["method"] == method and int(row["lag"]) == lag
            )
            axes.plot(
                [p[0] for p in points],
                [100 * p[1] for p in points],
                marker="o",
                markersize=3,
                color=f"C{index}",
                label=method.removeprefix("clownfish_"),
            )
        for name, (label, color, style) in REFERENCE_STYLES.items():
            if name in references:
                axes.axhline(
                    100 * as_number(references[name][position]),
                    color=color,
                    linestyle=style,
                    linewidth=1,
                    label=label,
                )
        axes.set_title(f"lag d = {lag}")
        axes.set_xlabel("filter interval $n_w$")
        axes.grid(alpha=0.3)
    axes_list[0].set_ylabel(f"{metric} (%)")
    axes_list[0].legend(fontsize=7)
    bandwidth = axes_list[-1]
    for index, method in enumerate(methods):
        points = sorted(
            {
                (int(r["interval"]), as_number(r["frame_reduction"]))
                for r in rows
                if r["method"] == method
            }
        )
        bandwidth.plot(
            [p[0] for p in points],
            [100 * p[1] for p in points],
            marker="o",
            markersize=3,
            color=f"C{index}",
        )
    limit = sorted(periodic_limit.items())
    bandwidth.plot(
        [k for k, _ in limit],
        [100 * v for _, v in limit],
        color="k",
        linestyle=":",
        label="periodic, long-video limit",
    )
    bandwidth.set_title("bandwidth reduction")
    bandwidth.set_xlabel("filter interval $n_w$")
    bandwidth.set_ylabel("reduction vs cloud-only (%)")
    bandwidth.grid(alpha=0.3)
    bandwidth.legend(fontsize=7)
    save_png(figure, path)


def plot_similarity_traces(*, snippets: Sequence[TraceSnippet], path: Path) -> None:
    """One panel per video: each similarity function's score per window and the ground-truth
    same-context indicator (grey), the first action window marked (Fig. 8)."""
    require_items(snippets, what="snippets")
    columns = min(5, len(snippets))
    lines = math.ceil(len(snippets) / columns)
    figure = new_figure(width=3.0 * columns, height=2.3 * lines + 0.4)
    for index, snippet in enumerate(snippets):
        axes = figure.add_subplot(lines, columns, index + 1)
        windows = np.arange(len(snippet.labels)) + snippet.first
        if "oracle" in snippet.scores:
            axes.fill_between(
                windows, 0, snippet.scores["oracle"], step="mid", color="0.85", label="same context"
            )
        for name, (label, color) in TRACE_STYLES.items():
            if name in snippet.scores:
                axes.plot(windows, snippet.scores[name], color=color, linewidth=1, label=label)
        axes.axvline(snippet.transition, color="k", linestyle="--", linewidth=0.8)
        axes.set_ylim(-0.02, 1.02)
        axes.set_title(snippet.video, fontsize=8)
        axes.tick_params(labelsize=7)
        if index == 0:
            axes.legend(fontsize=6, loc="lower left")
    save_png(figure, path)


def _shade_phases(axes, phases: Sequence[Mapping] | None, end: float) -> None:
    if not phases:
        return
    names = list(dict.fromkeys(phase["name"] for phase in phases))
    for phase in phases:
        stop = min(as_number(phase["end_s"]), end)
        if stop <= phase["start_s"]:
            continue
        shade = 0.93 - 0.06 * names.index(phase["name"])
        axes.axvspan(phase["start_s"], stop, color=str(max(shade, 0.6)), zorder=0)
        axes.text(
            (phase["start_s"] + stop) / 2,
            0.02,
            phase["name"],
            transform=axes.get_xaxis_transform(),
            ha="center",
            fontsize=8,
        )


def _throughput_axes(
    axes, series: Mapping[str, Sequence[float]], bin_s: float, phases: Sequence[Mapping] | None
) -> None:
    longest = 0.0
    for index, (label, values) in enumerate(series.items()):
        values = np.asarray([as_number(v) for v in values], dtype=np.float64)
        times = (np.arange(len(values)) + 0.5) * bin_s
        longest = max(longest, len(values) * bin_s)
        axes.plot(times, values, color=f"C{index}", linewidth=1, label=label)
    _shade_phases(axes, phases, longest)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("throughput (frames/s)")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)


def plot_throughput(
    *,
    series: Mapping[str, Sequence[float]],
    bin_s: float,
    path: Path,
    phases: Sequence[Mapping] | None = None,
) -> None:
    """Displayed frames per second per ``bin_s`` over time, one line per label, the phases
    (``{name, start_s, end_s}``) shaded and named (Figs. 13, 15)."""
    require_items(series, what="series")
    figure = new_figure(width=7.5, height=3.4)
    axes = figure.add_subplot()
    _throughput_axes(axes, series, bin_s, phases)
    axes.legend(fontsize=8)
    save_png(figure, path)


def _lag_axes(axes, distributions: Mapping[str, Mapping[str, float]]) -> None:
    keys = sorted(
        {key for distribution in distributions.values() for key in distribution},
        key=lag_sort_key,
    )
    positions = np.arange(len(keys), dtype=np.float64)
    width = 0.8 / max(1, len(distributions))
    for index, (label, distribution) in enumerate(distributions.items()):
        heights = [100 * as_number(distribution.get(key, 0.0)) for key in keys]
        axes.bar(
            positions - 0.4 + width * (index + 0.5),
            np.nan_to_num(heights),
            width,
            color=f"C{index}",
            label=label,
        )
    axes.set_xticks(positions, keys)
    axes.set_xlabel("lag (windows)")
    axes.set_ylabel("remote results (%)")
    axes.grid(alpha=0.3, axis="y")


def plot_lags(*, distributions: Mapping[str, Mapping[str, float]], path: Path) -> None:
    """Share of remote results per lag (``"0"``, ``"1"``, ..., ``"late"``), one bar per
    label in each group (Figs. 11, 14)."""
    require_items(distributions, what="distributions")
    figure = new_figure(width=max(5.0, 1.2 + 0.5 * len(distributions) * 4), height=3.4)
    axes = figure.add_subplot()
    _lag_axes(axes, distributions)
    axes.legend(fontsize=8)
    save_png(figure, path)


def plot_timed_run(
    *,
    label: str,
    bins: Sequence[float],
    bin_s: float,
    lag_counts: Mapping[str, int],
    path: Path,
    phases: Sequence[Mapping] | None = None,
) -> None:
    """One timed run: throughput over time and (for fusing methods) its lag distribution."""
    panels = 2 if lag_counts else 1
    figure = new_figure(width=5.5 * panels, height=3.4)
    axes = figure.add_subplot(1, panels, 1)
    _throughput_axes(axes, {label: bins}, bin_s, phases)
    axes.set_title(f"{label}: throughput")
    if lag_counts:
        lag_counts = bucket_lags(dict(lag_counts))
        total = sum(lag_counts.values())
        lag_axes = figure.add_subplot(1, panels, 2)
        _lag_axes(lag_axes, {label: {k: v / total for k, v in lag_counts.items()}})
        lag_axes.set_title(f"{label}: lags of remote results")
    save_png(figure, path)
