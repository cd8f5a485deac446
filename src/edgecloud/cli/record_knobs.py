"""``record_knobs(cfg)``: Runespoor's knob recording (``evaluate.py experiment=runespoor/eval/record``).

Every validation frame is sent under every configuration the controller can choose — each
scale of ``runespoor.scales`` times each JPEG quality of ``runespoor.qualities`` — the way
the system sends it (downscale, real JPEG, decode), restored on the "server" by the SR
network trained for that scale (``runespoor.sr_checkpoints.x<scale>``) or, for a scale
without one, by ``runespoor.fallback_restorer`` interpolation, then segmented by the trained
segmenter (``ckpt_path``). The original frame is segmented too (HR). Every configuration
and HR are scored on the same pixels: a frame whose sides do not divide by every recorded scale
is trimmed to the top-left part that does (:func:`~edgecloud.data.degradation.exact_size`). What the controller's
profiling and the simulator need is written per clip (:mod:`edgecloud.recording.knobs`):
bytes, per-class intersection and union, per-frame mIoU, the small-region ratio of the
prediction (the server's tail-frame signal) and of the ground truth, and measured latencies.
Beside the recording: ``knobs.md``/``knobs.json`` and ``fig11.png``, every configuration's
accuracy against its bandwidth (:mod:`edgecloud.metrics.knob_summary`).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from edgecloud.cli.checkpoints import describe_device, load_checkpoint_weights
from edgecloud.cli.evaluate_segmentation import segment
from edgecloud.cli.restoration import INTERPOLATIONS, load_sr_network, timed_restore
from edgecloud.data.degradation import Knobs, degrade, trim_to_multiple
from edgecloud.data.formats.cityscapes import (
    CityscapesFrame,
    group_clips,
    load_image,
    load_train_ids,
)
from edgecloud.data.segmentation_dataset import image_to_tensor
from edgecloud.metrics.knob_summary import knob_markdown, knob_rows, plot_accuracy_vs_bandwidth
from edgecloud.metrics.regions import small_region_ratio
from edgecloud.metrics.segmentation import confusion_matrix, frame_mean_iou
from edgecloud.models.carn import InterpolationUpsampler
from edgecloud.recording.knobs import KnobRecording, KnobRecordingWriter
from edgecloud.utils.config import check_config
from edgecloud.utils.jsonio import write_json_report

log = logging.getLogger(__name__)


def knob_grid(scales: list[int], qualities: list[int]) -> list[Knobs]:
    """Every (scale, quality) pair, scales outermost, both in the given order."""
    return [Knobs(scale=int(s), quality=int(q)) for s in scales for q in qualities]


def restorers_by_scale(cfg: DictConfig) -> tuple[dict[int, nn.Module], dict[str, str]]:
    """The restoration network of every recorded scale and a description of each (the SR
    checkpoint's path, or the interpolation mode) for the manifest."""
    settings = cfg.runespoor
    if settings.fallback_restorer not in INTERPOLATIONS:
        raise ValueError(
            f"runespoor.fallback_restorer must be one of {INTERPOLATIONS}, "
            f"got {settings.fallback_restorer!r}"
        )
    checkpoints = {key: path for key, path in (settings.sr_checkpoints or {}).items() if path}
    scales = [int(scale) for scale in settings.scales]
    unknown = sorted(set(checkpoints) - {f"x{scale}" for scale in scales})
    if unknown:
        raise ValueError(
            f"runespoor.sr_checkpoints has {unknown}, which are not among runespoor.scales "
            f"{scales} (keys are x<scale>)"
        )
    restorers: dict[int, nn.Module] = {}
    described: dict[str, str] = {}
    for scale in scales:
        path = checkpoints.get(f"x{scale}")
        if path is None:
            mode = str(settings.fallback_restorer)
            restorers[scale] = InterpolationUpsampler(scale=scale, mode=mode)
            described[f"x{scale}"] = mode
        else:
            network = instantiate(settings.sr_net, scale=scale)
            restorers[scale] = load_sr_network(network, path)
            described[f"x{scale}"] = str(path)
    return restorers, described


def _per_class_overlap(
    prediction: np.ndarray, target: np.ndarray, *, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class intersection and union of one frame (pixels ignored in the target excluded)."""
    matrix = confusion_matrix(prediction, target, num_classes=num_classes)
    intersection = np.diag(matrix)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - intersection
    return intersection.astype(np.int64), union.astype(np.int64)


class _ClipArrays:
    """Accumulates one clip's arrays frame by frame (layout of the knob recording)."""

    def __init__(self, *, knobs: int, frames: int, classes: int) -> None:
        shape, per_class = (knobs, frames), (knobs, frames, classes)
        self.arrays = {
            "frame_bytes": np.zeros(shape, np.int64),
            "intersection": np.zeros(per_class, np.int64),
            "union": np.zeros(per_class, np.int64),
            "frame_miou": np.zeros(shape),
            "small_ratio": np.zeros(shape),
            "restore_latency_s": np.zeros(shape),
            "segment_latency_s": np.zeros(shape),
            "hr_intersection": np.zeros((frames, classes), np.int64),
            "hr_union": np.zeros((frames, classes), np.int64),
            "hr_frame_miou": np.zeros(frames),
            "hr_small_ratio": np.zeros(frames),
            "gt_small_ratio": np.zeros(frames),
        }


@torch.inference_mode()
def record_knobs(cfg: DictConfig) -> dict[str, float]:
    """Write the knob recording into ``<output_dir>/recording`` (module docstring); returns
    the mean per-frame mIoU of every configuration and of HR."""
    check_config(cfg, required=("data", "model", "paths", "ckpt_path", "runespoor"))
    settings = cfg.runespoor
    if cfg.cpu_threads is not None:
        torch.set_num_threads(cfg.cpu_threads)
    device = torch.device(cfg.device)
    datamodule = instantiate(cfg.data)
    segmenter_module = instantiate(cfg.model)
    load_checkpoint_weights(segmenter_module, cfg.ckpt_path)
    segmenter = segmenter_module.net.to(device).eval()
    restorers, restorer_names = restorers_by_scale(cfg)
    restorers = {scale: net.to(device) for scale, net in restorers.items()}
    knobs = knob_grid(list(settings.scales), list(settings.qualities))
    # every configuration and HR see the same pixels: whole frames trimmed for every scale
    common_multiple = math.lcm(*(knob.scale for knob in knobs))
    class_names = list(datamodule.class_names)
    num_classes = len(class_names)
    ratio_settings = {
        "max_area_fraction": float(settings.small_region_fraction),
        "downsample": int(settings.ratio_downsample),
    }
    output_dir = Path(cfg.paths.output_dir)
    writer = KnobRecordingWriter(
        output_dir / "recording",
        class_names=class_names,
        knobs=knobs,
        metadata={
            "segmenter": str(cfg.ckpt_path),
            "segmenter_config": OmegaConf.to_container(cfg.model.net, resolve=True),
            "restorers": restorer_names,
            "small_region": ratio_settings,
            "device": describe_device(device),
            "cpu_threads": cfg.cpu_threads,
        },
    )

    def timed_segment(image: torch.Tensor) -> tuple[np.ndarray, float]:
        start = time.perf_counter()
        prediction = segment(segmenter, image)
        return prediction, time.perf_counter() - start

    clips = group_clips(datamodule.val_frames())
    for clip_frames in clips:
        clip: list[CityscapesFrame] = clip_frames[:: int(settings.frame_stride)]
        record = _ClipArrays(knobs=len(knobs), frames=len(clip), classes=num_classes)
        arrays = record.arrays
        for f, frame in enumerate(clip):
            original = trim_to_multiple(load_image(frame), multiple=common_multiple)
            target = trim_to_multiple(load_train_ids(frame), multiple=common_multiple)
            arrays["gt_small_ratio"][f] = small_region_ratio(target, **ratio_settings)
            prediction, _ = timed_segment(image_to_tensor(original).to(device))
            arrays["hr_intersection"][f], arrays["hr_union"][f] = _per_class_overlap(
                prediction, target, num_classes=num_classes
            )
            arrays["hr_frame_miou"][f] = frame_mean_iou(prediction, target, num_classes=num_classes)
            arrays["hr_small_ratio"][f] = small_region_ratio(prediction, **ratio_settings)
            for k, knob in enumerate(knobs):
                sent = degrade(original, knob)
                low_res = image_to_tensor(sent.image).to(device)[None]
                restored, arrays["restore_latency_s"][k, f] = timed_restore(
                    restorers[knob.scale], low_res
                )
                prediction, arrays["segment_latency_s"][k, f] = timed_segment(restored)
                arrays["frame_bytes"][k, f] = sent.num_bytes
                arrays["intersection"][k, f], arrays["union"][k, f] = _per_class_overlap(
                    prediction, target, num_classes=num_classes
                )
                arrays["frame_miou"][k, f] = frame_mean_iou(
                    prediction, target, num_classes=num_classes
                )
                arrays["small_ratio"][k, f] = small_region_ratio(prediction, **ratio_settings)
        name = f"{clip[0].city}_{clip[0].sequence:06d}"
        fps = float(settings.fps) / int(settings.frame_stride)
        writer.add_clip(name, fps=fps, arrays=arrays)
        log.info("recorded clip %s (%d frames x %d configurations)", name, len(clip), len(knobs))
    writer.close()
    log.info("knob recording written to %s", output_dir / "recording")
    return _summarize(output_dir, restorer_names)


def _summarize(output_dir: Path, restorer_names: dict[str, str]) -> dict[str, float]:
    """Write ``knobs.md``, ``knobs.json`` and ``fig11.png`` (accuracy against bandwidth of
    every configuration); returns ``<knob>/mIoU`` and ``<knob>/mbps`` of each, and
    ``hr/mIoU``."""
    recording = KnobRecording.open(output_dir / "recording")
    rows = knob_rows(recording)
    restorers = ", ".join(f"{scale}: {name}" for scale, name in restorer_names.items())
    title = f"Accuracy against bandwidth per configuration (restored by {restorers})"
    (output_dir / "knobs.md").write_text(knob_markdown(rows, title=title))
    write_json_report(output_dir / "knobs.json", {"restorers": restorer_names, "rows": rows})
    plot_accuracy_vs_bandwidth(rows, path=output_dir / "fig11.png")
    metrics = {}
    for row in rows:
        metrics[f"{row['knobs']}/mIoU"] = float(row["miou"])
        if "mbps" in row:
            metrics[f"{row['knobs']}/mbps"] = float(row["mbps"])
    return metrics
