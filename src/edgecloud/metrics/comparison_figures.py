"""Figures of Runespoor's side-by-side comparison of restoration methods, drawn from the rows
of :func:`~edgecloud.metrics.method_comparison.compare_methods` (one per method, in the rows'
order and colours ``C0``, ``C1``, ...):

* :func:`plot_class_iou` (Fig. 7, Table I): the IoU of every method on each tail class;
* :func:`plot_frame_distribution` (Fig. 10, Table III): the distribution of every method's
  per-episode mIoU with its 90 % and 99 % tails.

Both write deterministic PNGs (:mod:`edgecloud.sim.figures`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from edgecloud.sim.figures import new_figure, require_items, save_png

SUMMARIES = (("tail_mIoU", "tail mean"), ("mIoU", "overall mIoU"))
"""The groups after the tail classes: each row's key and the group's label (Table I's "tail
classes" and "overall mIoU" rows)."""

TAILS = ((0.10, "frame_tail_90", "90% tail"), (0.01, "frame_tail_99", "99% tail"))
"""The tails Fig. 10 marks: the fraction of episodes below, the row's key and the label."""


def plot_class_iou(rows: Mapping[str, Mapping[str, object]], *, path: Path) -> None:
    """Grouped bars of IoU (%), one bar per method in each group: the tail classes, worst
    first (the order of ``comparison.md``), then every method's mean over them and its overall
    mIoU. IoUs are absolute, as in Table I (the paper's Fig. 7 divides them by HR's, which is
    one of the bars here). Raises ``ValueError`` when the rows have no tail classes."""
    require_items(rows, what="rows")
    tail_classes = list(next(iter(rows.values()))["tail_classes"])
    require_items(tail_classes, what="tail_classes")
    labels = [*tail_classes, *(label for _, label in SUMMARIES)]
    # the summaries stand apart from the classes, one group's width to the right
    positions = np.concatenate(
        [np.arange(len(tail_classes)), len(tail_classes) + 1 + np.arange(len(SUMMARIES))]
    )
    width = 0.8 / len(rows)
    figure = new_figure(width=max(6.0, 1.0 + 0.12 * len(rows) * len(labels)), height=3.8)
    axes = figure.add_subplot()
    for index, (name, row) in enumerate(rows.items()):
        values = [row["iou"][class_name] for class_name in tail_classes]
        values += [row[key] for key, _ in SUMMARIES]
        axes.bar(
            positions - 0.4 + width * (index + 0.5),
            [100 * float(value) for value in values],
            width,
            label=name,
            color=f"C{index}",
        )
    axes.axvline(len(tail_classes), color="0.6", linewidth=0.8)
    axes.set_xticks(positions, labels, rotation=30, ha="right")
    axes.set_ylabel("IoU (%)")
    axes.set_title("IoU on the tail classes, worst first")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save_png(figure, path)


def plot_frame_distribution(rows: Mapping[str, Mapping[str, object]], *, path: Path) -> None:
    """Empirical CDF of every method's per-episode mIoU (%) (``episode_miou``), with guides at
    the 10 % and 1 % of episodes and a marker per method at its 90 % and 99 % tails
    (``frame_tail_90``, ``frame_tail_99``: the accuracy 90 % and 99 % of its episodes reach).
    A method without episodes is listed in the legend and draws nothing."""
    require_items(rows, what="rows")
    figure = new_figure(width=5.5, height=3.8)
    axes = figure.add_subplot()
    for index, (name, row) in enumerate(rows.items()):
        color = f"C{index}"
        episodes = 100 * np.sort(np.asarray(row["episode_miou"], dtype=np.float64))
        if episodes.size == 0:
            axes.plot([], [], color=color, label=f"{name} (no episodes)")
            continue
        fractions = np.arange(1, episodes.size + 1) / episodes.size
        axes.step(
            np.concatenate([episodes[:1], episodes]),
            np.concatenate([[0.0], fractions]),
            where="post",
            color=color,
            label=name,
        )
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
    axes.set_xlabel("episode mIoU (%)")
    axes.set_ylabel("fraction of episodes")
    axes.set_title("frame-wise accuracy distribution")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save_png(figure, path)
