"""LightningModule for the filtering baseline of Clownfish section VI-G (EarlyDiscard-style).

A small 3D CNN on the edge decides for every window whether it is relevant (holds an action) and
only relevant windows are sent to the cloud. The paper fine-tunes a 3D MobileNet for this binary
task and cuts at probability 0.5 "to achieve high recall (over 0.9)". :class:`RelevanceModule`
is :class:`~edgecloud.tasks.action.ActionRecognitionModule` with two classes (background,
action; see :mod:`edgecloud.data.relevance_dataset`), a configurable cut on the action
probability and the metrics a filter is judged by.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from edgecloud.data.relevance_dataset import RELEVANCE_CLASS_NAMES, RELEVANT
from edgecloud.tasks.action import ActionRecognitionModule
from edgecloud.tasks.optimization import OptimizerFactory, SchedulerFactory


class RelevanceModule(ActionRecognitionModule):
    """Binary window classifier: background (0) vs action (1), relevant when
    ``P(action) >= threshold``.

    Logs ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc`` (every window counts),
    ``val/acc_best``, ``val/recall`` (action windows kept), ``val/precision`` (kept windows that
    hold an action) and ``val/sent_fraction`` (windows kept, i.e. sent to the cloud).

    Args: as :class:`~edgecloud.tasks.action.ActionRecognitionModule`, ``net`` with two outputs;
        ``class_names`` must be :data:`~edgecloud.data.relevance_dataset.RELEVANCE_CLASS_NAMES`;
        ``threshold`` is the cut on the softmax probability of the action class.
    """

    def __init__(
        self,
        *,
        net: nn.Module,
        class_names: Sequence[str] = RELEVANCE_CLASS_NAMES,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: str = "epoch",
        weights: str | None = None,
        trainable_from: str | None = None,
        input_size: int | None = None,
        threshold: float = 0.5,
    ) -> None:
        if list(class_names) != list(RELEVANCE_CLASS_NAMES):
            raise ValueError(
                f"a relevance filter's classes are {list(RELEVANCE_CLASS_NAMES)}, "
                f"got {list(class_names)}"
            )
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold is a probability, got {threshold}")
        super().__init__(
            net=net,
            class_names=class_names,
            optimizer=optimizer,
            scheduler=scheduler,
            scheduler_interval=scheduler_interval,
            weights=weights,
            trainable_from=trainable_from,
            input_size=input_size,
        )
        self.threshold = threshold
        self.hparams["threshold"] = threshold

    def predict_labels(self, logits: torch.Tensor) -> torch.Tensor:
        """1 where the softmax probability of the action class reaches ``threshold``."""
        relevant = logits.softmax(dim=1)[:, RELEVANT] >= self.threshold
        return relevant.long()

    def validation_metrics(self, columns: dict[str, np.ndarray]) -> dict[str, float]:
        labels, predictions = columns["label"], columns["prediction"]
        relevant, kept = labels == RELEVANT, predictions == RELEVANT
        nan = float("nan")
        return {
            "val/loss": float(columns["loss"].mean()),
            "val/acc": float((labels == predictions).mean()),
            "val/recall": float((kept & relevant).sum() / relevant.sum())
            if relevant.any()
            else nan,
            "val/precision": float((kept & relevant).sum() / kept.sum()) if kept.any() else nan,
            "val/sent_fraction": float(kept.mean()),
        }
