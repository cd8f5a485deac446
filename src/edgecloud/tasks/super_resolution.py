"""LightningModule that trains Runespoor's super-resolution for one scale.

The network restores the server's low-resolution copy of a frame (downscaled by ``scale``, JPEG
coded: :class:`~edgecloud.data.segmentation_dataset.DegradedFrameDataset`) to the analytics
model's input resolution. The objective is one of :data:`~edgecloud.tasks.sr_objectives.OBJECTIVES`:
standard SR (L1, NAS), analytics-aware SR (ASR, the paper's Equation 2) or CloudSeg. The two
analytics objectives fine-tune a trained standard SR network (``weights``), as the paper does,
through the trained segmentation model, loaded frozen from ``analytics_checkpoint``.

Validation scores what the paper's tables compare: PSNR of the restored frames
(``val/psnr``) and, when an analytics model is given, its mIoU on them (``val/mIoU``) together
with the mean IoU of the classes that are small in the frame (``val/small_mIoU``: the IoU of
every class over only the pixels of small ground-truth regions), so checkpoints can be selected
on what each objective optimises.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from edgecloud.data.formats.cityscapes_labels import IGNORE_INDEX
from edgecloud.models.weights import load_all_weights
from edgecloud.tasks.detection import DetectionModule
from edgecloud.tasks.optimization import (
    OptimizerFactory,
    SchedulerFactory,
)
from edgecloud.tasks.segmentation import SegmentationModule, SummedConfusion, segmentation_scores
from edgecloud.tasks.sr_base import RestorationModule
from edgecloud.tasks.sr_objectives import (
    OBJECTIVES,
    pseudo_label_cross_entropy,
    small_region_cross_entropy,
)

log = logging.getLogger(__name__)


def load_analytics_model(
    analytics: nn.Module, path: str | Path, *, class_names: Sequence[str]
) -> nn.Module:
    """The network of a trained analytics model, loaded strictly from its Lightning
    checkpoint (or state dict) at ``path`` and frozen (evaluation mode, no gradients for its
    parameters).

    ``analytics`` is the :class:`~edgecloud.tasks.segmentation.SegmentationModule` or
    :class:`~edgecloud.tasks.detection.DetectionModule` (or bare network) configured like the
    one that was trained; the checkpoint's classes must be ``class_names``.
    """
    wrapped = isinstance(analytics, SegmentationModule | DetectionModule)
    net = analytics.net if wrapped else analytics
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"analytics model checkpoint not found: {path}")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    trained_classes = checkpoint.get("hyper_parameters", {}).get("class_names")
    if trained_classes is not None and list(trained_classes) != list(class_names):
        raise ValueError(
            f"{path}: the analytics model was trained on classes {list(trained_classes)}, "
            f"not the configured {list(class_names)}"
        )
    load_all_weights(net, path, what="analytics model (model.analytics)")
    log.info("analytics model loaded from %s", path)
    return net.requires_grad_(False).eval()


class SuperResolutionModule(RestorationModule):
    """Trains ``net`` to map a batch's ``low_res`` to its full-resolution ``image`` (batches
    of :class:`~edgecloud.data.segmentation_dataset.DegradedFrameDataset`, whose ``small``
    marks the pixels of small ground-truth regions).

    Logs ``train/loss`` (and ``train/l1``, ``train/analytics`` for the analytics objectives),
    ``val/l1``, ``val/psnr``, ``val/<monitor>_best`` and, with an analytics model,
    ``val/mIoU``, ``val/small_mIoU``, ``val/pixel_acc`` and ``val/IoU_<class>``.

    Args:
        net: maps ``(N, 3, h, w)`` RGB in ``[0, 1]`` to ``(N, 3, scale·h, scale·w)``.
        scale: the downscale factor it restores.
        objective: one of :data:`~edgecloud.tasks.sr_objectives.OBJECTIVES`.
        class_names: the analytics model's classes.
        optimizer: partial optimizer taking the SR network's parameters.
        scheduler: optional partial LR scheduler taking the optimizer.
        scheduler_interval: ``"epoch"`` or ``"step"``.
        alpha, beta: weights of the L1 and analytics terms (the paper's 0.95/0.05 for
            segmentation); unused by ``reconstruction``.
        analytics: the segmentation model, configured like the trained one; needed by the
            analytics objectives, optional (for validation mIoU) otherwise.
        analytics_checkpoint: its Lightning checkpoint; never downloaded. Without it the
            analytics model is not used (standard SR then scores PSNR only).
        weights: local file to initialise the SR network from (the trained standard SR
            network, for ASR and CloudSeg).
        monitor: the validation metric whose best value is logged as ``<monitor>_best``.
    """

    def __init__(
        self,
        *,
        net: nn.Module,
        scale: int,
        objective: str,
        class_names: Sequence[str],
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: str = "epoch",
        alpha: float = 0.95,
        beta: float = 0.05,
        analytics: nn.Module | None = None,
        analytics_checkpoint: str | None = None,
        weights: str | None = None,
        monitor: str = "val/psnr",
    ) -> None:
        super().__init__(
            net=net,
            scale=scale,
            objective=objective,
            objectives=OBJECTIVES,
            class_names=class_names,
            optimizer=optimizer,
            scheduler=scheduler,
            scheduler_interval=scheduler_interval,
            alpha=alpha,
            beta=beta,
            analytics=analytics,
            analytics_checkpoint=analytics_checkpoint,
            analytics_help=(
                "trains through the trained segmentation model: set model.analytics "
                "(configured like it) and model.analytics_checkpoint (its checkpoint, e.g. "
                ".../checkpoints/last.ckpt of `python train.py experiment=runespoor/segmenter`)"
            ),
            load_analytics=load_analytics_model,
            weights=weights,
            monitor=monitor,
        )
        num_classes = len(self.class_names)
        self._confusion = SummedConfusion(num_classes=num_classes)
        self._small_confusion = SummedConfusion(num_classes=num_classes)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        restored = self(batch["low_res"])
        hr = batch["image"]
        l1 = F.l1_loss(restored, hr)
        batch_size = len(hr)
        if self.objective == "reconstruction":
            loss = l1
        else:
            analytics = self._analytics(hr.device)
            logits = analytics(restored)
            if self.objective == "analytics_aware":
                analytics_loss = small_region_cross_entropy(logits, batch["target"], batch["small"])
            else:
                with torch.no_grad():
                    reference = analytics(hr)
                analytics_loss = pseudo_label_cross_entropy(logits, reference)
            loss = self.alpha * l1 + self.beta * analytics_loss
            self.log("train/l1", l1, batch_size=batch_size)
            self.log("train/analytics", analytics_loss, batch_size=batch_size)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._confusion.reset()
        self._small_confusion.reset()
        self._val_sums.zero_()

    def validation_step(self, batch, batch_idx: int) -> None:
        hr = batch["image"]
        restored = self(batch["low_res"]).clamp(0.0, 1.0)
        squared_error = (restored - hr).square().flatten(1).mean(dim=1).double()
        psnr = -10.0 * torch.log10(squared_error.clamp_min(1e-12))
        self._add_reconstruction(
            l1_sum=float((restored - hr).abs().mean()) * len(hr),
            psnr_sum=float(psnr.sum()),
            frames=len(hr),
        )
        analytics = self._analytics(hr.device)
        if analytics is None:
            return
        logits = analytics(restored)
        target = batch["target"]
        self._confusion.update(logits, target)
        self._small_confusion.update(logits, torch.where(batch["small"], target, IGNORE_INDEX))

    def on_validation_epoch_end(self) -> None:
        values = self._reconstruction_scores()
        if self._frozen:
            world_size = self.trainer.world_size
            matrix = self._confusion.total(world_size=world_size)
            values.update(segmentation_scores(matrix, class_names=self.class_names, prefix="val"))
            small = self._small_confusion.total(world_size=world_size)
            values["val/small_mIoU"] = segmentation_scores(
                small, class_names=self.class_names, prefix="small"
            )["small/mIoU"]
        self._log_validation(values)
