"""Training throughput of each detector, through Lightning and through a plain PyTorch loop.

For every model the same work is timed two ways, with the same seeded initialisation, the same
SGD (lr 0.01, momentum 0.9), the same in-memory data (random images with random boxes) and the
same ``DataLoader`` (``collate_detection_batch``, ``num_workers=0``):

* **lightning**: ``lightning.Trainer(max_steps=...)`` fitting
  :class:`edgecloud.tasks.detection.DetectionModule` (logging, callbacks and all, but no
  logger, checkpointing, progress bar or validation);
* **plain**: forward, ``zero_grad``, backward, ``step`` in a ``for`` loop.

Only steps after ``--warmup-steps`` count: a timer records ``time.perf_counter()`` at the start
and end of every batch (a Lightning ``Callback`` on ``on_train_batch_start``/``_end``, the same
calls in the plain loop), and throughput is images over the time from the start of the first
timed batch to the end of the last, so it includes whatever happens between steps. The two
methods are interleaved (plain, lightning, plain, lightning, ...) for ``--rounds`` rounds and the
median per method is reported, so background load on a shared machine hits both alike.

    .venv/bin/python benchmarks/training_throughput.py --threads 1        # all six, CPU
    .venv/bin/python benchmarks/training_throughput.py --models tiny_fcos ssdlite_mobilenet_v3
    .venv/bin/python benchmarks/training_throughput.py --device cuda --amp --channels-last

On a CPU that other jobs keep busy, pass ``--threads 1``: two intra-op threads on two busy cores
wait on each other and made identical steps 10-100 times slower and wildly variable.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from lightning import Callback, Trainer
from lightning.pytorch.callbacks import RichProgressBar
from torch import nn
from torch.utils.data import DataLoader

from edgecloud.data.detection_dataset import collate_detection_batch
from edgecloud.models import detectors
from edgecloud.tasks.detection import DetectionModule
from edgecloud.utils.machine import describe_machine

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MODELS = (
    "tiny_fcos",
    "ssdlite_mobilenet_v3",
    "fasterrcnn_mobilenet_v3_fpn",
    "fasterrcnn_r50_fpn_v2",
    "retinanet_r50_fpn_v2",
    "fcos_r50_fpn",
)
# (batch size, timed steps) per model when not given on the command line. On CPU a training
# step takes seconds (measured with one thread on the shared 2-core box: tiny_fcos at batch 8
# 3.6 s, SSDlite at 8 1.2 s, Faster R-CNN MobileNetV3 at 4 6 s, Faster R-CNN R50 at 2 22 s,
# RetinaNet/FCOS R50 at 2 8 s), so the CPU defaults are small: with 3 rounds the three
# edge-sized models take ~7 minutes, the three R50s ~20 more (Faster R-CNN R50 alone ~11).
DEFAULT_SIZES = {
    "cpu": {
        "tiny_fcos": (8, 4),
        "ssdlite_mobilenet_v3": (8, 4),
        "fasterrcnn_mobilenet_v3_fpn": (4, 4),
        "fasterrcnn_r50_fpn_v2": (2, 3),
        "retinanet_r50_fpn_v2": (2, 3),
        "fcos_r50_fpn": (2, 3),
    },
    "cuda": {
        "tiny_fcos": (32, 30),
        "ssdlite_mobilenet_v3": (32, 30),
        "fasterrcnn_mobilenet_v3_fpn": (16, 30),
        "fasterrcnn_r50_fpn_v2": (8, 20),
        "retinanet_r50_fpn_v2": (8, 20),
        "fcos_r50_fpn": (8, 20),
    },
}
DEFAULT_WARMUP = {"cpu": 2, "cuda": 5}
METHODS = ("plain", "lightning")


@dataclass(frozen=True)
class RunSpec:
    """Everything one measurement of one model needs."""

    model: str
    batch_size: int
    steps: int
    warmup_steps: int
    image_size: tuple[int, int]
    device: str = "cpu"
    amp: bool = False
    channels_last: bool = False
    resize: str = "native"
    progress_bar: bool = False
    num_classes: int = 10
    boxes_per_image: int = 8
    seed: int = 0

    @property
    def total_steps(self) -> int:
        return self.warmup_steps + self.steps

    @property
    def num_images(self) -> int:
        return self.batch_size * self.total_steps


@dataclass
class Measurement:
    """One timed run of one method."""

    method: str
    batch_size: int
    images_per_s: float
    window_s: float
    step_s: list[float]
    cpu_s: float
    first_loss: float
    peak_memory_bytes: int | None = None
    load_average_1m: float | None = None

    @property
    def images_per_cpu_s(self) -> float:
        """Images per second of this process's CPU time (all its threads) in the window:
        on a shared CPU it moves far less with background load than wall-clock throughput."""
        return len(self.step_s) * self.batch_size / self.cpu_s

    @property
    def between_steps_s(self) -> float:
        """Time in the window spent outside the batch hooks (data fetching, loop bookkeeping)."""
        return self.window_s - sum(self.step_s)


@dataclass
class ModelResult:
    spec: RunSpec
    parameters: int
    runs: dict[str, list[Measurement]] = field(default_factory=lambda: {m: [] for m in METHODS})

    def median_images_per_s(self, method: str) -> float:
        return statistics.median(run.images_per_s for run in self.runs[method])

    def best_images_per_s(self, method: str) -> float:
        """The fastest run: background load only ever slows a run down."""
        return max(run.images_per_s for run in self.runs[method])

    def median_images_per_cpu_s(self, method: str) -> float:
        return statistics.median(run.images_per_cpu_s for run in self.runs[method])

    @property
    def ratio(self) -> float:
        """Lightning throughput over plain-loop throughput (1.0: no overhead)."""
        return self.median_images_per_s("lightning") / self.median_images_per_s("plain")

    @property
    def best_ratio(self) -> float:
        """The ratio of the fastest runs, a cross-check of the medians' ratio on a busy CPU."""
        return self.best_images_per_s("lightning") / self.best_images_per_s("plain")

    @property
    def cpu_ratio(self) -> float:
        """The same ratio in images per CPU-second, the steadier one on a busy CPU."""
        return self.median_images_per_cpu_s("lightning") / self.median_images_per_cpu_s("plain")

    def as_dict(self) -> dict[str, Any]:
        methods = {}
        for method, runs in self.runs.items():
            peaks = [run.peak_memory_bytes for run in runs if run.peak_memory_bytes is not None]
            methods[method] = {
                "images_per_s_median": self.median_images_per_s(method),
                "images_per_s_best": self.best_images_per_s(method),
                "images_per_cpu_s_median": self.median_images_per_cpu_s(method),
                "step_s_median": statistics.median(s for run in runs for s in run.step_s),
                "between_steps_s_median": statistics.median(run.between_steps_s for run in runs),
                "peak_memory_bytes": max(peaks) if peaks else None,
                "first_loss": runs[0].first_loss,
                "runs": [
                    asdict(run)
                    | {
                        "images_per_cpu_s": run.images_per_cpu_s,
                        "between_steps_s": run.between_steps_s,
                    }
                    for run in runs
                ],
            }
        return {
            "model": self.spec.model,
            "spec": asdict(self.spec),
            "parameters": self.parameters,
            "methods": methods,
            "lightning_over_plain": self.ratio,
            "lightning_over_plain_best": self.best_ratio,
            "lightning_over_plain_cpu_time": self.cpu_ratio,
        }


