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

import numpy as np
import torch
import torch.nn.functional as F
from lightning import LightningModule
from torch import nn

from edgecloud.data.formats.cityscapes_labels import IGNORE_INDEX
from edgecloud.models.weights import load_weights
from edgecloud.tasks.detection import DetectionModule
from edgecloud.tasks.gather import gather_from_all_ranks
from edgecloud.tasks.optimization import (
    OptimizerFactory,
    SchedulerFactory,
    check_scheduler_interval,
    optimizers_config,
)
from edgecloud.tasks.segmentation import SegmentationModule, SummedConfusion, segmentation_scores
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
    report = load_weights(net, path)
    if report.shape_mismatch or report.missing or report.unexpected:
        raise ValueError(
            f"{path} does not fit the configured analytics model (model.analytics): tensors "
            f"with another shape {list(report.shape_mismatch)[:5]}, missing "
            f"{list(report.missing)[:5]}, unknown {list(report.unexpected)[:5]}"
        )
    log.info("analytics model loaded from %s", path)
    return net.requires_grad_(False).eval()


class SuperResolutionModule(LightningModule):
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
        super().__init__()
        check_scheduler_interval(scheduler_interval)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if objective != "reconstruction" and (analytics is None or analytics_checkpoint is None):
            raise ValueError(
                f"the {objective!r} objective trains through the trained segmentation model: "
                "set model.analytics (configured like it) and model.analytics_checkpoint (its "
                "checkpoint, e.g. .../checkpoints/last.ckpt of "
                "`python train.py experiment=runespoor/segmenter`)"
            )
        # Only plain values go into the checkpoint, so it loads with torch.load(weights_only=True).
        self.save_hyperparameters(
            {
                "scale": scale,
                "objective": objective,
                "class_names": list(class_names),
                "alpha": alpha,
                "beta": beta,
                "analytics_checkpoint": analytics_checkpoint,
                "weights": weights,
            }
        )
        self.net = net
        self.scale = scale
        self.objective = objective
        self.class_names = list(class_names)
        self.alpha = alpha
        self.beta = beta
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.monitor = monitor
        if weights is not None:
            load_weights(self.net, weights)
        # A tuple, not an attribute: the frozen analytics model stays out of state_dict() and
        # the optimizer; _analytics() moves it to the batch's device.
        self._frozen = ()
        if analytics is not None and analytics_checkpoint is not None:
            self._frozen = (
                load_analytics_model(analytics, analytics_checkpoint, class_names=class_names),
            )
        num_classes = len(self.class_names)
        self._confusion = SummedConfusion(num_classes=num_classes)
        self._small_confusion = SummedConfusion(num_classes=num_classes)
        self._val_sums = torch.zeros(3, dtype=torch.float64)  # L1 sum, PSNR sum, frames
        self._best = float("-inf")

    def _analytics(self, device: torch.device) -> nn.Module | None:
        if not self._frozen:
            return None
        return self._frozen[0].to(device)

    def forward(self, low_res: torch.Tensor) -> torch.Tensor:
        return self.net(low_res)

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
        self._val_sums += torch.tensor(
            [float((restored - hr).abs().mean()) * len(hr), float(psnr.sum()), float(len(hr))],
            dtype=torch.float64,
        )
        analytics = self._analytics(hr.device)
        if analytics is None:
            return
        logits = analytics(restored)
        target = batch["target"]
        self._confusion.update(logits, target)
        self._small_confusion.update(logits, torch.where(batch["small"], target, IGNORE_INDEX))

    def on_validation_epoch_end(self) -> None:
        world_size = self.trainer.world_size
        l1_sum, psnr_sum, frames = sum(
            gather_from_all_ranks([self._val_sums], world_size=world_size)
        )
        frames = max(float(frames), 1.0)
        values = {"val/l1": float(l1_sum) / frames, "val/psnr": float(psnr_sum) / frames}
        if self._frozen:
            matrix = self._confusion.total(world_size=world_size)
            values.update(segmentation_scores(matrix, class_names=self.class_names, prefix="val"))
            small = self._small_confusion.total(world_size=world_size)
            values["val/small_mIoU"] = segmentation_scores(
                small, class_names=self.class_names, prefix="small"
            )["small/mIoU"]
        if self.monitor not in values:
            raise KeyError(f"monitor {self.monitor!r} is not among the logged {sorted(values)}")
        if not self.trainer.sanity_checking and np.isfinite(values[self.monitor]):
            self._best = max(self._best, values[self.monitor])
            values[f"{self.monitor}_best"] = self._best
        self.log_dict(values, prog_bar=False)

    def configure_optimizers(self):
        return optimizers_config(
            self.net.parameters(),
            optimizer=self.optimizer_factory,
            scheduler=self.scheduler_factory,
            interval=self.scheduler_interval,
        )
