"""``evaluate(cfg)``: score a detector checkpoint on the validation videos and, on request,
write the recording the simulator replays."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from edgecloud.cli.checkpoints import describe_device, load_checkpoint_weights, synchronize
from edgecloud.cli.evaluate_actions import evaluate_actions
from edgecloud.cli.evaluate_detection_sr import evaluate_detection_sr
from edgecloud.cli.evaluate_segmentation import evaluate_segmentation
from edgecloud.cli.record_knobs import record_knobs
from edgecloud.data.annotations import FrameAnnotations, VideoAnnotations
from edgecloud.data.detection_dataset import frame_to_tensor
from edgecloud.detections import FrameDetections
from edgecloud.metrics.coco import evaluate_detections
from edgecloud.recording.detection import DetectionRecordingWriter
from edgecloud.tasks.detection import DetectionModule, prediction_to_detections
from edgecloud.utils.codec import jpeg_encode
from edgecloud.utils.config import check_config
from edgecloud.utils.jsonio import write_json_report

log = logging.getLogger(__name__)


@dataclass
class SequenceOutputs:
    """What one pass over a video produced, frame by frame."""

    detections: list[FrameDetections]
    latency_s: list[float]
    encoded_bytes: list[int]


@torch.inference_mode()
def run_sequence(
    net: torch.nn.Module,
    video: VideoAnnotations,
    *,
    device: torch.device,
    frame_stride: int,
    jpeg_quality: int,
    warmup_calls: int,
) -> SequenceOutputs:
    """Detect on every ``frame_stride``-th frame one call at a time, timing each call as the
    device would see it (batch of one, synchronised), and measure each frame's JPEG size."""
    outputs = SequenceOutputs(detections=[], latency_s=[], encoded_bytes=[])
    for frame_index in range(0, len(video), frame_stride):
        frame = video.frames.read(frame_index)
        image = frame_to_tensor(frame).to(device)
        if frame_index == 0:
            for _ in range(warmup_calls):
                net([image])
        synchronize(device)
        start = time.perf_counter()
        prediction = net([image])[0]
        synchronize(device)
        outputs.latency_s.append(time.perf_counter() - start)
        outputs.detections.append(prediction_to_detections(prediction))
        outputs.encoded_bytes.append(len(jpeg_encode(frame, quality=jpeg_quality)))
    return outputs


def evaluate_runespoor(cfg: DictConfig) -> dict[str, float]:
    """Runespoor's evaluations, by ``runespoor.task``: ``segmentation`` compares the
    restoration methods (:func:`evaluate_segmentation`) or, with ``record=true``, writes the
    knob recording (:func:`record_knobs`); ``detection`` compares them for a detector
    (:func:`evaluate_detection_sr`)."""
    task = cfg.runespoor.task
    if task == "segmentation":
        return record_knobs(cfg) if cfg.record else evaluate_segmentation(cfg)
    if task == "detection":
        if cfg.record:
            raise ValueError("record=true: the knob recording is for runespoor.task=segmentation")
        return evaluate_detection_sr(cfg)
    raise ValueError(f"runespoor.task must be 'segmentation' or 'detection', got {task!r}")


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Score ``cfg.ckpt_path`` on the data config's validation videos (Clownfish's action
    models, configured under ``clownfish``, go to :func:`evaluate_actions`; Runespoor's
    comparisons of restoration methods and its knob recording, under ``runespoor``, to
    :func:`evaluate_runespoor`).

    Writes ``metrics.json`` into ``cfg.paths.output_dir`` and, with ``cfg.record=true``, a
    recording into ``<output_dir>/recording`` (see docs/recording_format.md).
    """
    if cfg.get("clownfish") is not None:
        return evaluate_actions(cfg)
    if cfg.get("runespoor") is not None:
        return evaluate_runespoor(cfg)
    check_config(cfg, required=("data", "model", "paths", "ckpt_path"))
    device = torch.device(cfg.device)
    if cfg.cpu_threads is not None:
        torch.set_num_threads(cfg.cpu_threads)
    datamodule = instantiate(cfg.data)
    module: DetectionModule = instantiate(cfg.model)
    load_checkpoint_weights(module, cfg.ckpt_path)
    net = module.net.to(device).eval()

    videos = datamodule.val_videos()
    ground_truth: list[FrameAnnotations] = []
    detections: list[FrameDetections] = []
    image_sizes: list[tuple[int, int]] = []
    output_dir = Path(cfg.paths.output_dir)
    writer = None
    if cfg.record:
        writer = DetectionRecordingWriter(
            output_dir / "recording",
            class_names=module.class_names,
            model={
                "name": cfg.model.net._target_,
                "checkpoint": str(cfg.ckpt_path),
                "config": OmegaConf.to_container(cfg.model.net, resolve=True),
            },
            device=describe_device(device),
            jpeg_quality=cfg.jpeg_quality,
        )
    for video in videos:
        outputs = run_sequence(
            net,
            video,
            device=device,
            frame_stride=cfg.frame_stride,
            jpeg_quality=cfg.jpeg_quality,
            warmup_calls=cfg.warmup_calls,
        )
        evaluated = video.annotations[:: cfg.frame_stride]
        height, width = video.frames.read(0).shape[:2]
        ground_truth += evaluated
        detections += outputs.detections
        image_sizes += [(height, width)] * len(evaluated)
        if writer is not None:
            writer.add_sequence(
                video.name,
                fps=video.fps / cfg.frame_stride,
                height=height,
                width=width,
                detections=outputs.detections,
                ground_truth=evaluated,
                latency_s=outputs.latency_s,
                encoded_bytes=outputs.encoded_bytes,
            )
        log.info("%s: %d frames evaluated", video.name, len(evaluated))
    if writer is not None:
        writer.close()

    metrics = evaluate_detections(
        ground_truth=ground_truth,
        detections=detections,
        class_names=module.class_names,
        image_sizes=image_sizes,
    ).as_dict(prefix="val/")
    report = {
        "checkpoint": str(cfg.ckpt_path),
        "device": describe_device(device),
        "metrics": metrics,
    }
    write_json_report(output_dir / "metrics.json", report)
    log.info("mAP50 %.4f  mAP %.4f", metrics["val/mAP50"], metrics["val/mAP"])
    return metrics
