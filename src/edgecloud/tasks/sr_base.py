"""What Runespoor's two SR LightningModules share: the SR network and its optimizer, the frozen
analytics model it may train through, the reconstruction scores and the best-metric log.

:class:`~edgecloud.tasks.super_resolution.SuperResolutionModule` (for a segmentation model)
and :class:`~edgecloud.tasks.super_resolution_detection.DetectionSuperResolutionModule` (for a
detector) add their objectives and their analytics scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from lightning import LightningModule
from torch import nn

from edgecloud.models.weights import load_weights
from edgecloud.tasks.gather import gather_from_all_ranks
from edgecloud.tasks.optimization import (
    OptimizerFactory,
    SchedulerFactory,
    check_scheduler_interval,
    optimizers_config,
)


class RestorationModule(LightningModule):
    """The shared part of the SR modules (module docstring); the arguments are the
    subclasses'. ``objectives`` are the valid ``objective`` names (``"reconstruction"``
    needs no analytics model); ``analytics_help`` says, for the error raised when an
    analytics objective lacks one, how to get it; ``load_analytics(analytics, path,
    class_names=...)`` returns the frozen analytics network."""

    def __init__(
        self,
        *,
        net: nn.Module,
        scale: int,
        objective: str,
        objectives: Sequence[str],
        class_names: Sequence[str],
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None,
        scheduler_interval: str,
        alpha: float,
        beta: float,
        analytics: nn.Module | None,
        analytics_checkpoint: str | None,
        analytics_help: str,
        load_analytics,
        weights: str | None,
        monitor: str,
    ) -> None:
        super().__init__()
        check_scheduler_interval(scheduler_interval)
        if objective not in objectives:
            raise ValueError(f"objective must be one of {tuple(objectives)}, got {objective!r}")
        if objective != "reconstruction" and (analytics is None or analytics_checkpoint is None):
            raise ValueError(f"the {objective!r} objective {analytics_help}")
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
        # A tuple, not an attribute: the frozen analytics model stays out of state_dict(), the
        # optimizer and Lightning's train()/eval() calls; _analytics() moves it to the device.
        self._frozen: tuple[nn.Module, ...] = ()
        if analytics is not None and analytics_checkpoint is not None:
            self._frozen = (
                load_analytics(analytics, analytics_checkpoint, class_names=class_names),
            )
        self._val_sums = torch.zeros(3, dtype=torch.float64)  # L1 sum, PSNR sum, frames
        self._best = float("-inf")

    def _analytics(self, device: torch.device) -> nn.Module | None:
        if not self._frozen:
            return None
        return self._frozen[0].to(device)

    def forward(self, low_res: torch.Tensor) -> torch.Tensor:
        return self.net(low_res)

    def _add_reconstruction(self, *, l1_sum: float, psnr_sum: float, frames: int) -> None:
        """Accumulate validation L1 and PSNR (sums over ``frames`` frames)."""
        self._val_sums += torch.tensor([l1_sum, psnr_sum, float(frames)], dtype=torch.float64)

    def _reconstruction_scores(self) -> dict[str, float]:
        """``val/l1`` and ``val/psnr`` over every rank's validation frames."""
        l1_sum, psnr_sum, frames = sum(
            gather_from_all_ranks([self._val_sums], world_size=self.trainer.world_size)
        )
        frames = max(float(frames), 1.0)
        return {"val/l1": float(l1_sum) / frames, "val/psnr": float(psnr_sum) / frames}

    def _log_validation(self, values: dict[str, float]) -> None:
        """Log ``values`` with the best ``monitor`` so far (not during the sanity check)."""
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
