"""``evaluate_detection_sr(cfg)``: Runespoor's comparison of restoration methods for object
detection at one knob (``evaluate.py experiment=runespoor/drone/eval/compare``, or
``runespoor/visdrone/eval/compare``).

Every validation frame (every ``frame_stride``-th of each video) is degraded once the way the
system sends it (downscale by ``runespoor.scale``, JPEG at ``runespoor.jpeg_quality``: real
codec, real size), restored by each method — bilinear and bicubic upsampling and every
configured SR checkpoint (standard SR, ASR) — and run through the frozen detector
(``ckpt_path``, configured by the model group), which also runs on the original frame (HR).
The frames are the SR training's validation items
(:class:`~edgecloud.data.degraded_detection_dataset.DegradedDetectionDataset` at the knobs):
whole frames trimmed to multiples of the scale, boxes small under ``data.small_box_fraction``
of the frame's area. :func:`~edgecloud.metrics.detection_comparison.compare_detection_methods`
scores them side by side; ``metrics.json``, ``comparison.md`` and its figures
(:mod:`~edgecloud.metrics.comparison_figures`: ``fig8_class_ap.png``, per-class AP over the
tail classes with their mean, Fig. 8's score, and ``fig10_frame_distribution.png``, the
distribution of per-episode AP50, Fig. 10's counterpart) go into the run directory.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from edgecloud.cli.checkpoints import describe_device
from edgecloud.cli.restoration import comparison_restorers, timed_restore
from edgecloud.data.degradation import Knobs
from edgecloud.data.detection_dataset import target_to_annotations
from edgecloud.data.segmentation_dataset import tensor_to_image
from edgecloud.detections import FrameDetections
from edgecloud.metrics.comparison_figures import plot_class_scores, plot_frame_distribution
from edgecloud.metrics.detection_comparison import (
    DetectionFrames,
    DetectionMethodScores,
    compare_detection_methods,
    detection_comparison_markdown,
)
from edgecloud.metrics.method_comparison import REFERENCE, scalar_scores
from edgecloud.tasks.detection import prediction_to_detections
from edgecloud.tasks.super_resolution import load_analytics_model
from edgecloud.utils.config import check_config
from edgecloud.utils.jsonio import write_json_report

log = logging.getLogger(__name__)

CLASS_AP_SUMMARIES = (
    ("tail_AP", "tail mean"),
    ("small_mAP", "small-object mAP"),
    ("mAP", "overall mAP"),
)
"""The groups of ``fig8_class_ap.png`` after the tail classes: each row's key and its label."""


@torch.inference_mode()
def evaluate_detection_sr(cfg: DictConfig) -> dict[str, float]:
    """Score every method on the validation frames (module docstring); returns
    ``<method>/<score>`` for the scalar scores of every method."""
    check_config(cfg, required=("data", "model", "paths", "ckpt_path", "runespoor"))
    settings = cfg.runespoor
    if cfg.cpu_threads is not None:
        torch.set_num_threads(cfg.cpu_threads)
    device = torch.device(cfg.device)
    knobs = Knobs(scale=int(settings.scale), quality=int(settings.jpeg_quality))
    datamodule = instantiate(
        cfg.data,
        scale=knobs.scale,
        val_jpeg_quality=knobs.quality,
        val_frame_stride=cfg.frame_stride,
    )
    datamodule.prepare_data()
    datamodule.setup("validate")
    class_names = list(datamodule.class_names)
    detector = load_analytics_model(
        instantiate(cfg.model), cfg.ckpt_path, class_names=class_names
    ).to(device)
    restorers = {
        name: net.to(device)
        for name, net in comparison_restorers(settings, scale=knobs.scale).items()
    }
    frames = DetectionFrames()
    scores = {name: DetectionMethodScores() for name in [*restorers, REFERENCE]}
    dataset = datamodule.val_set

    def detect(image: torch.Tensor) -> FrameDetections:
        return prediction_to_detections(detector([image])[0])

    for item in dataset:
        target, image = item["target"], item["image"].to(device)
        frames.add(
            target_to_annotations(target),
            small=target["small"].numpy(),
            image_size=tuple(image.shape[-2:]),
            clip_id=dataset.videos[int(target["video_index"])].name,
        )
        scores[REFERENCE].add_frame(detect(image))
        original = tensor_to_image(image)
        low_res = item["low_res"].to(device)[None]
        for name, restorer in restorers.items():
            restored, seconds = timed_restore(restorer, low_res)
            scores[name].add_frame(
                detect(restored),
                restored=tensor_to_image(restored),
                original=original,
                num_bytes=item["num_bytes"],
                restore_seconds=seconds,
            )
    rows = compare_detection_methods(
        scores,
        frames=frames,
        class_names=class_names,
        tail_baseline=settings.tail_baseline,
        episode_length=settings.episode_length,
    )
    output_dir = Path(cfg.paths.output_dir)
    title = (
        f"Restoration methods for detection at {knobs.name} "
        f"({len(frames)} frames, {describe_device(device)})"
    )
    write_json_report(
        output_dir / "metrics.json",
        {
            "knobs": knobs.name,
            "detector": str(cfg.ckpt_path),
            "small_box_fraction": datamodule.small_box_fraction,
            "methods": rows,
        },
    )
    markdown = detection_comparison_markdown(
        rows,
        title=title,
        small_box_fraction=datamodule.small_box_fraction,
        tail_baseline=settings.tail_baseline,
        episode_length=settings.episode_length,
    )
    (output_dir / "comparison.md").write_text(markdown)
    plot_frame_distribution(
        rows,
        path=output_dir / "fig10_frame_distribution.png",
        episodes_key="episode_ap50",
        score="AP50",
    )
    if rows[REFERENCE]["tail_classes"]:
        plot_class_scores(
            rows,
            path=output_dir / "fig8_class_ap.png",
            per_class_key="ap",
            score="AP",
            summaries=CLASS_AP_SUMMARIES,
        )
    else:
        log.warning(
            "no tail classes (fewer than two classes have an AP normalised by HR's): "
            "fig8_class_ap.png not drawn"
        )
    log.info("comparison written to %s", output_dir / "comparison.md")
    return scalar_scores(rows)
