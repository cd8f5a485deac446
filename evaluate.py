"""Score a checkpoint and record its outputs:
``python evaluate.py experiment=react/tiny_cloud ckpt_path=/path/last.ckpt record=true``.

A thin Hydra entry point over :func:`edgecloud.cli.evaluate.evaluate`.
"""

import os
from pathlib import Path

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))

import hydra
from omegaconf import DictConfig

from edgecloud.cli.evaluate import evaluate
from edgecloud.utils.config import register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
