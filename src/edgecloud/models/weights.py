"""Load pretrained weights from a local file, never from the network.

Accepts a plain ``state_dict`` (torchvision's released ``.pth`` files), a Lightning checkpoint
(its ``state_dict`` with the ``net.`` prefix of :class:`~edgecloud.tasks.detection.DetectionModule`),
or a dict holding a ``model`` state dict. Tensors whose shape differs from the model's — typically
the classification head when the class count differs — are left at their initialisation and
listed in the report, so fine-tuning a COCO detector on 10 classes works and says what it skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

_LIGHTNING_PREFIX = "net."


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_weights` did: keys loaded, keys skipped for shape, keys absent from the file."""

    loaded: tuple[str, ...]
    shape_mismatch: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]


def _extract_state_dict(checkpoint: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(checkpoint, dict) and "state_dict" in checkpoint:
        state = checkpoint["state_dict"]
        if all(key.startswith(_LIGHTNING_PREFIX) for key in state):
            state = {key[len(_LIGHTNING_PREFIX) :]: value for key, value in state.items()}
        return state
    if isinstance(checkpoint, dict) and "model" in checkpoint:
        return checkpoint["model"]
    if isinstance(checkpoint, dict) and all(
        isinstance(v, torch.Tensor) for v in checkpoint.values()
    ):
        return checkpoint
    raise ValueError(f"{path}: not a state dict, a Lightning checkpoint or a {{'model': ...}} dict")


def load_weights(model: nn.Module, path: str | Path) -> LoadReport:
    """Copy every tensor of the file at ``path`` whose name and shape match into ``model``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    source = _extract_state_dict(checkpoint, path)
    target = model.state_dict()
    compatible = {k: v for k, v in source.items() if k in target and target[k].shape == v.shape}
    report = LoadReport(
        loaded=tuple(sorted(compatible)),
        shape_mismatch=tuple(sorted(k for k in source if k in target and k not in compatible)),
        missing=tuple(sorted(k for k in target if k not in source)),
        unexpected=tuple(sorted(k for k in source if k not in target)),
    )
    if not compatible:
        raise ValueError(f"{path}: no tensor in this file matches the model; wrong weights file?")
    model.load_state_dict(compatible, strict=False)
    log.info(
        "loaded %d tensors from %s; kept initialisation for %d with another shape (%s) "
        "and %d absent from the file; ignored %d unknown",
        len(report.loaded),
        path,
        len(report.shape_mismatch),
        ", ".join(report.shape_mismatch[:5]) + (" ..." if len(report.shape_mismatch) > 5 else ""),
        len(report.missing),
        len(report.unexpected),
    )
    return report


def load_all_weights(model: nn.Module, path: str | Path, *, what: str) -> LoadReport:
    """:func:`load_weights`, but every tensor of ``model`` must come from the file and the file
    may hold no other: a ``model`` configured unlike the trained one fails, naming the file and
    ``what`` (the config entry that describes it)."""
    report = load_weights(model, path)
    if report.shape_mismatch or report.missing or report.unexpected:
        raise ValueError(
            f"{path} does not fit the configured {what}: tensors with another shape "
            f"{list(report.shape_mismatch)[:5]}, missing {list(report.missing)[:5]}, not in the "
            f"model {list(report.unexpected)[:5]}"
        )
    return report
