"""What every training task does the same way with its optimizer and LR schedule.

Tasks receive Hydra partials: ``optimizer`` takes the parameters to train, ``scheduler`` (or
None) takes the optimizer, and ``scheduler_interval`` says whether Lightning steps it every
epoch or every optimizer step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]

SCHEDULER_INTERVALS = ("epoch", "step")


def check_scheduler_interval(interval: str) -> None:
    """Fail at construction (not at the first step) on an interval Lightning would reject."""
    if interval not in SCHEDULER_INTERVALS:
        raise ValueError(f"scheduler_interval must be 'epoch' or 'step', got {interval!r}")


def optimizers_config(
    parameters: Iterable[torch.nn.Parameter],
    *,
    optimizer: OptimizerFactory,
    scheduler: SchedulerFactory | None,
    interval: str,
):
    """``configure_optimizers``' return value: the optimizer alone, or with its scheduler."""
    built = optimizer(parameters)
    if scheduler is None:
        return built
    return {
        "optimizer": built,
        "lr_scheduler": {"scheduler": scheduler(built), "interval": interval},
    }
