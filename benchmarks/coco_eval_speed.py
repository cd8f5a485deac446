"""COCO evaluation speed: ``faster_coco_eval`` against ``pycocotools`` on a synthetic set.

Builds a seeded evaluation set shaped like a drone/traffic video benchmark (2,000 frames of
640x360, 10 classes, ~20 ground-truth boxes per frame plus a few ignore regions, ~100 detections
per frame made of jittered ground truth and false positives), times
:func:`edgecloud.metrics.coco.evaluate_detections` with each backend (best of ``--repeats``
runs, the two backends interleaved so background load hits both alike), checks both give the
same numbers, prints a markdown table and writes a JSON result.

    .venv/bin/python benchmarks/coco_eval_speed.py            # full size, ~3-5 min on 2 cores
    .venv/bin/python benchmarks/coco_eval_speed.py --images 200 --repeats 1
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections
from edgecloud.metrics import coco as coco_module
from edgecloud.metrics.coco import DetectionMetrics, evaluate_detections
from edgecloud.utils.machine import describe_machine

BACKENDS = ("faster", "pycocotools")
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "coco_eval_speed.json"
AGREEMENT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class SyntheticConfig:
    """Shape of the synthetic evaluation set."""

    images: int = 2000
    height: int = 360
    width: int = 640
    classes: int = 10
    gt_per_image: int = 20
    ignore_per_image: int = 2
    detections_per_image: int = 100
    seed: int = 0


@dataclass
class EvaluationSet:
    ground_truth: list[FrameAnnotations]
    detections: list[FrameDetections]
    image_sizes: list[tuple[int, int]]
    class_names: list[str]

    @property
    def num_ground_truth(self) -> int:
        return sum(len(frame.labels) for frame in self.ground_truth)

    @property
    def num_ignore(self) -> int:
        return sum(len(frame.ignore_boxes) for frame in self.ground_truth)

    @property
    def num_detections(self) -> int:
        return sum(len(frame) for frame in self.detections)


# --- synthetic data --------------------------------------------------------------------------


def random_boxes(
    rng: np.random.Generator, n: int, *, height: int, width: int, min_side: float, max_side: float
) -> np.ndarray:
    """``n`` float32 xyxy boxes inside the frame with log-uniform sides (many small objects)."""
    w = np.exp(rng.uniform(np.log(min_side), np.log(max_side), n))
    h = w * np.exp(rng.uniform(np.log(0.5), np.log(2.0), n))
    w, h = np.minimum(w, width - 1), np.minimum(h, height - 1)
    x1 = rng.uniform(0, width - w)
    y1 = rng.uniform(0, height - h)
    return np.stack([x1, y1, x1 + w, y1 + h], axis=1).astype(np.float32)


def clip_boxes(boxes: np.ndarray, *, height: int, width: int) -> np.ndarray:
    clipped = boxes.copy()
    clipped[:, [0, 2]] = np.clip(clipped[:, [0, 2]], 0, width)
    clipped[:, [1, 3]] = np.clip(clipped[:, [1, 3]], 0, height)
    clipped[:, 2] = np.maximum(clipped[:, 2], clipped[:, 0])
    clipped[:, 3] = np.maximum(clipped[:, 3], clipped[:, 1])
    return clipped.astype(np.float32)


def jitter_boxes(rng: np.random.Generator, boxes: np.ndarray, scale: float) -> np.ndarray:
    """Shift each coordinate by a normal offset of ``scale`` times the box's width or height."""
    sides = (boxes[:, 2:] - boxes[:, :2])[:, [0, 1, 0, 1]]
    return boxes + rng.normal(0.0, scale, boxes.shape) * sides


def shrink_boxes(boxes: np.ndarray, factor: float) -> np.ndarray:
    """Boxes of ``factor`` times the size around the same centres."""
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * factor / 2
    return np.concatenate([centres - half, centres + half], axis=1)


