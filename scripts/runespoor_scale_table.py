"""Runespoor's Tables II and IV: several scales' method comparisons in one table and figure.

    python scripts/runespoor_scale_table.py --comparison logs/runespoor_compare_x4 \
        --comparison logs/runespoor_compare_x8 --output logs/runespoor_scales

Every ``--comparison`` is the run directory (or ``metrics.json``) of ``evaluate.py
experiment=runespoor/eval/compare runespoor.scale=<s> ...`` at one scale, all with the same
segmenter, JPEG quality and frames. Writes ``table2.md`` (mIoU, class-wise tail raw and over
HR's, PSNR and SSIM of every method at every scale) and ``table2.png`` into ``--output``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgecloud.metrics.scale_table import (
    plot_scales,
    read_comparisons,
    scale_rows,
    scale_table_markdown,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--comparison",
        type=Path,
        action="append",
        required=True,
        help="a comparison run directory or its metrics.json (repeat for every scale)",
    )
    parser.add_argument("--output", type=Path, required=True, help="directory to write into")
    args = parser.parse_args(argv)
    try:
        comparisons = read_comparisons(args.comparison)
    except ValueError as error:  # every message names the file
        parser.error(str(error))
    rows = scale_rows(comparisons)
    quality = comparisons[0].knobs.quality
    title = (
        f"Restoration methods at every scale (JPEG quality {quality}, {comparisons[0].segmenter})"
    )
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "table2.md").write_text(scale_table_markdown(rows, title=title))
    plot_scales(rows, path=args.output / "table2.png")
    print(f"wrote {args.output / 'table2.md'} and {args.output / 'table2.png'}")


if __name__ == "__main__":
    main()
