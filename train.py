"""Train a model: ``python train.py experiment=react/tiny_cloud [key=value ...]``.

A thin Hydra entry point over :func:`edgecloud.cli.train.train`; returns the configured
``optimized_metric`` so Hydra sweepers can optimise it.
"""

import os
from pathlib import Path

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))

import hydra
from omegaconf import DictConfig

from edgecloud.cli.train import train
from edgecloud.utils.config import register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    metrics = train(cfg)
    return metrics.get(cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
