"""Accuracy against bandwidth for every configuration of a knob recording (Runespoor's
Table II and Fig. 11 for one restoration method).

Per configuration: mean bytes per frame and the Mbps they cost at the recording's frame rate,
the accumulated mIoU over every frame (summed intersections over summed unions), its ratio to
HR's, and the frame-wise tail (the mean of the worst 10 % per-frame mIoU).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgecloud.metrics.segmentation import accumulated_miou
from edgecloud.recording.knobs import KnobRecording
from edgecloud.sim.figures import _figure, _save

TAIL_FRACTION = 0.1


def knob_rows(recording: KnobRecording) -> list[dict[str, float | str]]:
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


def knob_markdown(rows: list[dict[str, float | str]], *, title: str) -> str:
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


def plot_accuracy_vs_bandwidth(rows: list[dict[str, float | str]], *, path: Path) -> None:
    """mIoU against Mbps (log x), one line per scale across its JPEG qualities (Fig. 11)."""
    figure = _figure(width=5.5, height=3.8)
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
    _save(figure, path)
