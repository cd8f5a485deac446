"""LightningModule that trains and validates Clownfish's action recognition models.

Clownfish (Nigade et al., SEC 2020, section VI-A) runs a 3D ResNet-18 on the edge ("local") and a
3D ResNeXt-101 in the cloud ("remote"), both fine-tuned on PKU-MMD from ``conv5`` on, trained
only on the frames inside actions. :class:`ActionRecognitionModule` trains either one on
:class:`~edgecloud.data.action_dataset.ActionClipDataset` clips and validates it on every window
of the validation videos (:class:`~edgecloud.data.action_dataset.ActionWindowDataset`), where
background windows carry :data:`~edgecloud.data.action_dataset.IGNORE_INDEX` and are skipped by
the loss and the window accuracy, exactly as the paper scores only frames that contain an action.

The edge model can see smaller inputs than the cloud model (input resizing is one of the model
optimisations the paper names): ``input_size`` makes the module resize every clip it is given,
so one datamodule serves both models and the local model's input size travels with its
checkpoint (:class:`~edgecloud.tasks.similarity.SiminetModule` reads it from there).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from lightning import LightningModule
from torch import nn

from edgecloud.data.action_dataset import IGNORE_INDEX, ActionWindowDataset
from edgecloud.metrics.action import accuracy, scored_frames, weighted_f1
from edgecloud.models.resnet3d import STAGES, ResNet3d, set_trainable_from
from edgecloud.models.weights import load_weights
from edgecloud.tasks.gather import gather_from_all_ranks
from edgecloud.tasks.optimization import (
    OptimizerFactory,
    SchedulerFactory,
    check_scheduler_interval,
    optimizers_config,
)

FINE_TUNE_FROM = "conv5"
"""Clownfish fine-tunes ``conv5_x`` and ``fc`` of Kinetics-pretrained models."""
TRAIN_ALL_FROM = "conv1"


def resize_clips(clips: torch.Tensor, size: int | None) -> torch.Tensor:
    """Resize ``(N, C, T, H, W)`` clips to ``(N, C, T, size, size)``, frame by frame.

    Bilinear with antialiasing, like a camera or decoder producing fewer pixels, so an edge
    model at half resolution loses small details (and not just every other pixel). Returns the
    clips unchanged when ``size`` is None or already their size.
    """
    if clips.dim() != 5:
        raise ValueError(f"expected clips shaped (N, C, T, H, W), got {tuple(clips.shape)}")
    if size is None or clips.shape[-2:] == (size, size):
        return clips
    n, c, t, h, w = clips.shape
    frames = clips.transpose(1, 2).reshape(n * t, c, h, w)
    frames = F.interpolate(frames, size=(size, size), mode="bilinear", antialias=True)
    return frames.reshape(n, t, c, size, size).transpose(1, 2)


def masked_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the items whose label is not :data:`IGNORE_INDEX`.

    Zero (still attached to the graph) when every item is ignored, where
    :func:`torch.nn.functional.cross_entropy` would return NaN.
    """
    if not (labels != IGNORE_INDEX).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)


