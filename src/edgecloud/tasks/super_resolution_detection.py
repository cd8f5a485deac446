"""LightningModule that trains Runespoor's super-resolution for object detection, one scale.

The detection sibling of :class:`~edgecloud.tasks.super_resolution.SuperResolutionModule`: the
network restores the server's low-resolution JPEG copy of a drone frame (batches of
:class:`~edgecloud.data.degraded_detection_dataset.DegradedDetectionDataset`) with standard SR
(L1) or analytics-aware SR (ASR: ``alpha·L1 + beta·`` the frozen detector's training loss on the
small ground-truth objects, :mod:`edgecloud.tasks.sr_detection_objectives`; the paper's 0.9/0.1).
ASR fine-tunes a trained standard SR network (``weights``) through a trained detector, a
:class:`~edgecloud.tasks.detection.DetectionModule` loaded strictly and frozen from
``analytics_checkpoint``.

Validation scores PSNR of the restored frames (``val/psnr``) and, when a detector is given,
COCO mAP of its detections on them (``val/mAP``, ``val/mAP50``, per class ``val/AP50/<class>``)
and the same for the small objects alone (``val/small_mAP``, ``val/small_mAP50``: the ground
truth reduced to the small boxes, the other boxes turned into ignore regions, so detecting a
large object is neither a hit nor a false alarm).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.data.detection_dataset import target_to_annotations
from edgecloud.detections import FrameDetections
from edgecloud.metrics.coco import evaluate_detections, small_object_ground_truth
from edgecloud.tasks.detection import prediction_to_detections
from edgecloud.tasks.gather import gather_from_all_ranks
from edgecloud.tasks.optimization import (
    OptimizerFactory,
    SchedulerFactory,
)
from edgecloud.tasks.sr_base import RestorationModule
from edgecloud.tasks.sr_detection_objectives import (
    DETECTION_OBJECTIVES,
    small_object_detection_loss,
)
from edgecloud.tasks.super_resolution import load_analytics_model


def small_object_annotations(target: dict[str, torch.Tensor]) -> FrameAnnotations:
    """The ground truth of the small objects of ``target`` alone: the other boxes become ignore
    regions (for ``val/small_mAP``)."""
    return small_object_ground_truth(
        target_to_annotations(target), small=target["small"].cpu().numpy()
    )


def frame_psnr(restored: torch.Tensor, reference: torch.Tensor) -> float:
    """PSNR in dB of a ``(3, H, W)`` frame in ``[0, 1]`` against its reference."""
    squared_error = float((restored - reference).double().square().mean())
    return -10.0 * float(np.log10(max(squared_error, 1e-12)))


class DetectionSuperResolutionModule(RestorationModule):
    """Trains ``net`` to map each ``low_res`` of a batch to its full-resolution ``image``.

    Logs ``train/loss`` (and ``train/l1``, ``train/analytics`` and each detector loss term as
    ``train/analytics_<term>`` for ASR), ``val/l1``, ``val/psnr``, ``val/<monitor>_best`` and,
    with a detector, ``val/mAP``, ``val/mAP50``, ``val/mAP75``, ``val/AP50/<class>``,
    ``val/small_mAP`` and ``val/small_mAP50``.

    Args:
        net: maps ``(N, 3, h, w)`` RGB in ``[0, 1]`` to ``(N, 3, scale·h, scale·w)``.
        scale: the downscale factor it restores.
        objective: one of :data:`~edgecloud.tasks.sr_detection_objectives.DETECTION_OBJECTIVES`.
        class_names: the detector's classes (labels ``1..C``).
        optimizer: partial optimizer taking the SR network's parameters.
        scheduler: optional partial LR scheduler taking the optimizer.
        scheduler_interval: ``"epoch"`` or ``"step"``.
        alpha, beta: weights of the L1 and detection terms (the paper's 0.9/0.1 for detection);
            unused by ``reconstruction``.
        analytics: the detector (a :class:`~edgecloud.tasks.detection.DetectionModule`),
            configured like the trained one; needed by ASR, optional (for validation mAP)
            otherwise.
        analytics_checkpoint: its Lightning checkpoint (or state dict); never downloaded.
            Without it the detector is not used (standard SR then scores PSNR only).
        weights: local file to initialise the SR network from (the trained standard SR
            network, for ASR).
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
        alpha: float = 0.9,
        beta: float = 0.1,
        analytics: nn.Module | None = None,
        analytics_checkpoint: str | None = None,
        weights: str | None = None,
        monitor: str = "val/psnr",
    ) -> None:
        super().__init__(
            net=net,
            scale=scale,
            objective=objective,
            objectives=DETECTION_OBJECTIVES,
            class_names=class_names,
            optimizer=optimizer,
            scheduler=scheduler,
            scheduler_interval=scheduler_interval,
            alpha=alpha,
            beta=beta,
            analytics=analytics,
            analytics_checkpoint=analytics_checkpoint,
            analytics_help=(
                "trains through the trained detector: set model.analytics (configured like "
                "it) and model.analytics_checkpoint (its checkpoint, e.g. "
                "checkpoints/react_tiny_cloud.pt or .../checkpoints/last.ckpt of "
                "`python train.py experiment=react/tiny_cloud`)"
            ),
            load_analytics=load_analytics_model,
            weights=weights,
            monitor=monitor,
        )
        self._val_ground_truth: list[FrameAnnotations] = []
        self._val_small_ground_truth: list[FrameAnnotations] = []
        self._val_detections: list[FrameDetections] = []
        self._val_image_sizes: list[tuple[int, int]] = []

    def restore(self, low_res: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """SR of every ``(3, h, w)`` image; equal-sized ones (training crops) in one batch."""
        if len({tuple(image.shape) for image in low_res}) == 1:
            return list(self(torch.stack(list(low_res))).unbind(0))
        return [self(image[None])[0] for image in low_res]

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        hr = batch["image"]
        restored = self.restore(batch["low_res"])
        l1 = torch.stack([F.l1_loss(r, h) for r, h in zip(restored, hr, strict=True)]).mean()
        batch_size = len(hr)
        if self.objective == "reconstruction":
            loss = l1
        else:
            detector = self._analytics(l1.device)
            analytics_loss, terms = small_object_detection_loss(detector, restored, batch["target"])
            loss = self.alpha * l1 + self.beta * analytics_loss
            self.log("train/l1", l1, batch_size=batch_size)
            self.log("train/analytics", analytics_loss, batch_size=batch_size)
            for name, value in terms.items():
                self.log(f"train/analytics_{name}", value, batch_size=batch_size)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_sums.zero_()
        self._val_ground_truth.clear()
        self._val_small_ground_truth.clear()
        self._val_detections.clear()
        self._val_image_sizes.clear()

    def validation_step(self, batch, batch_idx: int) -> None:
        hr = batch["image"]
        restored = [image.clamp(0.0, 1.0) for image in self.restore(batch["low_res"])]
        for r, h in zip(restored, hr, strict=True):
            self._add_reconstruction(
                l1_sum=float((r - h).abs().mean()), psnr_sum=frame_psnr(r, h), frames=1
            )
        detector = self._analytics(hr[0].device)
        if detector is None:
            return
        predictions = detector(restored)
        for image, target, prediction in zip(restored, batch["target"], predictions, strict=True):
            self._val_ground_truth.append(target_to_annotations(target))
            self._val_small_ground_truth.append(small_object_annotations(target))
            self._val_detections.append(prediction_to_detections(prediction))
            self._val_image_sizes.append((int(image.shape[-2]), int(image.shape[-1])))

    def _gathered(self, items: list) -> list:
        return gather_from_all_ranks(items, world_size=self.trainer.world_size)

    def _detection_scores(self) -> dict[str, float]:
        detections = self._gathered(self._val_detections)
        image_sizes = self._gathered(self._val_image_sizes)
        common = {"detections": detections, "class_names": self.class_names}
        full = evaluate_detections(
            ground_truth=self._gathered(self._val_ground_truth), image_sizes=image_sizes, **common
        )
        small = evaluate_detections(
            ground_truth=self._gathered(self._val_small_ground_truth),
            image_sizes=image_sizes,
            **common,
        )
        values = full.as_dict(prefix="val/")
        values = {key: value for key, value in values.items() if not key.startswith("val/AP/")}
        values["val/small_mAP"] = small.map
        values["val/small_mAP50"] = small.map50
        return values

    def on_validation_epoch_end(self) -> None:
        values = self._reconstruction_scores()
        if self._frozen:
            values.update(self._detection_scores())
        self._log_validation(values)