# --- model and data --------------------------------------------------------------------------


def build_detector(spec: RunSpec) -> nn.Module:
    """The detector, seeded, sized for ``spec.image_size`` when ``spec.resize == "native"``.

    ``native`` sets ``min_size``/``max_size`` to the frame's sides so the R-CNN-style models
    train at the frame's resolution instead of upscaling it (torchvision's R50 default is 800
    px); SSDlite always squashes to its square ``image_size`` (320, as configured). ``config``
    keeps every builder's defaults, the sizes the experiment configs train at.
    """
    builder: Callable[..., nn.Module] = getattr(detectors, spec.model)
    kwargs: dict[str, Any] = {"num_classes": spec.num_classes}
    if spec.resize == "native" and spec.model != "ssdlite_mobilenet_v3":
        height, width = spec.image_size
        kwargs |= {"min_size": min(height, width), "max_size": max(height, width)}
    torch.manual_seed(spec.seed)
    model = builder(**kwargs)
    if spec.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def random_boxes(generator: torch.Generator, n: int, height: int, width: int) -> torch.Tensor:
    sides = torch.rand(n, 2, generator=generator) * 0.3 + 0.05
    w, h = sides[:, 0] * width, sides[:, 1] * height
    x1 = torch.rand(n, generator=generator) * (width - w)
    y1 = torch.rand(n, generator=generator) * (height - h)
    return torch.stack([x1, y1, x1 + w, y1 + h], dim=1)


