"""The server's restoration methods, shared by Runespoor's evaluation entry points: the
segmentation and detection comparisons (:mod:`edgecloud.cli.evaluate_segmentation`,
:mod:`edgecloud.cli.evaluate_detection_sr`) and the knob recording
(:mod:`edgecloud.cli.record_knobs`).

A restorer maps the server's decoded low-resolution copy, ``(1, 3, h, w)`` in ``[0, 1]``, to
the analytics model's input resolution: bilinear or bicubic interpolation, or an SR network
loaded from a ``train.py`` run (standard SR, CloudSeg, ASR).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from edgecloud.cli.checkpoints import synchronize
from edgecloud.metrics.method_comparison import REFERENCE
from edgecloud.models.carn import InterpolationUpsampler
from edgecloud.models.weights import load_all_weights

INTERPOLATIONS = ("bilinear", "bicubic")
"""The interpolation baselines, by their ``InterpolationUpsampler`` mode."""


def load_sr_network(net: nn.Module, path: str | Path) -> nn.Module:
    """``net`` with every tensor loaded from an SR training run's checkpoint (strict: a network
    configured unlike the trained one fails, naming the file), in evaluation mode."""
    load_all_weights(net, path, what="SR network (runespoor.sr_net)")
    return net.eval()


def comparison_restorers(settings: DictConfig, *, scale: int) -> dict[str, nn.Module]:
    """The methods a comparison puts side by side at ``scale``: the interpolation baselines,
    then one ``settings.sr_net`` per entry of ``settings.sr_checkpoints`` (method name ->
    checkpoint; null skips the method). ``settings`` is a comparison's ``runespoor`` group."""
    restorers: dict[str, nn.Module] = {
        mode: InterpolationUpsampler(scale=scale, mode=mode) for mode in INTERPOLATIONS
    }
    for name, path in settings.sr_checkpoints.items():
        if name in (*INTERPOLATIONS, REFERENCE):
            raise ValueError(f"runespoor.sr_checkpoints.{name}: the name is taken by a baseline")
        if path is not None:
            restorers[name] = load_sr_network(instantiate(settings.sr_net), path)
    return restorers


def timed_restore(restorer: nn.Module, low_res: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The restored ``(3, H, W)`` frame of a ``(1, 3, h, w)`` batch, clamped to ``[0, 1]`` (the
    analytics models' input range), and the seconds the restorer took (queued CUDA work
    included, so the time is the call's)."""
    synchronize(low_res.device)
    start = time.perf_counter()
    restored = restorer(low_res).clamp(0.0, 1.0)[0]
    synchronize(low_res.device)
    return restored, time.perf_counter() - start
