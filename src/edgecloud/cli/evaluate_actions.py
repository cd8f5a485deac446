"""``evaluate_actions(cfg)``: score Clownfish's local and remote action models on every validation
window and, with ``record=true``, write the action recording the Clownfish simulator replays.

A Clownfish replay needs four models at once: the local (edge) model, the remote (cloud) model,
SimiNet on the local model's features, and optionally the relevance model of the filtering
baseline. The experiment ``clownfish/eval/record`` names their module configs under ``clownfish.*``
and their checkpoints (``ckpt_path`` is the local model's)::

    python evaluate.py experiment=clownfish/eval/record ckpt_path=<local>.ckpt \\
        clownfish.remote_ckpt_path=<remote>.ckpt clownfish.siminet_ckpt_path=<siminet>.ckpt \\
        [clownfish.relevance_ckpt_path=<relevance>.ckpt] record=true
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from edgecloud.cli.checkpoints import describe_device, load_checkpoint_weights
from edgecloud.data.action_transforms import EvalClipTransform
from edgecloud.recording.action import ActionRecordingWriter
from edgecloud.recording.action_recorder import ActionVideoSummary, record_action_videos
from edgecloud.tasks.action import ActionRecognitionModule, resize_clips
from edgecloud.utils.config import check_config
from edgecloud.utils.jsonio import write_json_report

log = logging.getLogger(__name__)


class ModuleClipTransform:
    """What an :class:`ActionRecognitionModule` sees of a clip in validation: the datamodule's
    eval transform (central square at the data's ``input_size``), then the module's own resize
    to its ``input_size`` (e.g. the edge model's half resolution)."""

    def __init__(self, eval_transform: EvalClipTransform, *, input_size: int | None) -> None:
        self.eval_transform = eval_transform
        self.input_size = input_size

    def __call__(self, clip, *, generator=None) -> torch.Tensor:
        tensor = self.eval_transform(clip)
        return resize_clips(tensor[None], self.input_size)[0]


def evaluate_actions(cfg: DictConfig) -> dict[str, float]:
    """Score the local and remote models on the data config's validation windows; record every
    model's output per window when ``cfg.record`` (docs/recording_format.md). Writes
    ``metrics.json`` into ``cfg.paths.output_dir`` and returns its metrics."""
    check_config(cfg, required=("data", "model", "paths", "ckpt_path", "clownfish"))
    settings = cfg.clownfish
    device = torch.device(cfg.device)
    if cfg.cpu_threads is not None:
        torch.set_num_threads(cfg.cpu_threads)
    datamodule = instantiate(cfg.data)
    local = _loaded(cfg.model, cfg.ckpt_path)
    remote = _loaded(settings.remote, settings.remote_ckpt_path)
    siminet_module = None
    if settings.siminet_ckpt_path is not None:
        siminet_module = instantiate(settings.siminet, local_checkpoint=cfg.ckpt_path)
        load_checkpoint_weights(siminet_module, settings.siminet_ckpt_path)
    relevance = None
    if settings.relevance_ckpt_path is not None:
        relevance = _loaded(settings.relevance, settings.relevance_ckpt_path)

    eval_transform = datamodule.eval_transform
    output_dir = Path(cfg.paths.output_dir)
    feature_kind = siminet_module.feature if siminet_module else settings.feature
    with contextlib.ExitStack() as stack:
        # the recorder writes as it scores; without record=true into a directory thrown away
        root = (
            output_dir if cfg.record else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        )
        writer = ActionRecordingWriter(
            root / "recording",
            class_names=local.class_names,
            window_size=datamodule.window_size,
            window_stride=datamodule.window_stride,
            models=_model_descriptions(cfg),
            device=describe_device(device),
            frame_size=tuple(settings.frame_size),
            feature_kind=feature_kind,
        )
        summaries = record_action_videos(
            videos=datamodule.val_videos(),
            local=local.net,
            remote=remote.net,
            siminet=siminet_module.net if siminet_module else None,
            relevance=relevance.net if relevance else None,
            local_transform=ModuleClipTransform(eval_transform, input_size=local.input_size),
            remote_transform=ModuleClipTransform(eval_transform, input_size=remote.input_size),
            relevance_transform=(
                ModuleClipTransform(eval_transform, input_size=relevance.input_size)
                if relevance
                else None
            ),
            window_size=datamodule.window_size,
            window_stride=datamodule.window_stride,
            device=device,
            frame_size=tuple(settings.frame_size),
            feature_kind=feature_kind,
            warmup_calls=cfg.warmup_calls,
            writer=writer,
        )
        writer.close()
    metrics = _metrics(summaries)
    report = {
        "checkpoints": _checkpoints(cfg),
        "device": describe_device(device),
        "metrics": metrics,
    }
    write_json_report(output_dir / "metrics.json", report)
    log.info(
        "window accuracy over action windows: local %.4f, remote %.4f",
        metrics["val/local_acc"],
        metrics["val/remote_acc"],
    )
    return metrics


def _loaded(module_cfg: DictConfig, ckpt_path: str | None) -> ActionRecognitionModule:
    if ckpt_path is None:
        raise ValueError(f"no checkpoint given for {module_cfg.net._target_}")
    module = instantiate(module_cfg)
    load_checkpoint_weights(module, ckpt_path)
    return module.eval()


def _metrics(summaries: list[ActionVideoSummary]) -> dict[str, float]:
    """Window accuracy of both models over action windows (every video's counts summed), and
    the mean measured latency per window of each model."""
    windows = sum(s.action_windows for s in summaries)
    metrics = {
        "val/local_acc": sum(s.local_correct for s in summaries) / max(windows, 1),
        "val/remote_acc": sum(s.remote_correct for s in summaries) / max(windows, 1),
        "val/action_windows": float(windows),
        "val/videos": float(len(summaries)),
    }
    total = sum(s.num_windows for s in summaries)
    for model in ("local", "remote", "siminet", "relevance"):
        means = [getattr(s, f"mean_{model}_latency_s") for s in summaries]
        if all(mean is not None for mean in means):
            metrics[f"val/{model}_latency_s"] = (
                sum(mean * s.num_windows for mean, s in zip(means, summaries, strict=True)) / total
            )
    return metrics


def _checkpoints(cfg: DictConfig) -> dict[str, Any]:
    settings = cfg.clownfish
    return {
        "local": str(cfg.ckpt_path),
        "remote": str(settings.remote_ckpt_path),
        "siminet": settings.siminet_ckpt_path,
        "relevance": settings.relevance_ckpt_path,
    }


def _model_descriptions(cfg: DictConfig) -> dict[str, Any]:
    """Each model's network config and checkpoint, for the recording's manifest."""
    settings = cfg.clownfish
    networks = {
        "local": cfg.model.net,
        "remote": settings.remote.net,
        "siminet": settings.siminet.net,
        "relevance": settings.relevance.net,
    }
    return {
        role: {
            "checkpoint": checkpoint,
            "net": OmegaConf.to_container(networks[role], resolve=True),
        }
        for role, checkpoint in _checkpoints(cfg).items()
        if checkpoint is not None
    }
