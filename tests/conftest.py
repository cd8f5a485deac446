"""Shared fixtures: config composition the way train.py/evaluate.py compose, and a tiny
synthetic world generated once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

from edgecloud.utils.config import register_resolvers

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = PROJECT_ROOT / "configs"
os.environ.setdefault("PROJECT_ROOT", str(PROJECT_ROOT))
register_resolvers()
torch.set_num_threads(min(2, torch.get_num_threads()))

# A world small enough to generate in about a second and train on in seconds.
TINY_WORLD_OVERRIDES = [
    "data.prepare.config.num_train_sequences=2",
    "data.prepare.config.num_val_sequences=1",
    "data.prepare.config.frames_per_sequence=12",
    "data.prepare.config.width=160",
    "data.prepare.config.height=96",
    "data.batch_size=2",
    "data.num_workers=0",
    "data.train_frame_stride=1",
    "data.val_frame_stride=3",
]

# A tiny action world (PKU-MMD layout) for the clownfish experiments: nine short videos of
# 64x48 frames with about eight actions each, generated in about a second.
TINY_ACTION_WORLD_OVERRIDES = [
    "data.prepare.config.num_subjects=3",
    "data.prepare.config.sessions_per_subject=1",
    "data.prepare.config.val_subjects=1",
    "data.prepare.config.frames_per_video=[240,270]",
    "data.prepare.config.width=64",
    "data.prepare.config.height=48",
    "data.prepare.config.action_seconds=[0.5,0.8]",
    "data.prepare.config.background_seconds=[0.2,0.4]",
    "data.prepare.workers=1",
    "data.input_size=32",
    "data.batch_size=2",
    "data.num_workers=0",
]

TINY_URBAN_WORLD_OVERRIDES = [
    "data.prepare.config.num_train_clips=2",
    "data.prepare.config.num_val_clips=1",
    "data.prepare.config.frames_per_clip=2",
    "data.prepare.config.width=96",
    "data.prepare.config.height=48",
    "data.prepare.config.train_cities=1",
    "data.prepare.config.val_cities=1",
    "data.prepare.workers=1",
    "data.crop_size=[48,48]",
    "data.batch_size=2",
    "data.num_workers=0",
    "data.train_frame_stride=1",
    "data.val_frame_stride=1",
]


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` run only where CUDA is available."""
    requires_cuda = pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs a CUDA device; none on this machine"
    )
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(requires_cuda)


def experiment_names(*, task: str = "train", scenario: str = "react") -> list[str]:
    """Every experiment config of a task, as ``react/tiny_edge`` (train: not under a ``sim/`` or
    ``eval/`` folder), ``runespoor/drone/eval/compare`` (evaluate: the files under an ``eval/``
    folder) or ``react/sim/baselines`` (simulate: the files under a ``sim/`` folder, of one
    ``scenario``, the first folder of the name: ``react`` or ``clownfish``)."""
    root = CONFIG_DIR / "experiment"
    names = sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))
    names = [name for name in names if ("/sim/" in name) == (task == "simulate")]
    if task in ("train", "evaluate"):
        # evaluate-only experiments (e.g. clownfish/eval/record) train nothing
        names = [name for name in names if ("/eval/" in name) == (task == "evaluate")]
    if task == "simulate":
        names = [name for name in names if name.split("/", 1)[0] == scenario]
    return names


def shrink_model(cfg: DictConfig, *, height: int, width: int) -> None:
    """Run any detector at the tiny world's native size so CPU tests stay fast."""
    net = cfg.model.net
    with open_dict(cfg):
        if "min_size" in net:
            net.min_size = min(height, width)
            net.max_size = max(height, width)
        if "image_size" in net:
            net.image_size = max(height, width)


def compose_config(
    config_name: str,
    *,
    overrides: list[str],
    tmp_path: Path,
    data_dir: Path,
) -> DictConfig:
    """Compose like ``@hydra.main`` does, with run and data directories under pytest's tmp dirs."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        cfg = compose(
            config_name=config_name,
            overrides=[
                *overrides,
                f"paths.data_dir={data_dir}",
                f"paths.log_dir={tmp_path / 'logs'}",
                f"hydra.run.dir={tmp_path / 'run'}",
            ],
            return_hydra_config=True,
        )
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(tmp_path / "run")
    HydraConfig.instance().set_config(cfg)
    return cfg


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """One data dir for the session: the tiny world is generated once and then cached."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def tiny_world(data_dir, tmp_path_factory) -> Path:
    """The tiny synthetic world, generated through the data config as train.py would."""
    run_dir = tmp_path_factory.mktemp("world_run")
    cfg = compose_config(
        "train", overrides=TINY_WORLD_OVERRIDES, tmp_path=run_dir, data_dir=data_dir
    )
    instantiate(cfg.data).prepare_data()
    return data_dir / "drone_world"


@pytest.fixture(scope="session")
def tiny_action_world(data_dir, tmp_path_factory) -> Path:
    """The tiny synthetic action world, generated through the data config as train.py would."""
    run_dir = tmp_path_factory.mktemp("action_world_run")
    cfg = compose_config(
        "train",
        overrides=["experiment=clownfish/local_r3d18", *TINY_ACTION_WORLD_OVERRIDES],
        tmp_path=run_dir,
        data_dir=data_dir,
    )
    instantiate(cfg.data).prepare_data()
    return data_dir / "action_world"


@pytest.fixture(scope="session")
def tiny_urban_world(data_dir, tmp_path_factory) -> Path:
    """The tiny synthetic urban world, generated through the data config as train.py would."""
    run_dir = tmp_path_factory.mktemp("urban_world_run")
    cfg = compose_config(
        "train",
        overrides=["experiment=runespoor/segmenter", *TINY_URBAN_WORLD_OVERRIDES],
        tmp_path=run_dir,
        data_dir=data_dir,
    )
    instantiate(cfg.data).prepare_data()
    return data_dir / "urban_world"
