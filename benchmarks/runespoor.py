"""Step times of Runespoor's components: super-resolution, its training steps and the CAC decision.

Three measurements, each with random weights and seeded random inputs:

* **SR inference per frame**: for each ``--scales`` factor, CARN-M and CARN
  (``edgecloud.models.carn.carn_m``/``carn``, single scale) and the bicubic baseline
  (``InterpolationUpsampler(mode="bicubic")``) restore the low-resolution copy of one frame of
  ``--hr-size`` (default the synthetic urban world's 384x192; Cityscapes is 2048 1024), i.e. a
  ``(1, 3, H/scale, W/scale)`` input, area-downscaled from a random frame. The segmentation model
  is timed on the full-resolution frame: the ``net`` of ``configs/model/tiny_segmenter.yaml``,
  composed by Hydra as the training configs compose it, with Cityscapes' 19 train ids. Batch 1,
  eval mode under ``torch.inference_mode``.
* **SR training steps**: one AdamW step of CARN-M (the CPU-sized experiments' SR network) on
  ``--train-batch`` random ``--crop-size`` HR crops, their LR copies area-downscaled by the
  scale, with the optimizer, alpha and beta of ``configs/model/sr_module.yaml``, for the two
  objectives of ``SuperResolutionModule.training_step``: ``reconstruction`` (L1) and
  ``analytics_aware`` (alpha·L1 + beta·``small_region_cross_entropy`` of the frozen segmenter's
  logits on the SR output; the segmenter is in eval mode with ``requires_grad`` off, so the
  gradients flow through it into CARN-M only). The targets are crops of a synthetic label map
  (below) and ``small`` is :func:`~edgecloud.metrics.regions.small_region_mask` of the whole map,
  found before cropping as ``DegradedFrameDataset`` does. Each (scale, objective) starts from
  the same seeded CARN-M.
* **CAC decision cost per frame**, on the CPU whatever ``--device`` is: the server's side,
  :func:`~edgecloud.metrics.regions.small_region_ratio` (small regions under 1% of the frame) of
  a predicted ``uint8`` label map followed by
  :func:`~edgecloud.control.tail_frames.detect_tail_frames` (threshold 1%, the paper's), for
  each ``--cac-sizes`` frame and each ``--downsamples`` stride (the recording's default is 4);
  and the edge's side, :meth:`TailAwareController.observe` + :meth:`~TailAwareController.knobs`
  over 18 made-up profiles of the recording's knob grid (x2, x4, x8 by JPEG quality 40..90), with
  one fixed bandwidth (the cached policy, the steady state) and with a new bandwidth estimate
  every frame (``choose_policy`` runs each time). The label maps stand in for a segmenter's
  prediction: Voronoi cells of large classes (road, building, sky, ...) with ``--blobs``
  rectangles of small classes (poles, signs, people, ...) scattered over them, their sides
  log-uniform between 0.4% and 3% of the frame width so that the map looks alike at every size.

Timing: ``--warmup`` untimed calls, then ``--repeats`` timed calls one by one, each bracketed by
``torch.cuda.synchronize`` on CUDA; medians and 90th percentiles of the wall clock, and medians of
the process's CPU time over the same calls (``time.process_time``), which on a shared CPU leaves
out the time the benchmark waited for a core (on CUDA it is the host's share only). The two
objectives' training steps alternate, one of each per round after ``--train-warmup`` untimed
rounds, so that a shared machine's changing load hits both alike; the analytics objective's
extra cost is also given as the median of the per-round differences. The edge's calls take
microseconds, so each of its samples times ``--edge-calls`` calls in a row. The JSON keeps every
sample.

    nice -n 10 .venv/bin/python benchmarks/runespoor.py        # CPU, a few minutes
    .venv/bin/python benchmarks/runespoor.py --quick           # a few seconds
    .venv/bin/python benchmarks/runespoor.py --device cuda --hr-size 2048 1024

On a shared CPU keep the default ``--threads 1`` (see ``training_throughput.py``: two OpenMP
threads on two busy cores wait on each other); it sets OpenCV's threads too, which the
connected-component search of the CAC uses.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn
from torch.nn import functional as F

from edgecloud.cli.evaluate import synchronize
from edgecloud.control.controller import TailAwareController
from edgecloud.control.profiling import KnobProfile
from edgecloud.control.tail_frames import detect_tail_frames
from edgecloud.data.degradation import Knobs
from edgecloud.metrics.regions import small_region_mask, small_region_ratio
from edgecloud.models.carn import InterpolationUpsampler, carn, carn_m
from edgecloud.tasks.sr_objectives import small_region_cross_entropy
from edgecloud.utils.machine import describe_machine, describe_source

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
CONFIGS = REPO_ROOT / "configs"

NUM_CLASSES = 19  # Cityscapes' train ids
SR_MODELS: dict[str, Callable[[int], nn.Module]] = {
    "bicubic": lambda scale: InterpolationUpsampler(scale=scale, mode="bicubic"),
    "carn_m": lambda scale: carn_m(scale=scale),
    "carn": lambda scale: carn(scale=scale),
}
OBJECTIVES = ("reconstruction", "analytics_aware")
# The paper's thresholds on Cityscapes: a region is small under 1% of the frame, and a frame
# whose small regions cover less than 1% of it is a tail frame.
SMALL_REGION_FRACTION = 0.01
TAIL_THRESHOLD = 0.01
# Synthetic label maps: Voronoi cells of large classes, rectangles of small ones.
# Large: road, sidewalk, building, wall, vegetation, terrain, sky, car. Small: pole, traffic
# light, traffic sign, person, rider, motorcycle, bicycle.
LARGE_CLASSES = (0, 1, 2, 3, 8, 9, 10, 13)
SMALL_CLASSES = (5, 6, 7, 11, 12, 17, 18)
LARGE_REGIONS = 12
BLOB_SIDE_FRACTIONS = (0.004, 0.03)  # of the frame width, log-uniform
# The edge's profiles: the knob recording's grid, bytes for a 2048x1024 camera.
PROFILE_SCALES = (2, 4, 8)
PROFILE_QUALITIES = (40, 50, 60, 70, 80, 90)
PROFILE_PIXELS = 2048 * 1024
FPS = 17.0  # the urban world's frame rate (configs/experiment/runespoor/eval/record.yaml)
FIXED_BANDWIDTH_BPS = 2e6
BANDWIDTH_RANGE_BPS = (0.5e6, 20e6)

FULL = {
    "scales": [2, 4, 8],
    "hr_size": [384, 192],
    "warmup": 3,
    "repeats": 20,
    "train_batch": 16,
    "crop_size": 96,
    "train_warmup": 2,
    "train_repeats": 10,
    "cac_sizes": [(384, 192), (2048, 1024)],
    "downsamples": [1, 2, 4],
    "blobs": 200,
    "cac_warmup": 5,
    "cac_repeats": 100,
    "edge_calls": 1000,
    "edge_repeats": 100,
}
QUICK = FULL | {
    "scales": [2, 4],
    "hr_size": [96, 48],
    "warmup": 1,
    "repeats": 2,
    "train_batch": 2,
    "crop_size": 48,
    "train_warmup": 1,
    "train_repeats": 2,
    "cac_sizes": [(96, 48)],
    "blobs": 20,
    "cac_warmup": 1,
    "cac_repeats": 2,
    "edge_calls": 10,
    "edge_repeats": 2,
}


@dataclass
class Samples:
    """Seconds of each timed sample by the wall clock and in the process's CPU time (all
    threads). On a shared CPU the wall clock also counts the time the process waited for a
    core; the CPU time does not, so it is the steadier of the two there."""

    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    def extend(self, other: Samples) -> None:
        self.wall_s += other.wall_s
        self.cpu_s += other.cpu_s


def timed_calls(
    call: Callable[[], Any],
    *,
    warmup: int,
    repeats: int,
    calls: int = 1,
    device: torch.device,
) -> Samples:
    """``repeats`` timed samples of ``calls`` consecutive ``call()``s each, after ``warmup``
    untimed calls."""
    for _ in range(warmup):
        call()
    samples = Samples()
    for _ in range(repeats):
        synchronize(device)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            call()
        synchronize(device)
        samples.wall_s.append(time.perf_counter() - wall)
        samples.cpu_s.append(time.process_time() - cpu)
    return samples


def summary(samples: Samples, *, calls: int = 1, unit: str = "ms") -> dict[str, Any]:
    """Per call in ``unit`` (ms or us): the wall clock's median, 90th percentile and minimum
    and the CPU time's median and 90th percentile; and the raw samples (seconds per sample of
    ``calls`` calls)."""
    factor = {"ms": 1e3, "us": 1e6}[unit] / calls
    wall, cpu = np.asarray(samples.wall_s) * factor, np.asarray(samples.cpu_s) * factor
    return {
        "repeats": len(wall),
        "calls_per_sample": calls,
        f"median_{unit}": float(np.median(wall)),
        f"p90_{unit}": float(np.percentile(wall, 90)),
        f"min_{unit}": float(wall.min()),
        f"cpu_median_{unit}": float(np.median(cpu)),
        f"cpu_p90_{unit}": float(np.percentile(cpu, 90)),
        "samples_s": samples.wall_s,
        "cpu_samples_s": samples.cpu_s,
    }


def model_configs() -> tuple[DictConfig, DictConfig]:
    """``configs/model/tiny_segmenter.yaml`` and ``configs/model/sr_module.yaml`` composed by
    Hydra (defaults lists followed), the segmenter set to ``NUM_CLASSES`` classes."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIGS)):
        segmenter = compose("model/tiny_segmenter").model
        sr_module = compose("model/sr_module").model
    segmenter.net.num_classes = NUM_CLASSES
    return segmenter, sr_module