def synthetic_frame(
    rng: np.random.Generator, config: SyntheticConfig
) -> tuple[FrameAnnotations, FrameDetections]:
    """One frame: ground truth, ignore regions and detections.

    Detections are, per ground-truth box, up to three jittered copies (tight to loose, the
    label sometimes wrong), a few inside ignore regions, and uniform false positives up to
    ``detections_per_image``; matched copies score higher on average than false positives.
    """
    size = {"height": config.height, "width": config.width}
    n_gt = int(rng.poisson(config.gt_per_image))
    gt_boxes = random_boxes(rng, n_gt, min_side=6, max_side=120, **size)
    gt_labels = rng.integers(1, config.classes + 1, n_gt)
    n_ignore = int(rng.poisson(config.ignore_per_image))
    ignore = random_boxes(rng, n_ignore, min_side=30, max_side=160, **size)

    parts_boxes, parts_labels, parts_scores = [], [], []
    # (probability a GT box gets this copy, jitter, mean score): tight, loose, very loose.
    for probability, jitter, score_mean in ((0.85, 0.05, 0.8), (0.5, 0.15, 0.5), (0.5, 0.35, 0.3)):
        keep = rng.random(n_gt) < probability
        labels = gt_labels[keep].copy()
        wrong = rng.random(len(labels)) < 0.1
        labels[wrong] = rng.integers(1, config.classes + 1, int(wrong.sum()))
        parts_boxes.append(jitter_boxes(rng, gt_boxes[keep], jitter))
        parts_labels.append(labels)
        parts_scores.append(rng.normal(score_mean, 0.15, len(labels)))
    if n_ignore:
        # Detections on ignored regions: neither true nor false positives.
        inside = ignore[rng.integers(0, n_ignore, 3)]
        parts_boxes.append(jitter_boxes(rng, shrink_boxes(inside, 0.6), 0.05))
        parts_labels.append(rng.integers(1, config.classes + 1, 3))
        parts_scores.append(rng.uniform(0.2, 0.9, 3))
    n_fp = max(0, config.detections_per_image - sum(len(labels) for labels in parts_labels))
    parts_boxes.append(random_boxes(rng, n_fp, min_side=6, max_side=150, **size))
    parts_labels.append(rng.integers(1, config.classes + 1, n_fp))
    parts_scores.append(rng.beta(1.5, 5.0, n_fp))

    det_boxes = clip_boxes(np.concatenate(parts_boxes).reshape(-1, 4), **size)
    ground_truth = FrameAnnotations(
        boxes=gt_boxes,
        labels=gt_labels.astype(np.int64),
        track_ids=np.arange(n_gt, dtype=np.int64),
        ignore_boxes=ignore,
    )
    detections = FrameDetections(
        boxes=det_boxes,
        labels=np.concatenate(parts_labels).astype(np.int64),
        scores=np.clip(np.concatenate(parts_scores), 0.0, 1.0).astype(np.float32),
    )
    return ground_truth, detections


def build_evaluation_set(config: SyntheticConfig) -> EvaluationSet:
    rng = np.random.default_rng(config.seed)
    frames = [synthetic_frame(rng, config) for _ in range(config.images)]
    return EvaluationSet(
        ground_truth=[gt for gt, _ in frames],
        detections=[det for _, det in frames],
        image_sizes=[(config.height, config.width)] * config.images,
        class_names=[f"class{k}" for k in range(1, config.classes + 1)],
    )


# --- timing ----------------------------------------------------------------------------------


def evaluate(data: EvaluationSet, backend: str) -> DetectionMetrics:
    return evaluate_detections(
        ground_truth=data.ground_truth,
        detections=data.detections,
        class_names=data.class_names,
        image_sizes=data.image_sizes,
        backend=backend,  # type: ignore[arg-type]
    )


def time_backends(
    data: EvaluationSet, *, repeats: int, backends: Sequence[str] = BACKENDS
) -> tuple[dict[str, list[float]], dict[str, DetectionMetrics]]:
    """Seconds per ``evaluate_detections`` call for each backend, interleaved round by round."""
    times: dict[str, list[float]] = {backend: [] for backend in backends}
    metrics: dict[str, DetectionMetrics] = {}
    for _ in range(repeats):
        for backend in backends:
            start = time.perf_counter()
            metrics[backend] = evaluate(data, backend)
            times[backend].append(time.perf_counter() - start)
    return times, metrics


def time_stages(
    data: EvaluationSet, *, repeats: int, backends: Sequence[str] = BACKENDS
) -> dict[str, list[float]]:
    """Seconds of the two parts of ``evaluate_detections``, for the breakdown in the report.

    ``conversion`` is the part shared by both backends (input checks, building the COCO
    ground-truth dict and result list in Python); ``backend:<name>`` is the library's own work
    (index, ``loadRes``, ``evaluate``, ``accumulate``) on ready-made inputs. Uses the metrics
    module's private helpers, so it follows that module's structure.
    """
    quiet = contextlib.redirect_stdout(io.StringIO())
    times: dict[str, list[float]] = {"conversion": []} | {f"backend:{b}": [] for b in backends}
    for _ in range(repeats):
        start = time.perf_counter()
        coco_module._validate_inputs(
            data.ground_truth, data.detections, data.class_names, data.image_sizes, 100
        )
        gt_dataset = coco_module._ground_truth_dataset(
            data.ground_truth, data.image_sizes, len(data.class_names)
        )
        results = list(coco_module._detection_results(data.detections))
        times["conversion"].append(time.perf_counter() - start)
        for backend in backends:
            # The libraries add keys to these dicts in place; give each run fresh copies.
            gt_copy, results_copy = copy.deepcopy(gt_dataset), copy.deepcopy(results)
            with quiet:
                start = time.perf_counter()
                coco_module._run_backend(backend, gt_copy, results_copy, 100, False)
                times[f"backend:{backend}"].append(time.perf_counter() - start)
    return times


