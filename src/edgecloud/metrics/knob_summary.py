"""Accuracy against bandwidth for every configuration of a knob recording (Runespoor's
Table II and Fig. 11 for one restoration method), and of several methods side by side, each
from its own recording of the same frames (Fig. 11).

Per configuration: mean bytes per frame and the Mbps they cost at the recording's frame rate,
the accumulated mIoU over every frame (summed intersections over summed unions), its ratio to
HR's, and the frame-wise tail (the mean of the worst 10 % per-frame mIoU).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from edgecloud.metrics.segmentation import accumulated_miou
from edgecloud.recording.knobs import KnobRecording
from edgecloud.sim.figures import new_figure, require_items, save_png

TAIL_FRACTION = 0.1
# plot_methods_vs_bandwidth: marker and line style of each scale, in increasing scale order,
# enough for the paper's x2, x3, x4, x6 and x8 (HR's line is dashed, as in
# plot_accuracy_vs_bandwidth)
SCALE_STYLES = (
    ("o", "-"),
    ("s", ":"),
    ("^", "-."),
    ("D", (0, (5, 1, 1, 1, 1, 1))),
    ("v", (0, (8, 2))),
)

Rows = list[dict[str, float | str]]
"""One row per configuration, then HR's (:func:`knob_rows`)."""


def knob_rows(recording: KnobRecording) -> Rows:
    """One row per configuration, in the recording's order."""
    clips = [recording.clip(name) for name in recording.clip_names]
    fps = {clip.fps for clip in clips}
    if len(fps) != 1:
        raise ValueError(f"{recording.root}: clips have different frame rates {sorted(fps)}")
    rate = fps.pop()

    def joined(key: str, axis: int) -> np.ndarray:
        return np.concatenate([clip.arrays[key] for clip in clips], axis=axis)

    intersection, union = joined("intersection", 1), joined("union", 1)
    frame_bytes, frame_miou = joined("frame_bytes", 1), joined("frame_miou", 1)
    hr = accumulated_miou(joined("hr_intersection", 0), joined("hr_union", 0))
    rows = []
    for k, knob in enumerate(recording.knobs):
        miou = accumulated_miou(intersection[k], union[k])
        worst = np.sort(frame_miou[k])[: max(1, int(np.ceil(TAIL_FRACTION * frame_miou.shape[1])))]
        rows.append(
            {
                "knobs": knob.name,
                "scale": knob.scale,
                "quality": knob.quality,
                "bytes_per_frame": float(frame_bytes[k].mean()),
                "mbps": float(frame_bytes[k].mean()) * 8.0 * rate / 1e6,
                "miou": miou,
                "relative_miou": miou / hr if hr > 0 else float("nan"),
                "frame_tail_miou": float(worst.mean()),
            }
        )
    rows.append({"knobs": "hr", "miou": hr, "relative_miou": 1.0})
    return rows


