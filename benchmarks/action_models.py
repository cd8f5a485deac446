"""Step times of Clownfish's action models: latency per window and training steps.

The models (random weights, 51 classes as PKU-MMD):

* ``r3d18_local``: the paper's local (edge) model, 3D ResNet-18 with type-A shortcuts
  (``resnet3d(depth=18, shortcut_type="A")``, 33M parameters);
* ``rx101_remote``: the paper's remote (cloud) model, 3D ResNeXt-101 32x with type-B shortcuts
  (``resnext3d(depth=101, cardinality=32, shortcut_type="B")``, 48M parameters);
* ``tiny_local`` and ``tiny_remote``: the CPU-sized stand-ins, the ``net`` of
  ``configs/model/<name>.yaml`` instantiated as the config says, behind the resize to the config's
  ``input_size`` that ``ActionRecognitionModule`` applies (tiny_local sees 56x56 clips; the
  resize is part of the timed call, as in the module);
* ``siminet_512`` and ``siminet_tiny``: SimiNet, 2F -> 1024 -> 1024 -> 1, on the features of the
  paper-size local model (F=512) and of tiny_local (F = its feature dimension).

For each model the script measures

* **latency per window**: batch 1 (one 3x16x112x112 window, or one pair of feature vectors
  for SimiNet), eval mode under ``torch.inference_mode``, ``--warmup`` untimed calls and then
  timed calls one by one: median and p95;
* **a training step**: ``zero_grad``, forward, loss (cross-entropy on random labels, BCE for
  SimiNet), backward, SGD step, all parameters trained, in train mode; median seconds per step
  and clips/s. CPU batches: 8 for the tiny models, 2 for the paper-size ones, 16 (the paper's
  SimiNet batch) for SimiNet. On CUDA batches 16 and 32 are measured too.

Every measurement runs ``--warmup`` untimed calls, then times as many calls as fit in its time
budget (``--latency-budget-s``, ``--train-budget-s``), within ``--min-repeats`` ..
``--max-repeats``; the JSON keeps every sample. On CUDA each call is bracketed by
``torch.cuda.synchronize``. Without a GPU ``--device cuda`` prints why and writes nothing.

    nice .venv/bin/python benchmarks/action_models.py                  # CPU, ~100 s
    .venv/bin/python benchmarks/action_models.py --quick               # a few seconds
    .venv/bin/python benchmarks/action_models.py --device cuda --threads 4

On a shared CPU keep the default ``--threads 1`` (see ``training_throughput.py``: two OpenMP
threads on two busy cores wait on each other).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn
from torch.nn import functional as F

from edgecloud.cli.evaluate import synchronize
from edgecloud.models.resnet3d import STAGES, ResNet3d, resnet3d, resnext3d, set_trainable_from
from edgecloud.models.siminet import siminet
from edgecloud.tasks.action import resize_clips
from edgecloud.utils.config import register_resolvers
from edgecloud.utils.machine import describe_machine, describe_source

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
MODEL_CONFIGS = REPO_ROOT / "configs" / "model"

MODELS = ("r3d18_local", "rx101_remote", "tiny_local", "tiny_remote", "siminet_512", "siminet_tiny")
PAPER_SIZE = ("r3d18_local", "rx101_remote")
# Training batch sizes on CPU; CUDA measures these and CUDA_EXTRA_BATCHES.
CPU_TRAIN_BATCH = {
    "r3d18_local": 2,
    "rx101_remote": 2,
    "tiny_local": 8,
    "tiny_remote": 8,
    "siminet_512": 16,
    "siminet_tiny": 16,
}
CUDA_EXTRA_BATCHES = (16, 32)
# SGD as the paper trains: lr 0.1 for the 3D CNNs, 1e-3 for SimiNet; momentum 0.9, wd 1e-3.
ACTION_LR, SIMINET_LR, MOMENTUM, WEIGHT_DECAY = 0.1, 1e-3, 0.9, 1e-3

FULL = {
    "models": list(MODELS),
    "frames": 16,
    "clip_size": 112,
    "warmup": 2,
    "min_repeats": 5,
    "max_repeats": 200,
    "latency_budget_s": 8.0,
    "train_budget_s": 12.0,
    "train_batch": None,
}
QUICK = FULL | {
    "models": ["tiny_local", "tiny_remote", "siminet_tiny"],
    "frames": 8,
    "clip_size": 64,
    "warmup": 1,
    "min_repeats": 2,
    "max_repeats": 2,
    "latency_budget_s": 0.0,
    "train_budget_s": 0.0,
    "train_batch": 2,
}


@dataclass
class Bench:
    """A model ready to time: ``forward(batch)`` runs it on inputs from ``make_inputs``."""

    name: str
    description: str
    net: nn.Module
    forward: Callable[[tuple[torch.Tensor, ...]], torch.Tensor]
    make_inputs: Callable[[int, torch.Generator], tuple[torch.Tensor, ...]]
    loss: Callable[[torch.Tensor, torch.Generator], torch.Tensor]
    lr: float
    input_shape: list[int]
    details: dict[str, Any]


def config_net(name: str, num_classes: int) -> tuple[ResNet3d, int | None]:
    """The ``net`` of ``configs/model/<name>.yaml`` (its class count set to ``num_classes``) and
    the config's ``input_size``."""
    register_resolvers()
    cfg = OmegaConf.load(MODEL_CONFIGS / f"{name}.yaml")
    cfg.net.num_classes = num_classes
    return instantiate(cfg.net), cfg.get("input_size")


