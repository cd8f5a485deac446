"""``evaluate_segmentation(cfg)``: Runespoor's comparison of restoration methods at one knob.

Every validation frame is degraded once the way the system sends it (downscale by
``runespoor.scale``, JPEG at ``runespoor.jpeg_quality``: real codec, real size), restored by
each method — bilinear and bicubic upsampling and every configured SR checkpoint (standard SR,
CloudSeg, ASR) — and segmented by the trained segmentation model (``ckpt_path``), which also
runs on the original frame (HR); a frame whose sides do not divide by the scale is trimmed to
the top-left part that does, for every method (:func:`~edgecloud.data.degradation.exact_size`).
:func:`~edgecloud.metrics.method_comparison.compare_methods`
scores them side by side; ``metrics.json``, ``comparison.md`` and its figures
(:mod:`~edgecloud.metrics.comparison_figures`: ``fig7_class_iou.png``, per-class IoU over the
tail classes, and ``fig10_frame_distribution.png``, the distribution of per-episode mIoU) go
into the run directory.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from edgecloud.cli.checkpoints import describe_device, load_checkpoint_weights
from edgecloud.cli.restoration import comparison_restorers, timed_restore
from edgecloud.data.degradation import Knobs, degrade, trim_to_multiple
from edgecloud.data.formats.cityscapes import load_image, load_train_ids
from edgecloud.data.segmentation_dataset import image_to_tensor, tensor_to_image
from edgecloud.metrics.comparison_figures import plot_class_iou, plot_frame_distribution
from edgecloud.metrics.method_comparison import (
    REFERENCE,
    MethodScores,
    compare_methods,
    comparison_markdown,
    scalar_scores,
)
from edgecloud.utils.config import check_config
from edgecloud.utils.jsonio import write_json_report

log = logging.getLogger(__name__)


def segment(net: nn.Module, image: torch.Tensor) -> np.ndarray:
    return net(image[None]).argmax(dim=1)[0].to(torch.uint8).cpu().numpy()


@torch.inference_mode()
def evaluate_segmentation(cfg: DictConfig) -> dict[str, float]:
    """Score every method on the validation frames (module docstring); returns
    ``<method>/<score>`` for the scalar scores of every method."""
    check_config(cfg, required=("data", "model", "paths", "ckpt_path", "runespoor"))
    settings = cfg.runespoor
    if cfg.cpu_threads is not None:
        torch.set_num_threads(cfg.cpu_threads)
    device = torch.device(cfg.device)
    datamodule = instantiate(cfg.data)
    segmenter = instantiate(cfg.model)
    load_checkpoint_weights(segmenter, cfg.ckpt_path)
    segmenter = segmenter.net.to(device).eval()
    knobs = Knobs(scale=int(settings.scale), quality=int(settings.jpeg_quality))
    restorers = {
        name: net.to(device)
        for name, net in comparison_restorers(settings, scale=knobs.scale).items()
    }
    class_names = list(datamodule.class_names)
    scores = {name: MethodScores(num_classes=len(class_names)) for name in [*restorers, REFERENCE]}
    frames = datamodule.val_frames()[:: cfg.frame_stride]
    for frame in frames:
        original = trim_to_multiple(load_image(frame), multiple=knobs.scale)
        target = trim_to_multiple(load_train_ids(frame), multiple=knobs.scale)
        clip = f"{frame.city}_{frame.sequence:06d}"
        scores[REFERENCE].add_frame(
            segment(segmenter, image_to_tensor(original).to(device)), target, clip_id=clip
        )
        sent = degrade(original, knobs)
        low_res = image_to_tensor(sent.image).to(device)[None]
        for name, restorer in restorers.items():
            restored, seconds = timed_restore(restorer, low_res)
            scores[name].add_frame(
                segment(segmenter, restored),
                target,
                clip_id=clip,
                restored=tensor_to_image(restored),
                original=original,
                num_bytes=sent.num_bytes,
                restore_seconds=seconds,
            )
    rows = compare_methods(
        scores,
        class_names=class_names,
        tail_baseline=settings.tail_baseline,
        episode_length=settings.episode_length,
    )
    output_dir = Path(cfg.paths.output_dir)
    title = f"Restoration methods at {knobs.name} ({len(frames)} frames, {describe_device(device)})"
    write_json_report(
        output_dir / "metrics.json",
        {"knobs": knobs.name, "segmenter": str(cfg.ckpt_path), "methods": rows},
    )
    (output_dir / "comparison.md").write_text(comparison_markdown(rows, title=title))
    plot_frame_distribution(rows, path=output_dir / "fig10_frame_distribution.png")
    if rows[REFERENCE]["tail_classes"]:
        plot_class_iou(rows, path=output_dir / "fig7_class_iou.png")
    else:
        log.warning(
            "no tail classes (fewer than two classes have an IoU normalised by HR's): "
            "fig7_class_iou.png not drawn"
        )
    log.info("comparison written to %s", output_dir / "comparison.md")
    return scalar_scores(rows)
