"""Compare restoration methods' accuracy against bandwidth, each from its own knob recording.

    python scripts/compare_knob_recordings.py \
        --recording bilinear=logs/runespoor_record_bilinear/recording \
        --recording asr=logs/demo/runespoor_record/recording --output logs/runespoor_knob_methods

Every recording (``evaluate.py experiment=runespoor/eval/record``, one per restoration method)
must hold the same clips and frames segmented by the same segmenter (identical HR results).
Writes ``fig11_methods.png`` (Runespoor's Fig. 11: mIoU against Mbps, one colour per method, one
marker per scale) and ``knobs_methods.md`` (every method's configurations: Mbps, mIoU, relative
to HR) into ``--output``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgecloud.metrics.knob_summary import (
    check_same_frames,
    knob_comparison_markdown,
    knob_rows,
    plot_methods_vs_bandwidth,
)
from edgecloud.recording.knobs import KnobRecording


def labelled_path(text: str) -> tuple[str, Path]:
    """``LABEL=PATH`` as ``(label, path)``."""
    label, separator, path = text.partition("=")
    if not separator or not label or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=PATH, got {text!r}")
    return label, Path(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recording",
        type=labelled_path,
        action="append",
        required=True,
        metavar="LABEL=PATH",
        help="a method's label and its knob recording directory (repeat for every method)",
    )
    parser.add_argument("--output", type=Path, required=True, help="directory to write into")
    args = parser.parse_args(argv)
    labels = [label for label, _ in args.recording]
    if len(set(labels)) != len(labels):
        parser.error(f"--recording labels must be distinct, got {labels}")
    try:
        recordings = {label: KnobRecording.open(path) for label, path in args.recording}
        check_same_frames(list(recordings.values()))
        rows = {label: knob_rows(recording) for label, recording in recordings.items()}
    except ValueError as error:  # RecordingFormatError included; every message names the path
        parser.error(str(error))
    args.output.mkdir(parents=True, exist_ok=True)
    sources = ", ".join(f"{label}: {path}" for label, path in args.recording)
    title = f"Accuracy against bandwidth per method and configuration ({sources})"
    (args.output / "knobs_methods.md").write_text(knob_comparison_markdown(rows, title=title))
    plot_methods_vs_bandwidth(rows, path=args.output / "fig11_methods.png")
    print(f"wrote {args.output / 'knobs_methods.md'} and {args.output / 'fig11_methods.png'}")


if __name__ == "__main__":
    main()
