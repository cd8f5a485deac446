"""OmegaConf resolvers and config checks shared by every entry point and by the tests."""

from __future__ import annotations

import os
import secrets

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException


def _run_suffix() -> str:
    """Process id plus a random token: run dirs stay unique when jobs start in the same second."""
    return f"{os.getpid()}-{secrets.token_hex(2)}"


def register_resolvers() -> None:
    """Register ``${len:…}`` and ``${run_suffix:}``; safe to call more than once."""
    if not OmegaConf.has_resolver("len"):
        OmegaConf.register_new_resolver("len", lambda items: len(items))
    if not OmegaConf.has_resolver("run_suffix"):
        # use_cache: one value per process, so every reference names the same directory.
        OmegaConf.register_new_resolver("run_suffix", _run_suffix, use_cache=True)


def without_hydra(cfg: DictConfig) -> DictConfig:
    """The task's config without Hydra's own node (present when composed with
    ``return_hydra_config``, as the tests do; ``@hydra.main`` leaves it out already)."""
    return OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])


def check_config(cfg: DictConfig, *, required: tuple[str, ...]) -> None:
    """Fail before any work if a required group is absent or any value is missing (``???``)
    or cannot be resolved, naming the key, instead of failing minutes into a run."""
    for key in required:
        if OmegaConf.select(cfg, key) is None:
            raise ValueError(f"config has no '{key}' section; choose one, e.g. {key}=<name>")
    task_config = without_hydra(cfg)
    try:
        missing = sorted(OmegaConf.missing_keys(task_config))
        if missing:
            raise ValueError(f"config values are missing (???): {', '.join(missing)}")
        OmegaConf.to_container(task_config, resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as error:
        raise ValueError(f"config cannot be resolved: {error}") from error
