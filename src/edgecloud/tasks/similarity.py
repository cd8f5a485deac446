"""LightningModule that trains Clownfish's SimiNet on features of the frozen local model.

Clownfish (section VI-A) trains SimiNet as a binary classifier on ordered pairs of clips
``(C_{t-1}, C_t)`` (label 0: a context and the frames right before it) and ``(C_t, C_t)``
(label 1: two clips of one action), each clip turned into a feature vector by the *trained*
local (edge) model, with the sigmoid + binary cross-entropy loss, SGD (lr 1e-3, momentum 0.9,
weight decay 1e-3), 100 epochs and batches of 16. Pairs come from
:class:`~edgecloud.data.action_datamodule.SiminetPairDataModule`, augmented and redrawn every
epoch, so features are extracted in every step rather than once.

The local model is built from its config and loaded from ``local_checkpoint`` (a Lightning
checkpoint of :class:`~edgecloud.tasks.action.ActionRecognitionModule`); it is frozen, always in
eval mode, and kept out of this module's ``state_dict``: a SimiNet checkpoint holds only
``net.*`` (loadable with :func:`edgecloud.models.weights.load_weights`) and names its feature
extractor in its hyperparameters (``local_checkpoint``, ``feature``, ``local_input_size``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from lightning import LightningModule
from torch import nn

from edgecloud.models.siminet import SimiNet
from edgecloud.models.weights import load_weights
from edgecloud.tasks.action import (
    ActionRecognitionModule,
    resize_clips,
)
from edgecloud.tasks.optimization import (
    OptimizerFactory,
    SchedulerFactory,
    check_scheduler_interval,
    optimizers_config,
)

log = logging.getLogger(__name__)

FEATURE_KINDS = ("penultimate", "logits")
"""What SimiNet compares: the local model's pooled ``conv5`` features (the paper's description,
:meth:`~edgecloud.models.resnet3d.ResNet3d.features`) or its class logits (what the authors'
code feeds, an input of twice the number of classes)."""


class SiminetModule(LightningModule):
    """Trains SimiNet with ``BCEWithLogits`` on feature pairs of a frozen local model.

    Logs ``train/loss``, ``val/loss``, ``val/acc`` (pairs whose similarity ``>= 0.5`` matches
    their label) and ``val/acc_best``.

    Args:
        net: a :class:`~edgecloud.models.siminet.SimiNet`, or a factory taking
            ``feature_dim=`` (e.g. a partial of :func:`~edgecloud.models.siminet.siminet`),
            called with the local model's feature size.
        local: the local model: an :class:`~edgecloud.tasks.action.ActionRecognitionModule`
            (its ``net`` and ``input_size`` are used) or a bare network with ``features``.
        class_names: the local model's action classes (checked against the checkpoint).
        optimizer: partial optimizer taking SimiNet's parameters.
        scheduler: optional partial LR scheduler taking the optimizer.
        scheduler_interval: ``"epoch"`` or ``"step"``.
        local_checkpoint: local file with the trained local model's weights (a Lightning
            checkpoint of the local ``ActionRecognitionModule``); never downloaded.
        feature: ``"penultimate"`` or ``"logits"`` (see :data:`FEATURE_KINDS`).
        local_input_size: side the clips are resized to for the local model; default: the
            local module's ``input_size``.
        allow_untrained_local: accept ``local_checkpoint=None`` and use the local model as
            initialised (tests and smoke runs only: the similarity of random features means
            nothing).
    """

    def __init__(
        self,
        *,
        net: SimiNet | Callable[..., SimiNet],
        local: nn.Module,
        class_names: Sequence[str],
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: str = "epoch",
        local_checkpoint: str | None = None,
        feature: str = "penultimate",
        local_input_size: int | None = None,
        allow_untrained_local: bool = False,
    ) -> None:
        super().__init__()
        check_scheduler_interval(scheduler_interval)
        if feature not in FEATURE_KINDS:
            raise ValueError(f"feature must be one of {FEATURE_KINDS}, got {feature!r}")
        if local_checkpoint is None and not allow_untrained_local:
            raise ValueError(
                "SiminetModule needs the trained local model: set model.local_checkpoint to its "
                "Lightning checkpoint (e.g. .../checkpoints/last.ckpt of "
                "`python train.py experiment=clownfish/local_r3d18`), with model.local "
                "configured like that model; model.allow_untrained_local=true uses an "
                "untrained local model instead (tests only)"
            )
        if isinstance(local, ActionRecognitionModule):
            local_net = local.net
            if local_input_size is None:
                local_input_size = local.input_size
        else:
            local_net = local
        if not hasattr(local_net, "features"):
            raise TypeError(f"the local model needs a features() method: {type(local_net)}")
        self.class_names = list(class_names)
        if local_checkpoint is not None:
            local_input_size = _load_local(
                local_net,
                Path(local_checkpoint),
                class_names=self.class_names,
                input_size=local_input_size,
            )
        local_net.requires_grad_(False)
        local_net.eval()
        # A tuple, not an attribute: the frozen local model stays out of state_dict() and the
        # optimizer; _local_features moves it to the batch's device.
        self._local = (local_net,)
        self.feature = feature
        self.local_input_size = local_input_size
        feature_dim = local_net.feature_dim if feature == "penultimate" else len(class_names)
        self.net = net if isinstance(net, nn.Module) else net(feature_dim=feature_dim)
        if getattr(self.net, "feature_dim", feature_dim) != feature_dim:
            raise ValueError(
                f"SimiNet takes {self.net.feature_dim}-d features, the local model's "
                f"{feature!r} features are {feature_dim}-d"
            )
        # Only plain values go into the checkpoint, so it loads with torch.load(weights_only=True).
        self.save_hyperparameters(
            {
                "class_names": self.class_names,
                "local_checkpoint": local_checkpoint,
                "feature": feature,
                "feature_dim": feature_dim,
                "local_input_size": local_input_size,
            }
        )
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self._val_sums: list[torch.Tensor] = []
        self._best_acc = float("-inf")

    @property
    def local_net(self) -> nn.Module:
        """The frozen local model the features come from."""
        return self._local[0]

    @torch.no_grad()
    def local_features(self, clips: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` features of clips ``(N, 3, T, H, W)`` from the frozen local model."""
        local = self.local_net
        parameter = next(local.parameters(), None)
        if parameter is not None and parameter.device != clips.device:
            local.to(clips.device)
        local.eval()
        clips = resize_clips(clips, self.local_input_size)
        features = local.features(clips) if self.feature == "penultimate" else local(clips)
        return features.float()

    def _pair_features(self, first: torch.Tensor, second: torch.Tensor):
        """Features of both clips of every pair, in one local forward; precomputed feature
        pairs (``(N, D)``, see :func:`~edgecloud.data.action_dataset.precompute_pair_features`)
        pass through."""
        if first.dim() == 2:
            return first, second
        features = self.local_features(torch.cat([first, second]))
        return features[: len(first)], features[len(first) :]

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Similarity logits ``(N,)`` of ordered pairs of clips (or of their features)."""
        return self.net(*self._pair_features(first, second))

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        first, second, target = batch
        labels = target["label"].float()
        logits = self(first, second)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        batch_size = len(labels)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        accuracy = ((logits.detach() >= 0) == (labels >= 0.5)).float().mean()
        self.log("train/acc", accuracy, on_step=False, on_epoch=True, batch_size=batch_size)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_sums.clear()

    def validation_step(self, batch, batch_idx: int) -> None:
        first, second, target = batch
        labels = target["label"].float()
        logits = self(first, second)
        loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="sum")
        correct = ((logits >= 0) == (labels >= 0.5)).sum()
        self._val_sums.append(torch.tensor([float(loss), float(correct), float(len(labels))]))

    def on_validation_epoch_end(self) -> None:
        totals = torch.stack(self._val_sums).sum(dim=0) if self._val_sums else torch.zeros(3)
        if self.trainer.world_size > 1:
            totals = self.all_gather(totals.to(self.device)).reshape(-1, 3).sum(dim=0).cpu()
        loss_sum, correct, count = (float(v) for v in totals)
        if count == 0:
            return
        acc = correct / count
        self.log("val/acc", acc, prog_bar=True)
        values = {"val/loss": loss_sum / count}
        if not self.trainer.sanity_checking:
            self._best_acc = max(self._best_acc, acc)
            values["val/acc_best"] = self._best_acc
        self.log_dict(values)

    def configure_optimizers(self):
        return optimizers_config(
            self.net.parameters(),
            optimizer=self.optimizer_factory,
            scheduler=self.scheduler_factory,
            interval=self.scheduler_interval,
        )


def _load_local(
    local_net: nn.Module, path: Path, *, class_names: list[str], input_size: int | None
) -> int | None:
    """Load every tensor of the local model from ``path``, strictly, and return the input size
    it was trained at; fail when the checkpoint's classes or input size or any tensor's shape
    disagree with the configured local model."""
    path = path.expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"local model checkpoint not found: {path}")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    hparams = checkpoint.get("hyper_parameters", {}) if isinstance(checkpoint, dict) else {}
    trained_classes = hparams.get("class_names")
    if trained_classes is not None and list(trained_classes) != class_names:
        raise ValueError(
            f"{path}: the local model was trained on classes {list(trained_classes)}, "
            f"not the configured {class_names}"
        )
    if "input_size" in hparams:
        trained_size = hparams["input_size"]
        if input_size is not None and trained_size is not None and trained_size != input_size:
            raise ValueError(
                f"{path}: the local model was trained at input_size={trained_size}, "
                f"but model.local says {input_size}"
            )
        input_size = trained_size if trained_size is not None else input_size
    report = load_weights(local_net, path)
    if report.shape_mismatch or report.missing:
        raise ValueError(
            f"{path} does not fit the configured local model (model.local): tensors with "
            f"another shape {list(report.shape_mismatch)[:5]}, missing {list(report.missing)[:5]}"
        )
    log.info("local model for SimiNet loaded from %s (input size %s)", path, input_size)
    return input_size
