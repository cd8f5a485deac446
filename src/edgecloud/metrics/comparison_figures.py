"""Figures of Runespoor's side-by-side comparisons of restoration methods, drawn from the rows
of :func:`~edgecloud.metrics.method_comparison.compare_methods` or
:func:`~edgecloud.metrics.detection_comparison.compare_detection_methods` (one per method, in
the rows' order and colours ``C0``, ``C1``, ...):

* :func:`plot_class_scores` (segmentation: Fig. 7, Table I, by :func:`plot_class_iou`;
  detection: the per-class AP behind Fig. 8's tail means): every method's per-class score on
  each tail class, normalised by HR's as the paper draws them;
* :func:`plot_frame_distribution` (Fig. 10, Table III): the distribution of every method's
  per-episode score with its 90 % and 99 % tails.

Both write deterministic PNGs (:mod:`edgecloud.sim.figures`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from edgecloud.metrics.method_comparison import REFERENCE
from edgecloud.sim.figures import new_figure, plot_ecdf, require_items, save_png

SUMMARIES = (("tail_mIoU", "tail mean"), ("mIoU", "overall mIoU"))
"""The segmentation figure's groups after the tail classes: each row's key and the group's
label (Table I's "tail classes" and "overall mIoU" rows)."""

TAILS = ((0.10, "frame_tail_90", "90% tail"), (0.01, "frame_tail_99", "99% tail"))
"""The tails Fig. 10 marks: the fraction of episodes below, the row's key and the label."""


RELATIVE_AXIS_CAP = 2.0
"""The class figures' y axis stops here (twice HR's score): a class HR barely finds (an IoU of
0.2 %) can give a ratio of ten and flatten every other bar. Taller bars are cut at the cap and
labelled with their value, so nothing is hidden."""


def relative_class_scores(
    rows: Mapping[str, Mapping[str, object]],
    *,
    per_class_key: str,
    summaries: Sequence[tuple[str, str]],
) -> dict[str, np.ndarray]:
    """Every method's (not HR's) score on each tail class (each row's ``per_class_key``
    mapping, classes in the order of ``tail_classes``), then each of the ``summaries`` keys,
    divided by HR's; NaN where HR scores zero or a score is missing."""
    reference = rows[REFERENCE]
    tail_classes = list(reference["tail_classes"])

    def scores(row: Mapping[str, object]) -> np.ndarray:
        values = [row[per_class_key][class_name] for class_name in tail_classes]
        values += [row[key] for key, _ in summaries]
        return np.array([np.nan if value is None else float(value) for value in values])

    hr = scores(reference)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            name: np.where(hr > 0, scores(row) / hr, np.nan)
            for name, row in rows.items()
            if name != REFERENCE
        }


def plot_class_scores(
    rows: Mapping[str, Mapping[str, object]],
    *,
    path: Path,
    per_class_key: str,
    score: str,
    summaries: Sequence[tuple[str, str]],
) -> None:
    """Grouped bars of :func:`relative_class_scores` (a per-class ``score`` over HR's, as the
    paper's Figs. 7 and 8 draw them), one bar per method in each group: the tail classes, worst
    first (the order of ``comparison.md``), then the ``summaries`` (e.g. the tail mean and the
    overall mean). HR itself is the dashed line at 1; a class HR scores zero on draws no bar.
    Raises ``ValueError`` when the rows have no tail classes."""
    require_items(rows, what="rows")
    tail_classes = list(rows[REFERENCE]["tail_classes"])
    require_items(tail_classes, what="tail_classes")
    labels = [*tail_classes, *(label for _, label in summaries)]
    # the summaries stand apart from the classes, one group's width to the right
    positions = np.concatenate(
        [np.arange(len(tail_classes)), len(tail_classes) + 1 + np.arange(len(summaries))]
    )
    relative = relative_class_scores(rows, per_class_key=per_class_key, summaries=summaries)
    require_items(relative, what="methods other than HR")
    width = 0.8 / len(relative)
    figure = new_figure(width=max(6.0, 1.0 + 0.12 * len(relative) * len(labels)), height=3.8)
    axes = figure.add_subplot()
    for index, (name, values) in enumerate(relative.items()):
        x = positions - 0.4 + width * (index + 0.5)
        axes.bar(x, np.minimum(values, RELATIVE_AXIS_CAP), width, label=name, color=f"C{index}")
        for position, value in zip(x, values, strict=True):
            if value > RELATIVE_AXIS_CAP:
                axes.text(position, RELATIVE_AXIS_CAP, f"{value:.1f}", rotation=90,
                          ha="center", va="top", fontsize=6, color="white")  # fmt: skip
    axes.axhline(1.0, color="0.4", linestyle="--", linewidth=0.8, label="HR")
    axes.axvline(len(tail_classes), color="0.6", linewidth=0.8)
    axes.set_ylim(0.0, RELATIVE_AXIS_CAP)
    axes.set_xticks(positions, labels, rotation=30, ha="right")
    axes.set_ylabel(f"{score} / HR's {score}")
    axes.set_title(f"{score} relative to HR on the tail classes, worst first")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save_png(figure, path)


def plot_class_iou(rows: Mapping[str, Mapping[str, object]], *, path: Path) -> None:
    """The segmentation comparison's Fig. 7: :func:`plot_class_scores` of the IoU, with every
    method's mean IoU over the tail classes and its overall mIoU after them."""
    plot_class_scores(rows, path=path, per_class_key="iou", score="IoU", summaries=SUMMARIES)


def plot_frame_distribution(
    rows: Mapping[str, Mapping[str, object]],
    *,
    path: Path,
    episodes_key: str = "episode_miou",
    score: str = "mIoU",
) -> None:
    """Empirical CDF of every method's per-episode ``score`` (%) (each row's
    ``episodes_key``; the defaults are the segmentation comparison's), with guides at the 10 %
    and 1 % of episodes and a marker per method at its 90 % and 99 % tails (``frame_tail_90``,
    ``frame_tail_99``: the accuracy 90 % and 99 % of its episodes reach). A method without
    episodes is listed in the legend and draws nothing."""
    require_items(rows, what="rows")
    figure = new_figure(width=5.5, height=3.8)
    axes = figure.add_subplot()
    for index, (name, row) in enumerate(rows.items()):
        color = f"C{index}"
        episodes = 100 * np.asarray(row[episodes_key], dtype=np.float64)
        plot_ecdf(axes, episodes, color=color, label=name, empty="no episodes")
        if episodes.size == 0:
            continue
        axes.plot(
            [100 * float(row[key]) for _, key, _ in TAILS],
            [level for level, _, _ in TAILS],
            linestyle="none",
            marker="o",
            color=color,
        )
    for level, _, label in TAILS:
        axes.axhline(level, color="0.5", linestyle="--", linewidth=0.8)
        axes.text(
            0.99,
            level,
            label,
            transform=axes.get_yaxis_transform(),
            ha="right",
            va="bottom",
            fontsize=8,
        )
    axes.set_ylim(0.0, 1.02)
    axes.set_xlabel(f"episode {score} (%)")
    axes.set_ylabel("fraction of episodes")
    axes.set_title("frame-wise accuracy distribution")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save_png(figure, path)