def make_dataset(spec: RunSpec) -> list[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """``spec.num_images`` random images in [0, 1] with random boxes, held in memory."""
    generator = torch.Generator().manual_seed(spec.seed + 1)
    height, width = spec.image_size
    samples = []
    for _ in range(spec.num_images):
        image = torch.rand(3, height, width, generator=generator)
        n = int(torch.randint(1, 2 * spec.boxes_per_image, (), generator=generator))
        labels = torch.randint(1, spec.num_classes + 1, (n,), generator=generator)
        target = {"boxes": random_boxes(generator, n, height, width), "labels": labels}
        samples.append((image, target))
    return samples


def make_loader(dataset: Sequence, batch_size: int) -> DataLoader:
    return DataLoader(
        dataset,  # type: ignore[arg-type]
        batch_size=batch_size,
        shuffle=False,
        num_workers=0,
        collate_fn=collate_detection_batch,
    )


def make_optimizer(parameters) -> torch.optim.Optimizer:
    return torch.optim.SGD(parameters, lr=0.01, momentum=0.9)


# --- timing ----------------------------------------------------------------------------------


class StepTimes:
    """``perf_counter`` at the start and end of every batch; synchronises CUDA only at the
    edges of the timed window so it does not change how the steps overlap."""

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.starts: dict[int, float] = {}
        self.ends: dict[int, float] = {}
        self.cpu_start = self.cpu_end = 0.0
        self.first_loss = float("nan")

    def _sync(self) -> None:
        if self.spec.device == "cuda":
            torch.cuda.synchronize()

    def batch_start(self, step: int) -> None:
        if step == self.spec.warmup_steps:
            self._sync()
            self.cpu_start = time.process_time()
        self.starts[step] = time.perf_counter()

    def batch_end(self, step: int, loss: torch.Tensor | None) -> None:
        if step == self.spec.total_steps - 1:
            self._sync()
            self.cpu_end = time.process_time()
        self.ends[step] = time.perf_counter()
        if step == 0 and loss is not None:
            self.first_loss = float(loss.detach())

    def measurement(self, method: str) -> Measurement:
        timed = range(self.spec.warmup_steps, self.spec.total_steps)
        missing = [step for step in timed if step not in self.starts or step not in self.ends]
        if missing:
            raise RuntimeError(f"{method}: steps {missing} never ran")
        window = self.ends[timed[-1]] - self.starts[timed[0]]
        peak = torch.cuda.max_memory_allocated() if self.spec.device == "cuda" else None
        return Measurement(
            method=method,
            batch_size=self.spec.batch_size,
            images_per_s=self.spec.steps * self.spec.batch_size / window,
            window_s=window,
            step_s=[self.ends[step] - self.starts[step] for step in timed],
            cpu_s=self.cpu_end - self.cpu_start,
            first_loss=self.first_loss,
            peak_memory_bytes=peak,
            load_average_1m=os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        )


class StepTimerCallback(Callback):
    """Feeds Lightning's batch hooks to a :class:`StepTimes`. The run is one epoch (the data
    holds exactly ``total_steps`` batches), so ``batch_idx`` is the step."""

    def __init__(self, times: StepTimes) -> None:
        self.times = times

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self.times.batch_start(batch_idx)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.times.batch_end(batch_idx, loss)


def _start_clean(spec: RunSpec) -> None:
    """Free the previous run's model and trainer (they hold reference cycles) so that neither a
    garbage collection inside the timed window nor their CUDA memory skews this run."""
    gc.collect()
    if spec.device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def run_plain(spec: RunSpec, dataset: Sequence) -> Measurement:
    """The plain PyTorch training loop."""
    device = torch.device(spec.device)
    model = build_detector(spec).to(device)
    model.train()
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad])
    scaler = torch.amp.GradScaler(device.type, enabled=spec.amp)
    times = StepTimes(spec)
    _start_clean(spec)
    for step, (images, targets) in enumerate(make_loader(dataset, spec.batch_size)):
        if step >= spec.total_steps:
            break
        # Lightning moves the batch to the device before on_train_batch_start; so does this.
        images = [image.to(device, non_blocking=True) for image in images]
        targets = [{k: v.to(device, non_blocking=True) for k, v in t.items()} for t in targets]
        times.batch_start(step)
        with torch.autocast(device.type, dtype=torch.float16, enabled=spec.amp):
            losses = model(images, targets)
            loss = sum(losses.values())
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        times.batch_end(step, loss)
    return times.measurement("plain")


