"""Export a Lightning checkpoint's detector weights as a plain state dict for release.

    python scripts/export_weights.py logs/release/tiny_edge/checkpoints/last.ckpt checkpoints/react_tiny_edge.pt

The output holds tensors only (no optimizer state, no hyperparameters), so it is small and
loads with ``torch.load(weights_only=True)`` through ``model.weights=<file>``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

NET_PREFIX = "net."


def export_weights(checkpoint_path: Path, output_path: Path) -> int:
    """Write the ``net.*`` tensors of the checkpoint without the prefix; return their count."""
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    state = {
        key[len(NET_PREFIX) :]: tensor.clone()
        for key, tensor in checkpoint["state_dict"].items()
        if key.startswith(NET_PREFIX)
    }
    if not state:
        raise ValueError(f"{checkpoint_path}: no 'net.' tensors; not a DetectionModule checkpoint")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, output_path)
    return len(state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("output", type=Path)
    arguments = parser.parse_args()
    count = export_weights(arguments.checkpoint, arguments.output)
    size_kb = arguments.output.stat().st_size / 1024
    print(f"wrote {count} tensors to {arguments.output} ({size_kb:.0f} KiB)")


if __name__ == "__main__":
    main()