def action_bench(
    name: str,
    *,
    num_classes: int,
    frames: int,
    clip_size: int,
    trainable_from: str,
    device: torch.device,
) -> Bench:
    if name == "r3d18_local":
        net = resnet3d(depth=18, shortcut_type="A", num_classes=num_classes)
        input_size, description = None, "3D ResNet-18, shortcut A (paper's local model)"
    elif name == "rx101_remote":
        net = resnext3d(depth=101, cardinality=32, shortcut_type="B", num_classes=num_classes)
        input_size, description = None, "3D ResNeXt-101 32x, shortcut B (paper's remote model)"
    else:
        net, input_size = config_net(name, num_classes)
        description = f"configs/model/{name}.yaml net"
    set_trainable_from(net, trainable_from)
    net.to(device)
    seen = clip_size if input_size is None else input_size

    def forward(inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return net(resize_clips(inputs[0], input_size))

    def make_inputs(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        clips = torch.rand(batch, 3, frames, clip_size, clip_size, generator=generator)
        return (clips.to(device),)

    def loss(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        labels = torch.randint(num_classes, (logits.shape[0],), generator=generator)
        return F.cross_entropy(logits, labels.to(device))

    return Bench(
        name=name,
        description=description,
        net=net,
        forward=forward,
        make_inputs=make_inputs,
        loss=loss,
        lr=ACTION_LR,
        input_shape=[3, frames, clip_size, clip_size],
        details={
            "num_classes": num_classes,
            "feature_dim": net.feature_dim,
            "input_size": input_size,
            "trainable_from": trainable_from,
            "network_input_shape": [3, frames, seen, seen],
        },
    )


def siminet_bench(name: str, *, feature_dim: int, device: torch.device) -> Bench:
    net = siminet(feature_dim=feature_dim).to(device)

    def forward(inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return net(*inputs)

    def make_inputs(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        pair = torch.randn(2, batch, feature_dim, generator=generator).to(device)
        return pair[0], pair[1]

    def loss(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        labels = torch.randint(2, logits.shape, generator=generator).float()
        return F.binary_cross_entropy_with_logits(logits, labels.to(device))

    return Bench(
        name=name,
        description=f"SimiNet {2 * feature_dim}->1024->1024->1",
        net=net,
        forward=forward,
        make_inputs=make_inputs,
        loss=loss,
        lr=SIMINET_LR,
        input_shape=[2, feature_dim],
        details={"feature_dim": feature_dim, "hidden_dim": net.hidden_dim},
    )


def build_bench(name: str, args: argparse.Namespace, device: torch.device) -> Bench:
    if name.startswith("siminet_"):
        if name == "siminet_512":
            feature_dim = 512
        else:  # the tiny local model's feature dimension, read from its config
            feature_dim = config_net("tiny_local", args.num_classes)[0].feature_dim
        return siminet_bench(name, feature_dim=feature_dim, device=device)
    return action_bench(
        name,
        num_classes=args.num_classes,
        frames=args.frames,
        clip_size=args.clip_size,
        trainable_from=args.trainable_from,
        device=device,
    )


def timed_calls(
    call: Callable[[], Any], *, device: torch.device, args: argparse.Namespace, budget_s: float
) -> list[float]:
    """Seconds of each timed ``call()``: after ``args.warmup`` untimed calls, as many as fit in
    ``budget_s`` at the last warm-up call's pace, within the repeat bounds."""
    estimate = None
    for _ in range(args.warmup):
        synchronize(device)
        started = time.perf_counter()
        call()
        synchronize(device)
        estimate = time.perf_counter() - started
    repeats = args.min_repeats
    if estimate:
        repeats = max(args.min_repeats, min(args.max_repeats, math.ceil(budget_s / estimate)))
    samples = []
    for _ in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        call()
        synchronize(device)
        samples.append(time.perf_counter() - started)
    return samples


def summary_ms(samples: Sequence[float]) -> dict[str, Any]:
    ms = np.asarray(samples) * 1e3
    return {
        "repeats": len(samples),
        "median_ms": float(np.median(ms)),
        "p95_ms": float(np.percentile(ms, 95)),
        "min_ms": float(ms.min()),
        "samples_s": list(samples),
    }


def measure_latency(
    bench: Bench, *, device: torch.device, args: argparse.Namespace
) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(args.seed)
    inputs = bench.make_inputs(1, generator)
    bench.net.eval()
    with torch.inference_mode():
        result = summary_ms(
            timed_calls(
                lambda: bench.forward(inputs),
                device=device,
                args=args,
                budget_s=args.latency_budget_s,
            )
        )
    result["windows_per_s"] = 1e3 / result["median_ms"]
    return result


def measure_training(
    bench: Bench, *, batch: int, device: torch.device, args: argparse.Namespace
) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(args.seed)
    inputs = bench.make_inputs(batch, generator)
    bench.net.train()
    optimizer = torch.optim.SGD(
        [p for p in bench.net.parameters() if p.requires_grad],
        lr=bench.lr,
        momentum=MOMENTUM,
        weight_decay=WEIGHT_DECAY,
    )
    losses: list[float] = []

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = bench.loss(bench.forward(inputs), generator)
        loss.backward()
        optimizer.step()
        if not losses:
            losses.append(loss.item())

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    result = summary_ms(timed_calls(step, device=device, args=args, budget_s=args.train_budget_s))
    result |= {
        "batch_size": batch,
        "clips_per_s": batch * 1e3 / result["median_ms"],
        "first_loss": losses[0],
        "peak_memory_bytes": torch.cuda.max_memory_allocated(device)
        if device.type == "cuda"
        else None,
    }
    bench.net.zero_grad(set_to_none=True)
    return result


def forward_flops(bench: Bench) -> int | None:
    """FLOPs (2 per multiply-add) of one batch-1 forward, by ``torch.utils.flop_counter``."""
    try:
        from torch.utils.flop_counter import FlopCounterMode
    except ImportError:  # pragma: no cover - old torch
        return None
    inputs = bench.make_inputs(1, torch.Generator().manual_seed(0))
    bench.net.eval()
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        bench.forward(inputs)
    return int(counter.get_total_flops())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny models and sizes (a smoke run)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=None)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (skipped without a GPU)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--frames", type=int, default=None, help="frames per window (16)")
    parser.add_argument("--clip-size", type=int, default=None, help="window side in pixels (112)")
    parser.add_argument("--num-classes", type=int, default=51)
    parser.add_argument("--warmup", type=int, default=None, help="untimed calls per measurement")
    parser.add_argument("--min-repeats", type=int, default=None)
    parser.add_argument("--max-repeats", type=int, default=None)
    parser.add_argument(
        "--latency-budget-s", type=float, default=None, help="timed seconds per latency (8)"
    )
    parser.add_argument(
        "--train-budget-s", type=float, default=None, help="timed seconds per training batch (12)"
    )
    parser.add_argument(
        "--train-batch",
        type=int,
        default=None,
        help="one training batch size for every model (default: per model, see CPU_TRAIN_BATCH)",
    )
    parser.add_argument(
        "--trainable-from",
        choices=STAGES,
        default="conv1",
        help="first trained stage of the 3D CNNs (conv1: everything; conv5: the paper's "
        "fine-tuning of conv5_x and fc)",
    )
    parser.add_argument(
        "--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument(
        "--source-commit", help="commit to record when the tree has no .git (a git archive)"
    )
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.threads < 1 or args.frames < 1 or args.clip_size < 1 or args.num_classes < 1:
        parser.error("threads, frames, clip size and classes must be positive")
    if args.warmup < 0 or not 1 <= args.min_repeats <= args.max_repeats:
        parser.error("need warmup >= 0 and 1 <= min-repeats <= max-repeats")
    if args.train_batch is not None and args.train_batch < 1:
        parser.error("--train-batch must be positive")
    return args


def train_batches(name: str, args: argparse.Namespace, device: torch.device) -> list[int]:
    first = args.train_batch or CPU_TRAIN_BATCH[name]
    if device.type != "cuda":
        return [first]
    return sorted({first, *CUDA_EXTRA_BATCHES})


def markdown_table(results: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| model | params (M) | GFLOPs/window | input | latency median (ms) | p95 (ms) "
        "| train batch | ms/step | clips/s |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        latency = result["latency"]
        flops = result["forward_gflops"]
        for index, train in enumerate(result["training"]):
            step = (
                f"{train['median_ms']:.1f} | {train['clips_per_s']:.1f}"
                if "error" not in train
                else f"{train['error']} |"
            )
            head = (
                f"| {result['model']} | {result['parameters'] / 1e6:.2f} "
                f"| {'' if flops is None else f'{flops:.3g}'} "
                f"| {'x'.join(map(str, result['network_input_shape']))} "
                f"| {latency['median_ms']:.2f} | {latency['p95_ms']:.2f} "
                if index == 0
                else "| | | | | | "
            )
            lines.append(f"{head}| {train['batch_size']} | {step} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available: skipping the CUDA benchmark (nothing written)")
        return {"benchmark": "action_models", "skipped": "cuda not available"}
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    torch.manual_seed(args.seed)
    results = []
    for name in args.models:
        bench = build_bench(name, args, device)
        flops = forward_flops(bench)
        latency = measure_latency(bench, device=device, args=args)
        print(
            f"{name}: latency median {latency['median_ms']:.2f} ms, "
            f"p95 {latency['p95_ms']:.2f} ms ({latency['repeats']} calls)",
            flush=True,
        )
        training = []
        for batch in train_batches(name, args, device):
            try:
                train = measure_training(bench, batch=batch, device=device, args=args)
            except torch.cuda.OutOfMemoryError:
                bench.net.zero_grad(set_to_none=True)
                torch.cuda.empty_cache()
                print(f"{name}: training batch {batch}: out of memory", flush=True)
                training.append({"batch_size": batch, "error": "out of memory"})
                continue
            print(
                f"{name}: training batch {batch}: {train['median_ms']:.1f} ms/step, "
                f"{train['clips_per_s']:.1f} clips/s ({train['repeats']} steps)",
                flush=True,
            )
            training.append(train)
        results.append(
            {
                "model": name,
                "description": bench.description,
                "parameters": sum(p.numel() for p in bench.net.parameters()),
                "forward_gflops": None if flops is None else flops / 1e9,
                "input_shape": bench.input_shape,
                "network_input_shape": bench.details.get("network_input_shape", bench.input_shape),
                "details": bench.details,
                "latency": latency,
                "training": training,
            }
        )
        del bench
        if device.type == "cuda":
            torch.cuda.empty_cache()
    machine = describe_machine(("torch", "numpy", "hydra-core"))
    if device.type == "cuda":
        machine["gpu"] = torch.cuda.get_device_name(device)
        machine["cuda"] = torch.version.cuda
        machine["cudnn"] = torch.backends.cudnn.version()
    report = {
        "benchmark": "action_models",
        "device": device.type,
        "quick": args.quick,
        "settings": {
            key: getattr(args, key)
            for key in (
                *FULL,
                "threads",
                "num_classes",
                "trainable_from",
                "cudnn_benchmark",
                "seed",
            )
        }
        | {"optimizer": {"momentum": MOMENTUM, "weight_decay": WEIGHT_DECAY}},
        "machine": machine,
        "source": describe_source(REPO_ROOT, commit=args.source_commit),
        "results": results,
    }
    table = markdown_table(results)
    print(table)
    output = args.output or RESULTS_DIR / f"action_models_{device.type}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results written to {output}")
    return report


if __name__ == "__main__":
    main()
