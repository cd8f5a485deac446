"""Build Lightning callbacks and loggers from their Hydra config groups."""

from __future__ import annotations

from hydra.utils import instantiate
from lightning import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig


def _instantiate_each(group: DictConfig | None, kind: str) -> list:
    if not group:
        return []
    objects = []
    for name, node in group.items():
        if node is None:  # disabled on purpose, e.g. callbacks.early_stopping=null
            continue
        if not isinstance(node, DictConfig) or "_target_" not in node:
            raise ValueError(f"{kind} '{name}' has no _target_: {node}")
        objects.append(instantiate(node))
    return objects


def instantiate_callbacks(group: DictConfig | None) -> list[Callback]:
    return _instantiate_each(group, "callback")


def instantiate_loggers(group: DictConfig | None) -> list[Logger]:
    return _instantiate_each(group, "logger")