class ActionRecognitionModule(LightningModule):
    """Trains a clip classifier with cross-entropy and scores it like Clownfish every epoch.

    Logs ``train/loss``, ``train/acc``, ``val/loss`` and ``val/acc`` (over validation windows
    whose ground truth is an action; background windows are ignored), ``val/acc_best`` (best
    ``val/acc`` so far) and, when the validation set is an
    :class:`~edgecloud.data.action_dataset.ActionWindowDataset` seen whole, the paper's per-frame
    metrics ``val/frame_acc`` and ``val/frame_f1``: every frame inside an action shows the
    prediction of the last window ending at it, the first ``skip_frames`` frames of every
    context are skipped (:mod:`edgecloud.metrics.action`).

    Args:
        net: a clip classifier ``(N, 3, T, S, S) -> (N, C)``, normally a
            :class:`~edgecloud.models.resnet3d.ResNet3d`.
        class_names: names of the ``C`` action classes, in target order.
        optimizer: partial optimizer taking the trainable parameters.
        scheduler: optional partial LR scheduler taking the optimizer.
        scheduler_interval: ``"epoch"`` or ``"step"``.
        weights: optional local file to initialise ``net`` from (see
            :mod:`edgecloud.models.weights`); never downloaded.
        trainable_from: first trainable stage (``conv1`` .. ``fc``, see
            :func:`~edgecloud.models.resnet3d.set_trainable_from`); earlier stages are frozen,
            norm statistics included. Default: ``"conv5"`` when ``weights`` is given (the
            paper's fine-tuning), else ``"conv1"`` (train everything).
        input_size: side the clips are resized to before ``net`` sees them (None: as given).
        skip_frames: frames skipped at the start of every context in the per-frame metrics.
    """

    def __init__(
        self,
        *,
        net: nn.Module,
        class_names: Sequence[str],
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: str = "epoch",
        weights: str | None = None,
        trainable_from: str | None = None,
        input_size: int | None = None,
        skip_frames: int = 8,
    ) -> None:
        super().__init__()
        check_scheduler_interval(scheduler_interval)
        if trainable_from is None:
            trainable_from = FINE_TUNE_FROM if weights is not None else TRAIN_ALL_FROM
        if trainable_from not in STAGES:
            raise ValueError(f"trainable_from must be one of {STAGES}, got {trainable_from!r}")
        if input_size is not None and input_size < 1:
            raise ValueError(f"input_size must be positive, got {input_size}")
        # Only plain values go into the checkpoint, so it loads with torch.load(weights_only=True).
        self.save_hyperparameters(
            {
                "class_names": list(class_names),
                "weights": weights,
                "trainable_from": trainable_from,
                "input_size": input_size,
                "skip_frames": skip_frames,
            }
        )
        self.net = net
        self.class_names = list(class_names)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.input_size = input_size
        self.skip_frames = skip_frames
        self.trainable_from = trainable_from
        if weights is not None:
            load_weights(self.net, weights)
        if isinstance(net, ResNet3d):
            set_trainable_from(net, trainable_from)
        elif trainable_from != TRAIN_ALL_FROM:
            raise TypeError(
                f"trainable_from={trainable_from!r} needs a ResNet3d, got {type(net).__name__}"
            )
        self._val_records: list[dict[str, torch.Tensor]] = []
        self._best_acc = float("-inf")

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, C)`` of clips ``(N, 3, T, H, W)``, resized to ``input_size``."""
        return self.net(resize_clips(clips, self.input_size))

    def predict_labels(self, logits: torch.Tensor) -> torch.Tensor:
        """Predicted target index of every row of ``logits``: the argmax."""
        return logits.argmax(dim=1)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        clips, target = batch
        labels = target["label"]
        logits = self(clips)
        loss = masked_cross_entropy(logits, labels)
        valid = labels != IGNORE_INDEX
        batch_size = len(labels)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        if valid.any():
            correct = (self.predict_labels(logits.detach()) == labels)[valid].float().mean()
            self.log("train/acc", correct, on_step=False, on_epoch=True, batch_size=batch_size)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_records.clear()

    def validation_step(self, batch, batch_idx: int) -> None:
        clips, target = batch
        labels = target["label"]
        logits = self(clips)
        losses = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX, reduction="none")
        record = {
            "loss": losses.detach().cpu(),
            "label": labels.cpu(),
            "prediction": self.predict_labels(logits).cpu(),
        }
        for key in ("video_index", "window_index"):
            if key in target:
                record[key] = target[key].cpu()
        self._val_records.append(record)

    def _gathered(self, items: list) -> list:
        return gather_from_all_ranks(items, world_size=self.trainer.world_size)

    def on_validation_epoch_end(self) -> None:
        records = self._gathered(self._val_records)
        if not records:
            return
        columns = {key: torch.cat([r[key] for r in records]).numpy() for key in records[0]}
        values = self.validation_metrics(columns)
        acc = values.pop("val/acc")
        self.log("val/acc", acc, prog_bar=True)
        if not self.trainer.sanity_checking and np.isfinite(acc):
            self._best_acc = max(self._best_acc, acc)
            values["val/acc_best"] = self._best_acc
        self.log_dict(values)

    def validation_metrics(self, columns: dict[str, np.ndarray]) -> dict[str, float]:
        """Epoch metrics from every validation window's ``loss``, ``label``, ``prediction``
        (and ``video_index``/``window_index`` when the dataset gives them); must hold
        ``val/acc``."""
        valid = columns["label"] != IGNORE_INDEX
        num_valid = int(valid.sum())
        values = {
            "val/loss": float(columns["loss"][valid].sum() / max(num_valid, 1)),
            "val/acc": float((columns["prediction"] == columns["label"])[valid].mean())
            if num_valid
            else float("nan"),
        }
        values.update(self._frame_metrics(columns))
        return values

    def _val_window_dataset(self) -> ActionWindowDataset | None:
        loaders = getattr(self.trainer, "val_dataloaders", None)
        if isinstance(loaders, list | tuple):
            loaders = loaders[0] if len(loaders) == 1 else None
        dataset = getattr(loaders, "dataset", None)
        return dataset if isinstance(dataset, ActionWindowDataset) else None

    def _frame_metrics(self, columns: dict[str, np.ndarray]) -> dict[str, float]:
        """Clownfish's per-frame accuracy and weighted F1 over the validation videos whose every
        window was predicted (none when validation was cut short, e.g. ``fast_dev_run``)."""
        dataset = self._val_window_dataset()
        if dataset is None or "video_index" not in columns or "window_index" not in columns:
            return {}
        predictions: dict[int, dict[int, int]] = {}
        for video, window, prediction in zip(
            columns["video_index"], columns["window_index"], columns["prediction"], strict=True
        ):
            predictions.setdefault(int(video), {})[int(window)] = int(prediction)
        truth, predicted = [], []
        for video_index, video in enumerate(dataset.videos):
            windows = predictions.get(video_index, {})
            count = len(dataset.starts[video_index])
            if count == 0 or len(windows) < count:
                continue
            # Target index k is action id k + 1 (id 0 is the background).
            window_ids = np.array([windows[w] + 1 for w in range(count)], dtype=np.int64)
            scored = scored_frames(
                video.frame_labels(),
                window_size=dataset.window_size,
                window_stride=dataset.window_stride,
                skip_frames=self.skip_frames,
            )
            truth.append(scored.labels)
            predicted.append(window_ids[scored.windows])
        if not truth or not sum(len(t) for t in truth):
            return {}
        truth_all, predicted_all = np.concatenate(truth), np.concatenate(predicted)
        return {
            "val/frame_acc": float(accuracy(truth_all, predicted_all)),
            "val/frame_f1": float(weighted_f1(truth_all, predicted_all)),
        }

    def configure_optimizers(self):
        return optimizers_config(
            [p for p in self.net.parameters() if p.requires_grad],
            optimizer=self.optimizer_factory,
            scheduler=self.scheduler_factory,
            interval=self.scheduler_interval,
        )
