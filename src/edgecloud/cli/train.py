"""``train(cfg)``: fit a LightningModule on a LightningDataModule, both chosen by config."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from edgecloud.utils.config import check_config, without_hydra
from edgecloud.utils.instantiate import instantiate_callbacks, instantiate_loggers
from edgecloud.utils.jsonio import write_json_report

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train (and validate) as configured; return every logged metric as a float.

    Also writes ``metrics.json`` (with the best checkpoint's path) into ``cfg.paths.output_dir``.
    """
    check_config(cfg, required=("data", "model", "trainer", "paths"))
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model)
    callbacks = instantiate_callbacks(cfg.get("callbacks"))
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(without_hydra(cfg), resolve=True))

    if cfg.get("train", True):
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))

    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    report = {"metrics": metrics, "best_checkpoint": best or None}
    write_json_report(Path(cfg.paths.output_dir) / "metrics.json", report)
    log.info("metrics: %s", metrics)
    return metrics
