"""Inference latency of a detector per batch size, written as a simulator compute profile.

The simulator's model server takes its batch latency from a compute profile; this script
measures one on the machine it runs on and writes the file ``ComputeProfile.from_benchmark``
reads (format in ``edgecloud.sim.compute``):

    .venv/bin/python benchmarks/inference_latency.py --model tiny_cloud --batch-sizes 1 2 3 4
    .venv/bin/python benchmarks/inference_latency.py --model frcnn_r50_fpn_v2 --device cuda
    python simulate.py experiment=react/sim/scalability \\
        compute@scenario.server_profile=from_benchmark \\
        scenario.server_profile.file=benchmarks/results/inference_latency_cpu.json \\
        scenario.server_profile.model=tiny_cloud scenario.server_profile.device=cpu

Each batch holds random frames of the model's configured input size (latency of these
detectors depends on the number of boxes only through NMS, a small share). Calls are timed one
by one after ``--warmup`` untimed calls, synchronising CUDA around each, and every timed call
becomes one latency sample.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from edgecloud.cli.evaluate import synchronize
from edgecloud.utils.config import register_resolvers
from edgecloud.utils.machine import describe_machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"


def build_model(name: str) -> tuple[torch.nn.Module, tuple[int, int]]:
    """The detector of ``configs/model/<name>.yaml`` (random weights) and its frame size
    ``(height, width)`` (the synthetic world's 360x640)."""
    os.environ.setdefault("PROJECT_ROOT", str(ROOT))
    register_resolvers()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "configs")):
        cfg = compose("evaluate", overrides=[f"model={name}", "ckpt_path=unused"])
    return instantiate(cfg.model.net).eval(), (360, 640)


@torch.inference_mode()
def measure(
    net: torch.nn.Module,
    *,
    frame_size: tuple[int, int],
    batch_size: int,
    repeats: int,
    warmup: int,
    device: torch.device,
    seed: int,
) -> list[float]:
    """Seconds per call of ``net`` on a batch of ``batch_size`` random frames."""
    generator = torch.Generator().manual_seed(seed)
    images = [torch.rand(3, *frame_size, generator=generator).to(device) for _ in range(batch_size)]
    for _ in range(warmup):
        net(images)
    latencies = []
    for _ in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        net(images)
        synchronize(device)
        latencies.append(time.perf_counter() - started)
    return latencies


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny_cloud", help="a configs/model/ name")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if any(size < 1 for size in args.batch_sizes) or args.repeats < 1 or args.warmup < 0:
        parser.error("batch sizes and repeats must be positive, warmup non-negative")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    net, frame_size = build_model(args.model)
    net.to(device)
    profiles = []
    for batch_size in args.batch_sizes:
        latencies = measure(
            net,
            frame_size=frame_size,
            batch_size=batch_size,
            repeats=args.repeats,
            warmup=args.warmup,
            device=device,
            seed=args.seed,
        )
        profiles.append(
            {
                "model": args.model,
                "device": device.type,
                "batch_size": batch_size,
                "latency_s": latencies,
            }
        )
        median = sorted(latencies)[len(latencies) // 2]
        print(f"{args.model} on {device.type}, batch {batch_size}: median {median * 1e3:.1f} ms")
    report = {
        "benchmark": "inference_latency",
        "machine": describe_machine(("torch", "torchvision")),
        "frame_size": list(frame_size),
        "profiles": profiles,
    }
    output = args.output or RESULTS_DIR / f"inference_latency_{device.type}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"profile written to {output}")
    return report


if __name__ == "__main__":
    main()
