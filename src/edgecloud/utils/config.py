"""OmegaConf resolvers and config checks shared by every entry point and by the tests."""

from __future__ import annotations

import os
import secrets

from omegaconf import DictConfig, OmegaConf


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


def check_config(cfg: DictConfig, *, required: tuple[str, ...]) -> None:
    """Fail before any work if a required group is absent or any value is missing (``???``)
    or cannot be resolved, naming the key, instead of failing minutes into a run."""
    for key in required:
        if OmegaConf.select(cfg, key) is None:
            raise ValueError(f"config has no '{key}' section; choose one, e.g. {key}=<name>")
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ValueError(f"config values are missing (???): {', '.join(missing)}")
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
