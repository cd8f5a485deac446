"""Runespoor's Fig. 12: accuracy relative to HR per second, and the sent bandwidth under the
uplink's rate, one line per method (no pyplot; reproducible PNG bytes)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from edgecloud.sim.figures import new_figure, save_png


def plot_fig12(*, seconds: Mapping[str, Mapping[str, list[float]]], path: Path) -> None:
    """Two panels sharing the time axis: relative mIoU per second (top) and sent Mbps per
    second with the bandwidth estimate (bottom): one grey line when every method saw the same
    estimate (the configured rate), else one dashed line per method (each measured its own
    sends)."""
    if not seconds:
        raise ValueError("no method to plot")
    figure = new_figure(width=7.0, height=5.0)
    accuracy, bandwidth = figure.subplots(2, 1, sharex=True)
    for index, (method, rows) in enumerate(seconds.items()):
        accuracy.plot(rows["second"], rows["relative"], marker="o", color=f"C{index}", label=method)
        bandwidth.plot(rows["second"], rows["mbps"], marker="o", color=f"C{index}", label=method)
    estimates = [rows["bandwidth_mbps"] for rows in seconds.values()]
    if all(estimate == estimates[0] for estimate in estimates):
        first = next(iter(seconds.values()))
        bandwidth.step(
            first["second"], first["bandwidth_mbps"], where="post", color="0.4", linestyle="--",
            label="bandwidth estimate",
        )  # fmt: skip
    else:
        for index, (method, rows) in enumerate(seconds.items()):
            bandwidth.step(
                rows["second"], rows["bandwidth_mbps"], where="post", color=f"C{index}",
                linestyle="--", label=f"{method} estimate",
            )  # fmt: skip
    accuracy.set_ylabel("mIoU relative to HR")
    accuracy.legend(loc="lower left", fontsize="small")
    bandwidth.set_ylabel("sent (Mbps)")
    bandwidth.set_xlabel("time (s)")
    bandwidth.legend(loc="upper right", fontsize="small")
    save_png(figure, path)
