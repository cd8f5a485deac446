"""Runespoor's Fig. 12: accuracy relative to HR per second, and the sent bandwidth under the
uplink's rate, one line per method (no pyplot; reproducible PNG bytes)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from edgecloud.sim.figures import new_figure, save_png


def plot_fig12(*, seconds: Mapping[str, Mapping[str, list[float]]], path: Path) -> None:
    """Two panels sharing the time axis: relative mIoU per second (top) and sent Mbps per
    second with the bandwidth estimate (bottom)."""
    if not seconds:
        raise ValueError("no method to plot")
    figure = new_figure(width=7.0, height=5.0)
    accuracy, bandwidth = figure.subplots(2, 1, sharex=True)
    for index, (method, rows) in enumerate(seconds.items()):
        accuracy.plot(rows["second"], rows["relative"], marker="o", color=f"C{index}", label=method)
        bandwidth.plot(rows["second"], rows["mbps"], marker="o", color=f"C{index}", label=method)
    first = next(iter(seconds.values()))
    bandwidth.step(
        first["second"], first["bandwidth_mbps"], where="post", color="0.4", linestyle="--",
        label="bandwidth estimate",
    )  # fmt: skip
    accuracy.set_ylabel("mIoU relative to HR")
    accuracy.legend(loc="lower left", fontsize="small")
    bandwidth.set_ylabel("sent (Mbps)")
    bandwidth.set_xlabel("time (s)")
    bandwidth.legend(loc="upper right", fontsize="small")
    save_png(figure, path)