def run_lightning(spec: RunSpec, dataset: Sequence) -> Measurement:
    """``Trainer.fit`` of a :class:`DetectionModule` on the same model, data and optimizer."""
    module = DetectionModule(
        net=build_detector(spec),
        class_names=[f"class{k}" for k in range(1, spec.num_classes + 1)],
        optimizer=partial(torch.optim.SGD, lr=0.01, momentum=0.9),
    )
    times = StepTimes(spec)
    callbacks: list[Callback] = [StepTimerCallback(times)]
    if spec.progress_bar:
        # The experiment configs train with this bar; it reads the logged loss every step.
        callbacks.append(RichProgressBar())
    trainer = Trainer(
        accelerator="gpu" if spec.device == "cuda" else "cpu",
        devices=1,
        precision="16-mixed" if spec.amp else "32-true",
        max_steps=spec.total_steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=spec.progress_bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=callbacks,
    )
    _start_clean(spec)
    trainer.fit(module, train_dataloaders=make_loader(dataset, spec.batch_size))
    return times.measurement("lightning")


RUNNERS: dict[str, Callable[[RunSpec, Sequence], Measurement]] = {
    "plain": run_plain,
    "lightning": run_lightning,
}


def benchmark_model(spec: RunSpec, *, rounds: int) -> ModelResult:
    """``rounds`` interleaved plain/lightning measurements of one model."""
    dataset = make_dataset(spec)
    result = ModelResult(spec=spec, parameters=detectors.parameter_count(build_detector(spec)))
    for _ in range(rounds):
        for method in METHODS:
            result.runs[method].append(RUNNERS[method](spec, dataset))
    return result


# --- reporting -------------------------------------------------------------------------------


def machine_info(device: str) -> dict[str, Any]:
    """What the numbers were measured on, plus the GPU when one was used."""
    info = describe_machine(("torch", "torchvision", "lightning", "numpy"))
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
    return info


def model_input(spec: RunSpec) -> str:
    if spec.model == "ssdlite_mobilenet_v3":
        return "320x320"
    if spec.resize == "native":
        return f"{spec.image_size[0]}x{spec.image_size[1]}"
    return "builder default"


