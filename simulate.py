"""Replay recordings through an edge-cloud scenario:
``python simulate.py experiment=react/baselines`` (add ``-m`` for a figure's sweep).

A thin Hydra entry point over :func:`edgecloud.cli.simulate.simulate`; returns mAP@0.5 of what
the edge displayed, so Hydra sweepers can optimise it.
"""

import os
from pathlib import Path

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))

import hydra
from omegaconf import DictConfig

from edgecloud.cli.simulate import simulate
from edgecloud.utils.config import register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="configs", config_name="simulate")
def main(cfg: DictConfig) -> float | None:
    return simulate(cfg).get("sim/mAP50")


if __name__ == "__main__":
    main()