def metric_differences(a: DetectionMetrics, b: DetectionMetrics) -> dict[str, float]:
    """Absolute difference of every flat metric (NaN in both counts as equal)."""
    flat_a, flat_b = a.as_dict(), b.as_dict()
    if flat_a.keys() != flat_b.keys():
        raise AssertionError(f"metric keys differ: {sorted(flat_a)} vs {sorted(flat_b)}")
    diffs = {}
    for key, value in flat_a.items():
        other = flat_b[key]
        both_nan = math.isnan(value) and math.isnan(other)
        diffs[key] = 0.0 if both_nan else abs(value - other)
    return diffs


# --- reporting -------------------------------------------------------------------------------


def markdown_table(result: dict[str, Any]) -> str:
    """The end-to-end row, then where the time goes (shared conversion vs the library)."""
    data, backends, stages = result["data"], result["backends"], result["stages"]
    end_to_end = "\n".join(
        [
            "| images | GT boxes | detections | faster-coco-eval (s) | pycocotools (s) "
            "| speedup | mAP | max abs diff |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {data['images']} | {data['ground_truth_boxes']} | {data['detections']} "
            f"| {backends['faster']['best_s']:.2f} | {backends['pycocotools']['best_s']:.2f} "
            f"| {result['speedup']:.1f}x | {result['map']:.4f} | {result['max_abs_diff']:.1e} |",
        ]
    )
    breakdown = "\n".join(
        [
            "| shared conversion (s) | faster-coco-eval library (s) | pycocotools library (s) "
            "| library-only speedup |",
            "|---:|---:|---:|---:|",
            f"| {stages['conversion']['best_s']:.2f} "
            f"| {stages['backend:faster']['best_s']:.2f} "
            f"| {stages['backend:pycocotools']['best_s']:.2f} "
            f"| {result['backend_only_speedup']:.1f}x |",
        ]
    )
    return f"{end_to_end}\n\n{breakdown}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    defaults = SyntheticConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=defaults.images)
    parser.add_argument("--classes", type=int, default=defaults.classes)
    parser.add_argument("--gt-per-image", type=int, default=defaults.gt_per_image)
    parser.add_argument("--detections-per-image", type=int, default=defaults.detections_per_image)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs per backend; best counts"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON result file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    config = SyntheticConfig(
        images=args.images,
        classes=args.classes,
        gt_per_image=args.gt_per_image,
        detections_per_image=args.detections_per_image,
        seed=args.seed,
    )
    machine = describe_machine(["torch", "numpy", "faster-coco-eval", "pycocotools"])
    data = build_evaluation_set(config)
    times, metrics = time_backends(data, repeats=args.repeats)
    stages = time_stages(data, repeats=args.repeats)
    diffs = metric_differences(metrics["faster"], metrics["pycocotools"])
    max_diff = max(diffs.values())
    best = {backend: min(seconds) for backend, seconds in times.items()}
    result = {
        "benchmark": "coco_eval_speed",
        "config": asdict(config) | {"repeats": args.repeats},
        "data": {
            "images": len(data.ground_truth),
            "ground_truth_boxes": data.num_ground_truth,
            "ignore_regions": data.num_ignore,
            "detections": data.num_detections,
        },
        "backends": {
            backend: {"best_s": best[backend], "times_s": times[backend]} for backend in times
        },
        "speedup": best["pycocotools"] / best["faster"],
        "stages": {
            stage: {"best_s": min(seconds), "times_s": seconds} for stage, seconds in stages.items()
        },
        "backend_only_speedup": min(stages["backend:pycocotools"]) / min(stages["backend:faster"]),
        "map": metrics["faster"].map,
        "map50": metrics["faster"].map50,
        "map75": metrics["faster"].map75,
        "max_abs_diff": max_diff,
        "agree": max_diff < AGREEMENT_TOLERANCE,
        "machine": machine,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown_table(result))
    print(f"\nwrote {args.output}")
    if not result["agree"]:
        worst = max(diffs, key=diffs.__getitem__)
        raise SystemExit(f"backends disagree: {worst} differs by {diffs[worst]:.3e}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
