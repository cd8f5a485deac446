"""LightningModule that trains and validates any torchvision-style detector."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from lightning import LightningModule
from torch import nn

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.data.detection_dataset import target_to_annotations
from edgecloud.detections import FrameDetections
from edgecloud.metrics.coco import evaluate_detections
from edgecloud.models.weights import load_weights
from edgecloud.tasks.gather import gather_from_all_ranks
from edgecloud.tasks.optimization import (
    OptimizerFactory,
    SchedulerFactory,
    check_scheduler_interval,
    optimizers_config,
)


def prediction_to_detections(prediction: dict[str, torch.Tensor]) -> FrameDetections:
    """A torchvision detector's output dict → numpy :class:`FrameDetections`.

    Sigmoid-classifier detectors (RetinaNet, FCOS) score torchvision's background slot 0 like
    any class, though it is never a training target; such outputs are not objects of any class
    and are removed here, the one place model output enters the project.
    """
    keep = prediction["labels"] != 0
    return FrameDetections(
        boxes=prediction["boxes"][keep].detach().float().cpu().numpy(),
        labels=prediction["labels"][keep].detach().cpu().numpy().astype(np.int64),
        scores=prediction["scores"][keep].detach().float().cpu().numpy(),
    )


class DetectionModule(LightningModule):
    """Trains a detector on the sum of its losses and scores it with COCO mAP every epoch.

    Logs ``train/loss`` (and each loss term), ``val/mAP50``, ``val/mAP``, per-class
    ``val/AP50/<class>`` and the best ``val/mAP50`` so far (``val/mAP50_best``).

    Args:
        net: a detector that returns a loss dict in train mode and per-image prediction dicts in
            eval mode (every torchvision detector does).
        class_names: names of labels ``1..C``.
        optimizer: partial optimizer taking the parameters.
        scheduler: optional partial LR scheduler taking the optimizer.
        scheduler_interval: ``"epoch"`` or ``"step"``.
        weights: optional local file to initialise ``net`` from (see :mod:`edgecloud.models.weights`).
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
        self._val_ground_truth: list[FrameAnnotations] = []
        self._val_detections: list[FrameDetections] = []
        self._val_image_sizes: list[tuple[int, int]] = []
        self._best_map50 = float("-inf")

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        return self.net(images)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        images, targets = batch
        targets = [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets]
        losses = self.net(images, targets)
        loss = sum(losses.values())
        batch_size = len(images)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        # Each self.log costs ~0.3 ms; the terms are only sent to loggers every
        # log_every_n_steps anyway, so log them only then (benchmarks/README.md).
        if (self.global_step + 1) % self.trainer.log_every_n_steps == 0:
            for name, value in losses.items():
                self.log(f"train/{name}", value, batch_size=batch_size)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_ground_truth.clear()
        self._val_detections.clear()
        self._val_image_sizes.clear()

    def validation_step(self, batch, batch_idx: int) -> None:
        images, targets = batch
        predictions = self.net(images)
        for image, target, prediction in zip(images, targets, predictions, strict=True):
            self._val_ground_truth.append(target_to_annotations(target))
            self._val_detections.append(prediction_to_detections(prediction))
            self._val_image_sizes.append((int(image.shape[-2]), int(image.shape[-1])))

    def _gathered(self, items: list) -> list:
        return gather_from_all_ranks(items, world_size=self.trainer.world_size)

    def on_validation_epoch_end(self) -> None:
        detections = self._gathered(self._val_detections)
        if not detections:
            return
        metrics = evaluate_detections(
            ground_truth=self._gathered(self._val_ground_truth),
            detections=detections,
            class_names=self.class_names,
            image_sizes=self._gathered(self._val_image_sizes),
        )
        values = metrics.as_dict(prefix="val/")
        map50 = values.pop("val/mAP50")
        self.log("val/mAP50", map50, prog_bar=True)
        if not self.trainer.sanity_checking:
            self._best_map50 = max(self._best_map50, map50)
            values["val/mAP50_best"] = self._best_map50
        self.log_dict(values)

    def configure_optimizers(self):
        return optimizers_config(
            [p for p in self.net.parameters() if p.requires_grad],
            optimizer=self.optimizer_factory,
            scheduler=self.scheduler_factory,
            interval=self.scheduler_interval,
        )
