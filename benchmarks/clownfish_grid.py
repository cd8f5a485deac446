"""Clownfish Fig. 7 grid speed: every fusion method x filter interval x lag over a PKU-MMD-sized
test set, in one process.

Builds a seeded synthetic recording in memory (:mod:`edgecloud.sim.clownfish.synthetic`): by
default 132 videos (the paper's cross-subject test split) of 6,000 frames (200 s at 30 fps),
51 actions, 16-frame windows every 4 frames, i.e. 1,497 windows per video and 197,604 in all.
Action segments alternate with background; the local model's probabilities are noisier than
the remote model's; SimiNet scores dip at context changes. Then it times
:func:`edgecloud.sim.clownfish.ideal.run_ideal` over n_w 1-10 x lag 0, 1, 2, 4 x the four
fusion methods (160 configurations, 31.6 M fused windows), i.e. exactly what
``python simulate.py experiment=clownfish/sim/fig7_grid`` computes after loading the recording:
the filter selections and traffic, one batched fusion per method and the per-frame scoring of
every configuration.

numba compiles the fusion kernel on first use (then caches it on disk); a small warm-up run
is timed separately so the grid time is the steady state. The target is under 60 s on the
project's shared 2-core machine.

    .venv/bin/python benchmarks/clownfish_grid.py                      # full size
    .venv/bin/python benchmarks/clownfish_grid.py --videos 4 --frames 600   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "clownfish_grid.json"
TARGET_S = 60.0
METHODS = ("clownfish_siminet", "clownfish_cosine", "clownfish_fixma", "clownfish_optsim")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=132)
    parser.add_argument("--frames", type=int, default=6000, help="frames per video")
    parser.add_argument("--classes", type=int, default=51)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--intervals", type=int, nargs="+", default=list(range(1, 11)))
    parser.add_argument("--lags", type=int, nargs="+", default=[0, 1, 2, 4])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument(
        "--filters",
        nargs="+",
        choices=("periodic", "context_aware"),
        default=["periodic", "context_aware"],
        help="time the grid with each Filter (Fig. 7 uses periodic)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="grid runs per filter (best kept)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    from edgecloud.sim.clownfish.ideal import run_ideal
    from edgecloud.sim.clownfish.policy import ClownfishPolicy
    from edgecloud.sim.clownfish.synthetic import SyntheticSettings, synthetic_sequences

    settings = SyntheticSettings(num_frames=args.frames, num_actions=args.classes)
    started = time.perf_counter()
    sequences = synthetic_sequences(count=args.videos, seed=args.seed, settings=settings)
    generate_s = time.perf_counter() - started
    policy = ClownfishPolicy()
    common = {
        "policy": policy,
        "methods": args.methods,
        "class_offset": 1,
        "header_bytes": 64,
        "skip_frames": 8,
        "actions_only": True,
    }
    started = time.perf_counter()
    run_ideal(sequences[:1], intervals=[6], lags=[1], filter_kind="periodic", **common)
    warmup_s = time.perf_counter() - started

    windows = sum(s.num_windows for s in sequences)
    configurations = len(args.methods) * len(args.intervals) * len(args.lags)
    grids: dict[str, Any] = {}
    for filter_kind in args.filters:
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            result = run_ideal(
                sequences,
                intervals=args.intervals,
                lags=args.lags,
                filter_kind=filter_kind,
                **common,
            )
            times.append(time.perf_counter() - started)
        best = min(times)
        pick = {(r.method, r.interval, r.lag): r for r in result.rows}
        grids[filter_kind] = {
            "times_s": times,
            "best_s": best,
            "fused_windows_per_s": windows * configurations / best,
            "meets_target": best < TARGET_S,
            "accuracy_nw6": {
                f"{method}/lag{lag}": pick[method, 6, lag].accuracy
                for method in args.methods
                for lag in args.lags
                if (method, 6, lag) in pick
            },
            "frame_reduction": {
                str(interval): pick[args.methods[0], interval, args.lags[0]].frame_reduction
                for interval in args.intervals
            },
            "references": {name: value[0] for name, value in result.references.items()},
        }
    from edgecloud.utils.machine import describe_machine

    report = {
        "benchmark": "clownfish_grid",
        "config": {
            "videos": args.videos,
            "frames_per_video": args.frames,
            "classes": args.classes,
            "seed": args.seed,
            "intervals": args.intervals,
            "lags": args.lags,
            "methods": args.methods,
            "repeats": args.repeats,
        },
        "windows": windows,
        "configurations": configurations,
        "fused_windows": windows * configurations,
        "target_s": TARGET_S,
        "generate_s": generate_s,
        "warmup_s": warmup_s,
        "grids": grids,
        "machine": describe_machine(["numpy", "numba", "scipy"]),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    print(f"\nwrote {args.output}")
    return report


def markdown_table(report: dict[str, Any]) -> str:
    config = report["config"]
    lines = [
        f"Fig. 7 grid: {config['videos']} videos x {config['frames_per_video']} frames "
        f"({report['windows']:,} windows), {report['configurations']} configurations "
        f"({report['fused_windows']:,} fused windows); synthetic data in "
        f"{report['generate_s']:.1f} s, warm-up {report['warmup_s']:.1f} s",
        "",
        f"| filter | grid (s) | fused windows/s | < {report['target_s']:.0f} s |",
        "| --- | ---: | ---: | :---: |",
    ]
    for name, grid in report["grids"].items():
        lines.append(
            f"| {name} | {grid['best_s']:.1f} | {grid['fused_windows_per_s']:,.0f} | "
            f"{'yes' if grid['meets_target'] else 'no'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
