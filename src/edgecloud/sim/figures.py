"""The REACT paper's simulation figures, drawn from plain numbers into PNG files.

Every function takes what one figure shows and writes one PNG. Figures are built on
:class:`~matplotlib.figure.Figure` with an Agg canvas, never through pyplot, so no global state
leaks between Hydra jobs or tests; the PNG carries no software or date metadata, so the same
numbers give the same bytes and a re-aggregated sweep shows no spurious diff.

Missing numbers (``None`` or NaN, e.g. mAP of a run without ground truth) never raise: bars
show "n/a", heatmap cells stay blank and lines break.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Sized
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 150
# TIDE's six main error types, in the order of the TIDE paper and REACT's Fig. 5.
TIDE_ERRORS = ("Cls", "Loc", "Both", "Dupe", "Bkg", "Miss")
# plot_scaling's panels: the key of each series' values and the panel's axis label.
SCALING_PANELS = (
    ("throughput", "throughput (req/s)"),
    ("p50", "p50 response time (s)"),
    ("p95", "p95 response time (s)"),
)


def plot_methods(*, values: Mapping[str, float | None], metric: str, path: Path) -> None:
    """Bar chart of one metric per method, value on each bar (REACT Fig. 3: REACT vs
    edge-only vs cloud-only vs ef-edge-det)."""
    require_items(values, what="values")
    figure = new_figure(width=max(4.0, 1.1 * len(values) + 1.5), height=3.6)
    axes = figure.add_subplot()
    _bars(axes, values=values, colors=_colors(len(values)))
    axes.set_ylabel(metric)
    axes.set_title(f"{metric} by method")
    save_png(figure, path)


def plot_heatmap(
    *,
    rows: Sequence[int],
    columns: Sequence[int],
    values: np.ndarray,
    row_label: str,
    column_label: str,
    metric: str,
    path: Path,
) -> None:
    """Annotated heatmap of ``values[i, j]`` at ``rows[i]`` x ``columns[j]`` (REACT Fig. 4:
    edge every k frames by cloud every m frames, mAP@0.5 in the cells); NaN cells stay
    blank, so a missing or failed job is visible rather than drawn as zero."""
    grid = np.asarray(values, dtype=np.float64)
    if grid.shape != (len(rows), len(columns)):
        raise ValueError(
            f"values has shape {grid.shape}, expected (len(rows), len(columns)) = "
            f"({len(rows)}, {len(columns)})"
        )
    if grid.size == 0:
        raise ValueError("nothing to plot: the heatmap has no rows or no columns")
    finite = grid[np.isfinite(grid)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    figure = new_figure(width=2.5 + 0.9 * len(columns), height=1.6 + 0.6 * len(rows))
    axes = figure.add_subplot()
    image = axes.imshow(
        np.ma.masked_invalid(grid), cmap="viridis", vmin=low, vmax=high, aspect="auto"
    )
    for (row, column), value in np.ndenumerate(grid):
        if math.isfinite(value):
            color = "black" if image.norm(value) > 0.6 else "white"
            axes.text(column, row, _format(value), ha="center", va="center", color=color)
    axes.set_xticks(range(len(columns)), [str(column) for column in columns])
    axes.set_yticks(range(len(rows)), [str(row) for row in rows])
    axes.set_xlabel(column_label)
    axes.set_ylabel(row_label)
    figure.colorbar(image, ax=axes, label=metric)
    save_png(figure, path)


def plot_tide(*, breakdowns: Mapping[str, Mapping[str, float | None]], path: Path) -> None:
    """Grouped bars of TIDE's six main error types (dAP@0.5 each), one bar per run in each
    group (REACT Fig. 5); an error type a run lacks shows "n/a"."""
    require_items(breakdowns, what="breakdowns")
    figure = new_figure(width=max(6.0, 1.0 + 0.45 * len(TIDE_ERRORS) * len(breakdowns)), height=3.8)
    axes = figure.add_subplot()
    positions = np.arange(len(TIDE_ERRORS), dtype=np.float64)
    width = 0.8 / len(breakdowns)
    for index, (label, breakdown) in enumerate(breakdowns.items()):
        heights = np.array([as_number(breakdown.get(name)) for name in TIDE_ERRORS])
        bars = axes.bar(
            positions - 0.4 + width * (index + 0.5),
            np.nan_to_num(heights),
            width,
            label=label,
            color=f"C{index}",
        )
        axes.bar_label(bars, labels=[_format(height) for height in heights], fontsize=7)
    axes.set_xticks(positions, TIDE_ERRORS)
    axes.set_ylabel("dAP@0.5 (TIDE error contribution)")
    axes.set_title("TIDE error breakdown")
    axes.margins(y=0.12)
    axes.legend(fontsize=8)
    save_png(figure, path)


def plot_response_cdf(
    *,
    response_times: Mapping[str, Sequence[float]],
    path: Path,
    accuracy: Mapping[str, float | None] | None = None,
    accuracy_label: str = "mAP@0.5",
) -> None:
    """Empirical CDF of response times, one line per label, with guides at the 50th and 95th
    percentiles (REACT Fig. 6a); with ``accuracy``, a second panel of bars per label
    (Fig. 6b) in the same colours as the lines."""
    require_items(response_times, what="response_times")
    panels = 1 if accuracy is None else 2
    figure = new_figure(width=5.5 * panels, height=3.8)
    axes = figure.add_subplot(1, panels, 1)
    for index, (label, times) in enumerate(response_times.items()):
        times = np.asarray(times, dtype=np.float64)
        plot_ecdf(
            axes, times[np.isfinite(times)], color=f"C{index}", label=label, empty="no responses"
        )
    for level, name in ((0.5, "p50"), (0.95, "p95")):
        axes.axhline(level, color="0.5", linestyle="--", linewidth=0.8)
        axes.text(0.99, level, name, transform=axes.get_yaxis_transform(), ha="right", va="bottom")
    axes.set_ylim(0.0, 1.02)
    axes.set_xlabel("response time (s)")
    axes.set_ylabel("fraction of requests")
    axes.set_title("response time CDF")
    axes.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 0.1))
    if accuracy is not None:
        require_items(accuracy, what="accuracy")
        order = list(response_times)
        colors = [f"C{order.index(label)}" if label in order else "0.5" for label in accuracy]
        bar_axes = figure.add_subplot(1, panels, 2)
        _bars(bar_axes, values=accuracy, colors=colors)
        bar_axes.set_ylabel(accuracy_label)
        bar_axes.set_title(accuracy_label)
    save_png(figure, path)


def plot_scaling(
    *,
    devices: Sequence[int],
    series: Mapping[str, Mapping[str, Sequence[float | None]]],
    path: Path,
) -> None:
    """Three panels against the number of devices: server throughput (req/s), p50 and p95
    response time (s) (REACT Figs. 7-9). ``series[label]`` maps ``"throughput"``, ``"p50"``
    and ``"p95"`` to one value per entry of ``devices``; one line per label (e.g. GPU type),
    a key a series lacks leaves its panel without that line."""
    require_items(devices, what="devices")
    require_items(series, what="series")
    for label, values in series.items():
        for key, _ in SCALING_PANELS:
            if key in values and len(values[key]) != len(devices):
                raise ValueError(
                    f"series {label!r} has {len(values[key])} {key} values for "
                    f"{len(devices)} device counts"
                )
    figure = new_figure(width=13.0, height=3.8)
    for panel, (key, axis_label) in enumerate(SCALING_PANELS):
        axes = figure.add_subplot(1, len(SCALING_PANELS), panel + 1)
        for index, (label, values) in enumerate(series.items()):
            if key in values:
                axes.plot(
                    list(devices),
                    [as_number(value) for value in values[key]],
                    marker="o",
                    color=f"C{index}",
                    label=label,
                )
        axes.set_xlabel("devices")
        axes.set_ylabel(axis_label)
        axes.grid(alpha=0.3)
        if panel == 0:
            axes.legend(fontsize=8)
    save_png(figure, path)


def new_figure(*, width: float, height: float) -> Figure:
    """A figure on its own Agg canvas (no pyplot), laid out so labels are never clipped."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: Path) -> None:
    """Write a PNG without the Software entry (matplotlib writes no date into PNGs), so
    identical figures are identical files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=DPI, metadata={"Software": None})


def _bars(axes: Axes, *, values: Mapping[str, float | None], colors: Sequence[str]) -> None:
    """One labelled bar per entry; missing values draw no bar and read "n/a"."""
    heights = np.array([as_number(value) for value in values.values()])
    positions = np.arange(len(heights))
    bars = axes.bar(positions, np.nan_to_num(heights), color=list(colors))
    axes.bar_label(bars, labels=[_format(height) for height in heights], padding=2)
    long_names = any(len(label) > 10 for label in values)
    axes.set_xticks(
        positions,
        list(values),
        rotation=20 if long_names else 0,
        ha="right" if long_names else "center",
    )
    axes.margins(y=0.15)


def _colors(count: int) -> list[str]:
    return [f"C{index}" for index in range(count)]


def as_number(value: float | None) -> float:
    """``None`` (undefined in results.json) as NaN, everything else as float."""
    return math.nan if value is None else float(value)


def _format(value: float) -> str:
    """Three significant digits for labels, "n/a" for a missing value."""
    if not math.isfinite(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def plot_ecdf(axes: Axes, values: np.ndarray, *, color: str, label: str, empty: str) -> None:
    """The empirical CDF of ``values`` as a step line from 0 to 1; with no values, only a
    legend entry ``label (empty)``."""
    sample = np.sort(np.asarray(values, dtype=np.float64))
    if sample.size == 0:
        axes.plot([], [], color=color, label=f"{label} ({empty})")
        return
    fractions = np.arange(1, sample.size + 1) / sample.size
    axes.step(
        np.concatenate([sample[:1], sample]),
        np.concatenate([[0.0], fractions]),
        where="post",
        color=color,
        label=label,
    )


def require_items(items: Sized, *, what: str) -> None:
    """An empty input is a caller's mistake (e.g. a sweep with no usable job), not a blank
    figure."""
    if len(items) == 0:
        raise ValueError(f"nothing to plot: {what} is empty")