def forward_gflops(net: nn.Module, inputs: torch.Tensor) -> float:
    """GFLOPs (2 per multiply-add) of one forward on ``inputs``, by ``torch.utils.flop_counter``
    (interpolation counts as 0)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(inputs)
    return counter.get_total_flops() / 1e9


def measure_inference(
    net: nn.Module, inputs: torch.Tensor, *, args: argparse.Namespace, device: torch.device
) -> dict[str, Any]:
    """Latency of ``net`` on ``inputs`` in eval mode under ``torch.inference_mode``, with the
    network's size and cost."""
    net.eval()
    with torch.inference_mode():
        output_shape = list(net(inputs).shape)
        samples = timed_calls(
            lambda: net(inputs), warmup=args.warmup, repeats=args.repeats, device=device
        )
    return {
        "input_shape": list(inputs.shape),
        "output_shape": output_shape,
        "parameters": sum(p.numel() for p in net.parameters()),
        "forward_gflops": forward_gflops(net, inputs),
        "latency": summary(samples),
    }


def synthetic_label_map(*, width: int, height: int, blobs: int, seed: int) -> np.ndarray:
    """A ``uint8`` ``(height, width)`` train-id map standing in for a segmenter's prediction:
    ``LARGE_REGIONS`` Voronoi cells of large classes, then ``blobs`` rectangles of small classes
    with sides log-uniform in ``BLOB_SIDE_FRACTIONS`` of the width (module docstring)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.ogrid[0:height, 0:width]
    nearest = np.full((height, width), np.inf, dtype=np.float32)
    label_map = np.zeros((height, width), dtype=np.uint8)
    centres = rng.uniform((0, 0), (width, height), size=(LARGE_REGIONS, 2))
    for (cx, cy), value in zip(centres, rng.choice(LARGE_CLASSES, LARGE_REGIONS), strict=True):
        distance = ((xs - cx) ** 2 + (ys - cy) ** 2).astype(np.float32)
        closer = distance < nearest
        nearest[closer] = distance[closer]
        label_map[closer] = value
    low, high = np.log(BLOB_SIDE_FRACTIONS)
    sides = np.maximum(1, np.rint(np.exp(rng.uniform(low, high, (blobs, 2))) * width)).astype(int)
    for (w, h), value in zip(sides, rng.choice(SMALL_CLASSES, blobs), strict=True):
        w, h = min(w, width), min(h, height)
        x, y = rng.integers(0, width - w + 1), rng.integers(0, height - h + 1)
        label_map[y : y + h, x : x + w] = value
    return label_map


def training_batch(
    *, scale: int, args: argparse.Namespace, device: torch.device
) -> dict[str, torch.Tensor]:
    """What ``SuperResolutionModule.training_step`` reads: random HR crops (``image``), their
    area-downscaled copies (``low_res``), crops of a synthetic label map (``target``) and of its
    small-region mask found on the whole map (``small``); seeded."""
    generator = torch.Generator().manual_seed(args.seed)
    width, height = args.hr_size
    crop = args.crop_size
    label_map = synthetic_label_map(width=width, height=height, blobs=args.blobs, seed=args.seed)
    small = small_region_mask(label_map, max_area_fraction=SMALL_REGION_FRACTION)
    tops = torch.randint(0, height - crop + 1, (args.train_batch,), generator=generator)
    lefts = torch.randint(0, width - crop + 1, (args.train_batch,), generator=generator)
    windows = [
        np.s_[top : top + crop, left : left + crop]
        for top, left in zip(tops.tolist(), lefts.tolist(), strict=True)
    ]
    image = torch.rand(args.train_batch, 3, crop, crop, generator=generator)
    batch = {
        "image": image,
        "low_res": F.avg_pool2d(image, scale),
        "target": torch.from_numpy(np.stack([label_map[w] for w in windows]).astype(np.int64)),
        "small": torch.from_numpy(np.stack([small[w] for w in windows])),
    }
    return {key: value.to(device) for key, value in batch.items()}


def sr_training_step(
    *,
    objective: str,
    scale: int,
    batch: dict[str, torch.Tensor],
    segmenter: nn.Module,
    sr_config: DictConfig,
    seed: int,
    device: torch.device,
) -> Callable[[], float]:
    """One AdamW step of a fresh CARN-M seeded with ``seed`` under ``objective``, the loss as
    ``SuperResolutionModule.training_step`` computes it (without its logging); returns the
    step's loss."""
    torch.manual_seed(seed)
    net = carn_m(scale=scale).to(device).train()
    optimizer = instantiate(sr_config.optimizer)(net.parameters())

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        restored = net(batch["low_res"])
        loss = F.l1_loss(restored, batch["image"])
        if objective == "analytics_aware":
            analytics = small_region_cross_entropy(
                segmenter(restored), batch["target"], batch["small"]
            )
            loss = sr_config.alpha * loss + sr_config.beta * analytics
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def measure_training(
    *,
    scale: int,
    segmenter: nn.Module,
    sr_config: DictConfig,
    args: argparse.Namespace,
    device: torch.device,
) -> list[dict[str, Any]]:
    """Seconds per training step of each of ``OBJECTIVES`` at ``scale``, on the same batch
    from the same initial weights. The objectives' steps alternate (one of each per round), so
    a shared machine's changing load hits both alike, and the analytics objective's extra cost
    is the median of the per-round differences."""
    batch = training_batch(scale=scale, args=args, device=device)
    steps = {
        objective: sr_training_step(
            objective=objective,
            scale=scale,
            batch=batch,
            segmenter=segmenter,
            sr_config=sr_config,
            seed=args.seed,
            device=device,
        )
        for objective in OBJECTIVES
    }
    first_losses = {objective: step() for objective, step in steps.items()}
    for _ in range(args.train_warmup - 1):
        for step in steps.values():
            step()
    samples = {objective: Samples() for objective in OBJECTIVES}
    for _ in range(args.train_repeats):
        for objective, step in steps.items():
            samples[objective].extend(timed_calls(step, warmup=0, repeats=1, device=device))
    common = {
        "scale": scale,
        "batch_size": args.train_batch,
        "hr_crop": [args.crop_size, args.crop_size],
        "lr_crop": list(batch["low_res"].shape[-2:]),
        "small_pixel_fraction": float(batch["small"].float().mean()),
    }
    results = [
        common
        | {"objective": objective, "first_loss": first_losses[objective]}
        | {"step": summary(samples[objective])}
        for objective in OBJECTIVES
    ]
    analytics, reconstruction = samples["analytics_aware"], samples["reconstruction"]
    for clock, key in (("wall_s", "median_ms"), ("cpu_s", "cpu_median_ms")):
        extra = np.subtract(getattr(analytics, clock), getattr(reconstruction, clock)) * 1e3
        results[-1][f"extra_over_reconstruction_{key}"] = float(np.median(extra))
    return results


