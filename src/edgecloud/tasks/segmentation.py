"""LightningModule that trains the semantic segmentation model Runespoor's super-resolution
serves (SwiftNet in the paper; :mod:`edgecloud.models.segmentation` here).

Runespoor uses the analytics model as given ("pre-trained on the target datasets"): it is
trained once on full-resolution frames and then frozen while super-resolution learns to feed
it. :class:`SegmentationModule` is that first step, with per-pixel cross-entropy (255 ignored)
and the Cityscapes benchmark's scores every validation epoch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from lightning import LightningModule
from torch import nn

from edgecloud.data.formats.cityscapes_labels import IGNORE_INDEX
from edgecloud.metrics.segmentation import ConfusionMatrix, mean_iou, per_class_iou, pixel_accuracy
from edgecloud.models.weights import load_weights
from edgecloud.tasks.gather import gather_from_all_ranks
from edgecloud.tasks.optimization import (
    OptimizerFactory,
    SchedulerFactory,
    check_scheduler_interval,
    optimizers_config,
)


def metric_key(class_name: str) -> str:
    """A class name as a metric key segment: ``traffic light`` -> ``traffic_light``."""
    return re.sub(r"[^0-9A-Za-z]+", "_", class_name).strip("_")


def segmentation_scores(
    matrix: np.ndarray, *, class_names: Sequence[str], prefix: str
) -> dict[str, float]:
    """``{prefix}/mIoU``, ``{prefix}/pixel_acc`` and ``{prefix}/IoU_<class>`` (NaN classes, seen
    in neither target nor prediction, are left out) of a summed confusion matrix."""
    values = {
        f"{prefix}/mIoU": float(mean_iou(matrix)),
        f"{prefix}/pixel_acc": float(pixel_accuracy(matrix)),
    }
    for name, iou in zip(class_names, per_class_iou(matrix), strict=True):
        if np.isfinite(iou):
            values[f"{prefix}/IoU_{metric_key(name)}"] = float(iou)
    return values


class SummedConfusion:
    """A validation epoch's confusion matrix, summed over batches and (when distributed) over
    ranks, so the scores are those of the whole validation set."""

    def __init__(self, *, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        self._confusion = ConfusionMatrix(num_classes=num_classes, ignore_index=ignore_index)

    def reset(self) -> None:
        self._confusion.reset()

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        """Count the argmax of ``(N, C, H, W)`` logits against ``(N, H, W)`` train ids."""
        prediction = logits.argmax(dim=1).cpu().numpy()
        self._confusion.update(prediction, target.cpu().numpy())

    def total(self, *, world_size: int) -> np.ndarray:
        return sum(gather_from_all_ranks([self._confusion.matrix], world_size=world_size))


class SegmentationModule(LightningModule):
    """Trains a per-pixel classifier with cross-entropy (255 ignored).

    Logs ``train/loss``, ``val/loss``, ``val/mIoU``, ``val/mIoU_best``, ``val/pixel_acc`` and
    ``val/IoU_<class>`` for every class seen in validation.

    Args:
        net: maps ``(N, 3, H, W)`` RGB in ``[0, 1]`` to ``(N, C, H, W)`` logits.
        class_names: the train ids' names, in id order (``C`` of them).
        optimizer: partial optimizer taking the parameters.
        scheduler: optional partial LR scheduler taking the optimizer.
        scheduler_interval: ``"epoch"`` or ``"step"``.
        weights: local file to initialise the network from (a state dict or a Lightning
            checkpoint); never downloaded.
    """

    def __init__(
        self,
        *,
        net: nn.Module,
        class_names: Sequence[str],
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: str = "epoch",
        weights: str | None = None,
    ) -> None:
        super().__init__()
        check_scheduler_interval(scheduler_interval)
        # Only plain values go into the checkpoint, so it loads with torch.load(weights_only=True).
        self.save_hyperparameters({"class_names": list(class_names), "weights": weights})
        self.net = net
        self.class_names = list(class_names)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        if weights is not None:
            load_weights(self.net, weights)
        self._confusion = SummedConfusion(num_classes=len(self.class_names))
        self._val_loss = torch.zeros(2, dtype=torch.float64)  # summed loss, scored pixels
        self._best_miou = float("-inf")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss = F.cross_entropy(self(batch["image"]), batch["target"], ignore_index=IGNORE_INDEX)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["target"]))
        return loss

    def on_validation_epoch_start(self) -> None:
        self._confusion.reset()
        self._val_loss.zero_()

    def validation_step(self, batch, batch_idx: int) -> None:
        logits = self(batch["image"])
        target = batch["target"]
        loss = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX, reduction="sum")
        self._val_loss += torch.tensor([loss.item(), float((target != IGNORE_INDEX).sum())])
        self._confusion.update(logits, target)

    def on_validation_epoch_end(self) -> None:
        world_size = self.trainer.world_size
        matrix = self._confusion.total(world_size=world_size)
        loss_sum, pixels = sum(gather_from_all_ranks([self._val_loss], world_size=world_size))
        values = segmentation_scores(matrix, class_names=self.class_names, prefix="val")
        values["val/loss"] = float(loss_sum / max(float(pixels), 1.0))
        miou = values.pop("val/mIoU")
        self.log("val/mIoU", miou, prog_bar=True)
        if not self.trainer.sanity_checking and np.isfinite(miou):
            self._best_miou = max(self._best_miou, miou)
            values["val/mIoU_best"] = self._best_miou
        self.log_dict(values)

    def configure_optimizers(self):
        return optimizers_config(
            self.net.parameters(),
            optimizer=self.optimizer_factory,
            scheduler=self.scheduler_factory,
            interval=self.scheduler_interval,
        )