def knob_markdown(rows: Rows, *, title: str) -> str:
    """The rows as a Markdown table (percent, KB, Mbps)."""
    lines = [
        f"# {title}",
        "",
        "| configuration | KB/frame | Mbps | mIoU (%) | relative to HR | worst-10 % frame mIoU (%) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        if row["knobs"] == "hr":
            lines.append(f"| HR | | | {100 * row['miou']:.2f} | 1.000 | |")
            continue
        lines.append(
            f"| {row['knobs']} | {row['bytes_per_frame'] / 1000:.2f} | {row['mbps']:.3f} | "
            f"{100 * row['miou']:.2f} | {row['relative_miou']:.3f} | "
            f"{100 * row['frame_tail_miou']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def plot_accuracy_vs_bandwidth(rows: Rows, *, path: Path) -> None:
    """mIoU against Mbps (log x), one line per scale across its JPEG qualities (Fig. 11)."""
    figure = new_figure(width=5.5, height=3.8)
    axes = figure.add_subplot()
    configurations = [row for row in rows if row["knobs"] != "hr"]
    for index, scale in enumerate(sorted({row["scale"] for row in configurations})):
        line = sorted(
            (row for row in configurations if row["scale"] == scale), key=lambda r: r["mbps"]
        )
        axes.plot(
            [row["mbps"] for row in line],
            [100 * row["miou"] for row in line],
            marker="o",
            color=f"C{index}",
            label=f"x{scale}",
        )
    hr = next(row for row in rows if row["knobs"] == "hr")
    axes.axhline(100 * hr["miou"], color="0.4", linestyle="--", label="HR")
    axes.set_xscale("log")
    axes.set_xlabel("bandwidth (Mbps, log scale)")
    axes.set_ylabel("mIoU (%)")
    axes.legend(fontsize="small")
    save_png(figure, path)


def check_same_frames(recordings: Sequence[KnobRecording]) -> None:
    """Raise ``ValueError``, naming both directories, unless every recording holds the same
    classes, clips (names, frame counts and frame rates) and HR results (per-frame intersections
    and unions of the segmentation of the original frames) as the first: recordings of the same
    frames segmented by the same segmenter, whose rows can be compared. HR results are compared
    exactly, as the recorder writes them."""

    def clips(recording: KnobRecording) -> list[tuple[str, int, float]]:
        return [(c["name"], c["num_frames"], c["fps"]) for c in recording.manifest["clips"]]

    first, *others = recordings
    hr = {name: first.clip(name).arrays for name in first.clip_names}
    for other in others:
        mismatch = f"{other.root} is not a recording of the frames of {first.root}"
        if other.class_names != first.class_names:
            raise ValueError(
                f"{mismatch}: classes {list(other.class_names)} != {list(first.class_names)}"
            )
        theirs, ours = clips(other), clips(first)
        if theirs != ours:
            differing = [(a, b) for a, b in zip(theirs, ours, strict=False) if a != b]
            detail = (
                f"{differing[0][0]}, not {differing[0][1]}"
                if differing
                else f"{len(theirs)} clips, not {len(ours)}"
            )
            raise ValueError(f"{mismatch}: clip (name, frames, fps) {detail}")
        for name, arrays in hr.items():
            other_arrays = other.clip(name).arrays
            if any(
                not np.array_equal(other_arrays[key], arrays[key])
                for key in ("hr_intersection", "hr_union")
            ):
                raise ValueError(
                    f"{mismatch}: the HR results of clip {name} differ (other frames or "
                    "another segmenter)"
                )


def _hr_miou(rows_by_method: Mapping[str, Rows]) -> float:
    """HR's mIoU, which every method's rows must share (see :func:`check_same_frames`)."""
    values = {
        name: next(row["miou"] for row in rows if row["knobs"] == "hr")
        for name, rows in rows_by_method.items()
    }
    if len(set(values.values())) != 1:
        raise ValueError(f"the methods' rows are not of the same frames: HR mIoU {values}")
    return next(iter(values.values()))


def knob_comparison_markdown(rows_by_method: Mapping[str, Rows], *, title: str) -> str:
    """Every method's configurations as one Markdown table (Mbps, mIoU in percent, relative to
    HR), methods in the mapping's order, each with its configurations in its rows' order, then
    the HR row they share."""
    require_items(rows_by_method, what="rows_by_method")
    hr = _hr_miou(rows_by_method)
    lines = [
        f"# {title}",
        "",
        "| method | configuration | Mbps | mIoU (%) | relative to HR |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name, rows in rows_by_method.items():
        lines += [
            f"| {name} | {row['knobs']} | {row['mbps']:.3f} | {100 * row['miou']:.2f} | "
            f"{row['relative_miou']:.3f} |"
            for row in rows
            if row["knobs"] != "hr"
        ]
    lines.append(f"| HR | | | {100 * hr:.2f} | 1.000 |")
    return "\n".join(lines) + "\n"


def plot_methods_vs_bandwidth(rows_by_method: Mapping[str, Rows], *, path: Path) -> None:
    """mIoU against Mbps (log x) of several restoration methods (Fig. 11): one colour per
    method, one marker and line style per scale, each line joining a method's JPEG qualities at
    one scale as :func:`plot_accuracy_vs_bandwidth` does, and HR's mIoU dashed. Every
    configuration is drawn rather than each method's Pareto front, so the methods can be read
    off at the same configuration (same bytes: the methods differ only in the restoration) and
    the front is still visible as the upper envelope."""
    require_items(rows_by_method, what="rows_by_method")
    hr = _hr_miou(rows_by_method)
    configurations = {
        name: [row for row in rows if row["knobs"] != "hr"] for name, rows in rows_by_method.items()
    }
    scales = sorted({row["scale"] for rows in configurations.values() for row in rows})
    styles = {scale: SCALE_STYLES[index % len(SCALE_STYLES)] for index, scale in enumerate(scales)}
    figure = new_figure(width=6.0, height=4.0)
    axes = figure.add_subplot()
    for index, rows in enumerate(configurations.values()):
        for scale in sorted({row["scale"] for row in rows}):
            line = sorted((row for row in rows if row["scale"] == scale), key=lambda r: r["mbps"])
            marker, linestyle = styles[scale]
            axes.plot(
                [row["mbps"] for row in line],
                [100 * row["miou"] for row in line],
                marker=marker,
                linestyle=linestyle,
                color=f"C{index}",
            )
    axes.axhline(100 * hr, color="0.4", linestyle="--")
    handles = [Line2D([], [], color=f"C{index}") for index in range(len(configurations))]
    handles += [Line2D([], [], color="0.2", marker=m, linestyle=ls) for m, ls in styles.values()]
    handles.append(Line2D([], [], color="0.4", linestyle="--"))
    labels = [*configurations, *(f"x{scale}" for scale in styles), "HR"]
    axes.legend(handles, labels, fontsize="small")
    axes.set_xscale("log")
    axes.set_xlabel("bandwidth (Mbps, log scale)")
    axes.set_ylabel("mIoU (%)")
    save_png(figure, path)
