"""Loading a trained module's weights, naming the device that ran it and waiting for it,
shared by the evaluation entry points."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def load_checkpoint_weights(module: nn.Module, ckpt_path: str | Path) -> None:
    """Load a Lightning checkpoint's weights (weights only: no code runs from the file)."""
    path = Path(ckpt_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" not in checkpoint:
        raise ValueError(f"{path}: not a Lightning checkpoint (no 'state_dict')")
    module.load_state_dict(checkpoint["state_dict"])


def describe_device(device: torch.device) -> str:
    """``cuda:<GPU name>`` or ``cpu:<n> threads``, as recordings and reports name devices."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{torch.get_num_threads()} threads"


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work, so a timer around a call measures the call."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