def markdown_table(results: Sequence[ModelResult]) -> str:
    cuda = any(result.spec.device == "cuda" for result in results)
    columns = ["model", "batch", "input", "timed steps x rounds", "plain img/s", "Lightning img/s"]
    columns += ["Lightning/plain", "Lightning/plain (best runs)", "Lightning/plain (CPU time)"]
    if cuda:
        columns += ["plain peak MiB", "Lightning peak MiB"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(["---"] * len(columns)) + "|"]
    for result in results:
        spec = result.spec
        cells = [
            spec.model,
            str(spec.batch_size),
            model_input(spec),
            f"{spec.steps} x {len(result.runs['plain'])}",
            f"{result.median_images_per_s('plain'):.2f}",
            f"{result.median_images_per_s('lightning'):.2f}",
            f"{result.ratio:.3f}",
            f"{result.best_ratio:.3f}",
            f"{result.cpu_ratio:.3f}",
        ]
        if cuda:
            for method in METHODS:
                peak = max(run.peak_memory_bytes or 0 for run in result.runs[method])
                cells.append(f"{peak / 2**20:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--image-size", nargs=2, type=int, default=[360, 640], metavar=("H", "W"))
    parser.add_argument("--batch-size", type=int, help="default: per model and device")
    parser.add_argument("--steps", type=int, help="timed steps per run; default: per model")
    parser.add_argument("--warmup-steps", type=int, help="untimed steps first; 2 CPU, 5 CUDA")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per method")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--amp", action="store_true", help="fp16 autocast (CUDA only)")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument(
        "--resize",
        choices=("native", "config"),
        default="native",
        help="native: detectors run at --image-size; config: builder defaults (R50: 800 px)",
    )
    parser.add_argument(
        "--progress-bar",
        action="store_true",
        help="give Lightning the RichProgressBar the experiment configs use (default: none)",
    )
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--boxes-per-image", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    parser.add_argument(
        "--output", type=Path, help="default: results/training_throughput_<device>.json"
    )
    args = parser.parse_args(argv)
    if args.amp and args.device != "cuda":
        parser.error("--amp needs --device cuda")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but no CUDA device is available")
    if args.warmup_steps is None:
        args.warmup_steps = DEFAULT_WARMUP[args.device]
    if args.output is None:
        args.output = RESULTS_DIR / f"training_throughput_{args.device}.json"
    return args


def run_spec(args: argparse.Namespace, model: str) -> RunSpec:
    batch_size, steps = DEFAULT_SIZES[args.device][model]
    return RunSpec(
        model=model,
        batch_size=args.batch_size or batch_size,
        steps=args.steps or steps,
        warmup_steps=args.warmup_steps,
        image_size=(args.image_size[0], args.image_size[1]),
        device=args.device,
        amp=args.amp,
        channels_last=args.channels_last,
        resize=args.resize,
        progress_bar=args.progress_bar,
        num_classes=args.num_classes,
        boxes_per_image=args.boxes_per_image,
        seed=args.seed,
    )


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Drop Lightning's per-fit banners and the warnings every fit here expects."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        for message in (
            ".*does not have many workers.*",
            ".*defined a `validation_step` but have no `val_dataloader`.*",
            ".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*",
        ):
            warnings.filterwarnings("ignore", message=message)
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def write_report(
    args: argparse.Namespace, machine: dict[str, Any], results: Sequence[ModelResult]
) -> dict[str, Any]:
    """The JSON result; rewritten after every model so a long run that is stopped keeps the
    models it finished (``complete`` says whether every requested model is in)."""
    report = {
        "benchmark": "training_throughput",
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine,
        "complete": len(results) == len(args.models),
        "results": [result.as_dict() for result in results],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = machine_info(args.device)
    results: list[ModelResult] = []
    report: dict[str, Any] = {}
    for model in args.models:
        spec = run_spec(args, model)
        start = time.perf_counter()
        with quiet_lightning():
            results.append(benchmark_model(spec, rounds=args.rounds))
        print(
            f"{model}: plain {results[-1].median_images_per_s('plain'):.2f} img/s, "
            f"lightning {results[-1].median_images_per_s('lightning'):.2f} img/s, "
            f"ratio {results[-1].ratio:.3f} (best runs {results[-1].best_ratio:.3f}, "
            f"CPU time {results[-1].cpu_ratio:.3f}) "
            f"({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
        report = write_report(args, machine, results)
    print()
    print(markdown_table(results))
    print(f"\nwrote {args.output}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
