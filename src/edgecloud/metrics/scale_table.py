"""Runespoor's Tables II and IV: the restoration methods' comparison at every scale, side by side.

Each scale is its own comparison run (``evaluate.py experiment=runespoor/eval/compare
runespoor.scale=<s>`` with that scale's SR checkpoints), which writes ``metrics.json``
(:mod:`edgecloud.cli.evaluate_segmentation`). :func:`read_comparisons` loads several of them and
checks that they can share a table: the same segmenter, JPEG quality and number of frames, one
run per scale. :func:`scale_rows` flattens them into one row per (scale, method) with the
overall mIoU, the class-wise tail (mean IoU of that scale's tail classes, raw and over HR's), and
PSNR/SSIM, which :func:`scale_table_markdown` and :func:`plot_scales` present.

The tail classes are chosen per scale, on that scale's baseline, as the paper's Table II does;
HR's numbers are the same in every run (the original frames) and appear once per scale.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecloud.data.degradation import Knobs
from edgecloud.metrics.method_comparison import REFERENCE
from edgecloud.sim.figures import new_figure, require_items, save_png

METHOD_ORDER = ("bilinear", "bicubic", "sr", "cloudseg", "asr")
"""Rows' order within a scale, from plain interpolation to ASR (``metrics.json`` keeps its keys
sorted); other methods follow alphabetically, then HR."""

COLUMNS = ("mIoU", "tail_mIoU", "tail_normalized", "psnr", "ssim")
"""The scores each row carries (keys of a comparison's method row)."""


@dataclass(frozen=True)
class ScaleComparison:
    """One comparison run: where it was read from, its configuration and its method rows."""

    path: Path
    knobs: Knobs
    segmenter: str
    methods: Mapping[str, Mapping[str, object]]


def _read_one(path: Path) -> ScaleComparison:
    metrics = path / "metrics.json" if path.is_dir() else path
    try:
        report = json.loads(metrics.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{metrics}: not a readable comparison metrics.json ({error})") from None
    missing = [key for key in ("knobs", "segmenter", "methods") if key not in report]
    if missing:
        raise ValueError(f"{metrics}: not a comparison's metrics.json (no {', '.join(missing)})")
    if REFERENCE not in report["methods"]:
        raise ValueError(f"{metrics}: the comparison has no {REFERENCE!r} row")
    try:
        knobs = Knobs.from_name(report["knobs"])
    except ValueError as error:
        raise ValueError(f"{metrics}: {error}") from None
    return ScaleComparison(
        path=metrics, knobs=knobs, segmenter=report["segmenter"], methods=report["methods"]
    )


def read_comparisons(paths: Sequence[Path]) -> list[ScaleComparison]:
    """The comparisons of ``paths`` (run directories or their ``metrics.json``), sorted by
    scale. Raises ``ValueError`` naming the file when one is unreadable, or when two disagree
    on the segmenter, the JPEG quality or the frames scored, or share a scale."""
    require_items(paths, what="paths")
    comparisons = sorted((_read_one(Path(path)) for path in paths), key=lambda c: c.knobs.scale)
    first = comparisons[0]
    seen: dict[int, Path] = {}
    for comparison in comparisons:
        if comparison.knobs.scale in seen:
            raise ValueError(
                f"{comparison.path} and {seen[comparison.knobs.scale]} are both at "
                f"x{comparison.knobs.scale}: one comparison per scale"
            )
        seen[comparison.knobs.scale] = comparison.path
        for what, ours, theirs in (
            ("segmenter", comparison.segmenter, first.segmenter),
            ("JPEG quality", comparison.knobs.quality, first.knobs.quality),
            (
                "number of frames",
                comparison.methods[REFERENCE]["frames"],
                first.methods[REFERENCE]["frames"],
            ),
        ):
            if ours != theirs:
                raise ValueError(
                    f"{comparison.path}: {what} {ours!r} differs from {first.path}'s {theirs!r}"
                )
    return comparisons


def scale_rows(comparisons: Sequence[ScaleComparison]) -> list[dict[str, object]]:
    """One row per scale and method (methods in :data:`METHOD_ORDER`, HR last), with
    :data:`COLUMNS` and the scale's tail classes."""

    def order(name: str) -> tuple[int, str]:
        if name == REFERENCE:
            return len(METHOD_ORDER) + 1, name
        return (METHOD_ORDER.index(name) if name in METHOD_ORDER else len(METHOD_ORDER)), name

    rows = []
    for comparison in comparisons:
        names = sorted(comparison.methods, key=order)
        for name in names:
            method = comparison.methods[name]
            row: dict[str, object] = {"scale": comparison.knobs.scale, "method": name}
            row.update({key: _score(method.get(key)) for key in COLUMNS})
            row["tail_classes"] = list(method["tail_classes"])
            rows.append(row)
    return rows


def _score(value: object) -> float:
    """A score as a float; missing (HR's PSNR) or null (JSON's NaN) read NaN."""
    return float("nan") if value is None else float(value)


def scale_table_markdown(rows: Sequence[Mapping[str, object]], *, title: str) -> str:
    """The rows as Tables II and IV in one Markdown table (percent; PSNR in dB)."""

    def cell(value: float, scale: float, digits: int) -> str:
        return "—" if not np.isfinite(value) else f"{scale * value:.{digits}f}"

    lines = [
        f"# {title}",
        "",
        "| scale | method | mIoU % | tail mIoU % | tail / HR | PSNR dB | SSIM |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| x{row['scale']} | {row['method']} | {cell(row['mIoU'], 100, 2)} "
            f"| {cell(row['tail_mIoU'], 100, 2)} | {cell(row['tail_normalized'], 1, 2)} "
            f"| {cell(row['psnr'], 1, 2)} | {cell(row['ssim'], 1, 3)} |"
        )
    tails = {row["scale"]: row["tail_classes"] for row in rows}
    lines += ["", "Tail classes (worst half by IoU over HR's on the baseline), per scale:", ""]
    lines += [f"- x{scale}: {', '.join(classes) or '(none)'}" for scale, classes in tails.items()]
    return "\n".join(lines) + "\n"


def plot_scales(rows: Sequence[Mapping[str, object]], *, path: Path) -> None:
    """mIoU and normalised class-wise tail accuracy against the scale, one line per method
    (HR's mIoU dashed): how each method degrades as frames are sent smaller."""
    require_items(rows, what="rows")
    figure = new_figure(width=8.0, height=3.4)
    overall, tail = figure.subplots(1, 2)
    methods = list(dict.fromkeys(row["method"] for row in rows if row["method"] != REFERENCE))
    for index, method in enumerate(methods):
        line = [row for row in rows if row["method"] == method]
        scales = [row["scale"] for row in line]
        style = {"marker": "o", "color": f"C{index}", "label": method}
        overall.plot(scales, [100 * row["mIoU"] for row in line], **style)
        tail.plot(scales, [row["tail_normalized"] for row in line], **style)
    hr = [row for row in rows if row["method"] == REFERENCE]
    overall.plot(
        [row["scale"] for row in hr],
        [100 * row["mIoU"] for row in hr],
        color="0.4",
        linestyle="--",
        label="HR",
    )
    tail.axhline(1.0, color="0.4", linestyle="--")
    scales = sorted({row["scale"] for row in rows})
    for axes, label in ((overall, "mIoU (%)"), (tail, "tail mIoU / HR's")):
        axes.set_xticks(scales, [f"x{scale}" for scale in scales])
        axes.set_xlabel("downscaling")
        axes.set_ylabel(label)
    overall.legend(fontsize="small")
    save_png(figure, path)