def knob_profiles() -> list[KnobProfile]:
    """Made-up profiles of the recording's knob grid for the edge controller: bytes as a JPEG of
    ``PROFILE_PIXELS / scale²`` pixels at 0.5 to 2 bits per pixel by quality; accuracy falling
    with scale and with quality, on tail frames more steeply with scale and less with quality, so
    the tail configuration trades quality for resolution as the paper's do (at
    ``FIXED_BANDWIDTH_BPS``: x8_q90 standard, x4_q50 tail). Only the lookup is timed."""
    profiles = []
    for scale in PROFILE_SCALES:
        for quality in PROFILE_QUALITIES:
            level = (quality - PROFILE_QUALITIES[0]) / (
                PROFILE_QUALITIES[-1] - PROFILE_QUALITIES[0]
            )
            steps = math.log2(scale)
            profiles.append(
                KnobProfile(
                    knobs=Knobs(scale=scale, quality=quality),
                    bytes_per_frame=PROFILE_PIXELS / scale**2 * (0.5 + 1.5 * level) / 8,
                    ordinary_accuracy=0.75 - 0.03 * steps - 0.06 * (1 - level),
                    tail_accuracy=0.55 - 0.08 * steps - 0.01 * (1 - level),
                )
            )
    return profiles


def measure_server_decision(
    label_map: np.ndarray, *, downsample: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Microseconds per frame of the server's tail-frame signal on ``label_map``."""

    def decide() -> bool:
        ratio = small_region_ratio(
            label_map, max_area_fraction=SMALL_REGION_FRACTION, downsample=downsample
        )
        return bool(detect_tail_frames([ratio], threshold=TAIL_THRESHOLD)[0])

    samples = timed_calls(
        decide, warmup=args.cac_warmup, repeats=args.cac_repeats, device=torch.device("cpu")
    )
    height, width = label_map.shape
    return {
        "hr_size": [width, height],
        "downsample": downsample,
        "searched_size": [math.ceil(width / downsample), math.ceil(height / downsample)],
        "small_region_ratio": small_region_ratio(
            label_map, max_area_fraction=SMALL_REGION_FRACTION, downsample=downsample
        ),
        "tail_frame": decide(),
        "call": summary(samples, unit="us"),
    }


def measure_edge_decision(*, new_bandwidth: bool, args: argparse.Namespace) -> dict[str, Any]:
    """Microseconds per frame of the edge's ``observe`` + ``knobs``, the tail signal drawn at
    random (seeded), the bandwidth fixed or new every frame."""
    profiles = knob_profiles()
    controller = TailAwareController(profiles, fps=FPS)
    rng = np.random.default_rng(args.seed)
    frames = args.cac_warmup + args.edge_repeats * args.edge_calls
    tails = iter(rng.random(frames) < 0.1)
    if new_bandwidth:
        bandwidths = iter(rng.uniform(*BANDWIDTH_RANGE_BPS, frames).tolist())
    else:
        bandwidths = iter([FIXED_BANDWIDTH_BPS] * frames)

    def decide() -> Knobs:
        controller.observe(tail_frame=next(tails))
        return controller.knobs(bandwidth_bps=next(bandwidths))

    samples = timed_calls(
        decide,
        warmup=args.cac_warmup,
        repeats=args.edge_repeats,
        calls=args.edge_calls,
        device=torch.device("cpu"),
    )
    fixed = controller.policy(FIXED_BANDWIDTH_BPS)
    return {
        "bandwidth": "new every frame" if new_bandwidth else f"fixed {FIXED_BANDWIDTH_BPS:g} bps",
        "profiles": len(profiles),
        "fixed_bandwidth_policy": {"standard": fixed.standard.name, "tail": fixed.tail.name},
        "call": summary(samples, calls=args.edge_calls, unit="us"),
    }


def frame_size(text: str) -> tuple[int, int]:
    """``"384x192"`` -> ``(384, 192)``, width then height."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return width, height


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (skipped without a GPU)")
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV CPU threads")
    parser.add_argument("--scales", type=int, nargs="+", default=None, help="SR scales (2 4 8)")
    parser.add_argument(
        "--hr-size",
        type=int,
        nargs=2,
        metavar=("W", "H"),
        default=None,
        help="full-resolution frame of the SR and segmentation timings (384 192)",
    )
    parser.add_argument("--warmup", type=int, default=None, help="untimed inference calls (3)")
    parser.add_argument("--repeats", type=int, default=None, help="timed inference calls (20)")
    parser.add_argument("--train-batch", type=int, default=None, help="HR crops per step (16)")
    parser.add_argument("--crop-size", type=int, default=None, help="HR crop side (96)")
    parser.add_argument(
        "--train-warmup", type=int, default=None, help="untimed steps per objective, >= 1 (2)"
    )
    parser.add_argument("--train-repeats", type=int, default=None, help="timed steps (10)")
    parser.add_argument(
        "--cac-sizes",
        type=frame_size,
        nargs="+",
        default=None,
        help="label-map sizes of the server's decision (384x192 2048x1024)",
    )
    parser.add_argument(
        "--downsamples", type=int, nargs="+", default=None, help="small_region_ratio strides"
    )
    parser.add_argument("--blobs", type=int, default=None, help="small blobs per label map (200)")
    parser.add_argument("--cac-warmup", type=int, default=None, help="untimed decisions (5)")
    parser.add_argument(
        "--cac-repeats", type=int, default=None, help="timed server decisions (100)"
    )
    parser.add_argument(
        "--edge-calls", type=int, default=None, help="edge decisions per timed sample (1000)"
    )
    parser.add_argument("--edge-repeats", type=int, default=None, help="timed edge samples (100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument(
        "--source-commit", help="commit to record when the tree has no .git (a git archive)"
    )
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    counts = (args.threads, args.repeats, args.train_batch, args.train_repeats, args.cac_repeats)
    if min(*counts, args.edge_calls, args.edge_repeats, *args.downsamples) < 1:
        parser.error("threads, repeats, batch, edge calls and downsamples must be positive")
    if min(args.warmup, args.cac_warmup, args.blobs) < 0 or args.train_warmup < 1:
        parser.error("need warm-up counts and blobs >= 0, --train-warmup >= 1")
    width, height = args.hr_size
    if not 0 < args.crop_size <= min(width, height):
        parser.error(f"--crop-size must fit the {width}x{height} frame")
    for scale in args.scales:
        if scale < 2 or width % scale or height % scale or args.crop_size % scale:
            parser.error(f"scale {scale} must be >= 2 and divide --hr-size and --crop-size")
    if min(min(size) for size in args.cac_sizes) < 1:
        parser.error("--cac-sizes must be positive")
    return args


def markdown_tables(report: dict[str, Any]) -> str:
    lines = [
        "| SR inference | scale | input (HxW) | GFLOPs | median (ms) | p90 (ms) | CPU median (ms) |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    rows = [*report["sr_inference"], report["segmentation"] | {"model": "segmenter", "scale": 1}]
    for row in rows:
        latency = row["latency"]
        lines.append(
            f"| {row['model']} | {row['scale']} | {'x'.join(map(str, row['input_shape'][-2:]))} "
            f"| {row['forward_gflops']:.3g} | {latency['median_ms']:.2f} | {latency['p90_ms']:.2f} "
            f"| {latency['cpu_median_ms']:.2f} |"
        )
    lines += [
        "",
        "| CARN-M training step | scale | batch | median (ms) | p90 (ms) | CPU median (ms) "
        "| extra over L1, paired: wall / CPU (ms) |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in report["sr_training"]:
        step = row["step"]
        extra = ""
        if "extra_over_reconstruction_median_ms" in row:
            extra = (
                f"{row['extra_over_reconstruction_median_ms']:.1f} / "
                f"{row['extra_over_reconstruction_cpu_median_ms']:.1f}"
            )
        lines.append(
            f"| {row['objective']} | {row['scale']} | {row['batch_size']}x{row['hr_crop'][0]}² "
            f"| {step['median_ms']:.1f} | {step['p90_ms']:.1f} | {step['cpu_median_ms']:.1f} "
            f"| {extra} |"
        )
    lines += [
        "",
        "| CAC decision | label map | downsample | small-region ratio | median (µs) | p90 (µs) "
        "| CPU median (µs) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["cac"]["server"]:
        call = row["call"]
        lines.append(
            f"| server | {'x'.join(map(str, row['hr_size']))} | {row['downsample']} "
            f"| {row['small_region_ratio']:.4f} | {call['median_us']:.1f} | {call['p90_us']:.1f} "
            f"| {call['cpu_median_us']:.1f} |"
        )
    for row in report["cac"]["edge"]:
        call = row["call"]
        lines.append(
            f"| edge, bandwidth {row['bandwidth']} | | | | {call['median_us']:.2f} "
            f"| {call['p90_us']:.2f} | {call['cpu_median_us']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available: skipping the CUDA benchmark (nothing written)")
        return {"benchmark": "runespoor", "skipped": "cuda not available"}
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    segmenter_config, sr_config = model_configs()
    torch.manual_seed(args.seed)
    segmenter = instantiate(segmenter_config.net).to(device)
    width, height = args.hr_size
    frame = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(args.seed))
    frame = frame.to(device)

    sr_inference = []
    for scale in args.scales:
        low_res = F.avg_pool2d(frame, scale)
        for name, build in SR_MODELS.items():
            torch.manual_seed(args.seed)
            result = {"model": name, "scale": scale} | measure_inference(
                build(scale).to(device), low_res, args=args, device=device
            )
            print(
                f"{name} x{scale}: {result['latency']['median_ms']:.2f} ms/frame "
                f"(p90 {result['latency']['p90_ms']:.2f})",
                flush=True,
            )
            sr_inference.append(result)
    segmentation = {"model": "tiny_segmenter"} | measure_inference(
        segmenter, frame, args=args, device=device
    )
    print(f"segmenter: {segmentation['latency']['median_ms']:.2f} ms/frame", flush=True)

    segmenter.requires_grad_(False).eval()  # frozen, as load_analytics_model leaves it
    sr_training = []
    for scale in args.scales:
        results = measure_training(
            scale=scale, segmenter=segmenter, sr_config=sr_config, args=args, device=device
        )
        for result in results:
            print(
                f"CARN-M x{scale} {result['objective']}: {result['step']['median_ms']:.1f} ms/step",
                flush=True,
            )
        sr_training += results

    server = []
    for width, height in args.cac_sizes:
        label_map = synthetic_label_map(
            width=width, height=height, blobs=args.blobs, seed=args.seed
        )
        for downsample in args.downsamples:
            result = measure_server_decision(label_map, downsample=downsample, args=args)
            print(
                f"CAC server {width}x{height} /{downsample}: "
                f"{result['call']['median_us']:.1f} us/frame",
                flush=True,
            )
            server.append(result)
    edge = [measure_edge_decision(new_bandwidth=new, args=args) for new in (False, True)]

    machine = describe_machine(("torch", "torchvision", "numpy", "opencv-contrib-python-headless"))
    machine["opencv_threads"] = cv2.getNumThreads()
    if device.type == "cuda":
        machine["gpu"] = torch.cuda.get_device_name(device)
        machine["cuda"] = torch.version.cuda
        machine["cudnn"] = torch.backends.cudnn.version()
    report = {
        "benchmark": "runespoor",
        "device": device.type,
        "quick": args.quick,
        "settings": {key: getattr(args, key) for key in (*FULL, "threads", "seed")}
        | {
            "num_classes": NUM_CLASSES,
            "segmenter_config": "configs/model/tiny_segmenter.yaml",
            "optimizer": {
                key: value for key, value in sr_config.optimizer.items() if not key.startswith("_")
            }
            | {"name": sr_config.optimizer._target_},
            "alpha": sr_config.alpha,
            "beta": sr_config.beta,
            "small_region_fraction": SMALL_REGION_FRACTION,
            "tail_threshold": TAIL_THRESHOLD,
            "fps": FPS,
        },
        "machine": machine,
        "source": describe_source(REPO_ROOT, commit=args.source_commit),
        "sr_inference": sr_inference,
        "segmentation": segmentation,
        "sr_training": sr_training,
        "cac": {"server": server, "edge": edge},
    }
    print(markdown_tables(report))
    output = args.output or RESULTS_DIR / (
        "runespoor.json" if device.type == "cpu" else f"runespoor_{device.type}.json"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results written to {output}")
    return report


if __name__ == "__main__":
    main()
