"""Clownfish's training modules: action recognition (local/remote), SimiNet and the relevance
filter, on fake clips and tiny 3D ResNets."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from edgecloud.data.action_dataset import IGNORE_INDEX, ActionWindowDataset
from edgecloud.data.action_transforms import EvalClipTransform
from edgecloud.data.action_video import ActionSegment, ActionVideo
from edgecloud.metrics.action import action_accuracy
from edgecloud.models.resnet3d import STAGES, resnet3d
from edgecloud.models.siminet import siminet
from edgecloud.models.weights import load_weights
from edgecloud.tasks.action import ActionRecognitionModule, masked_cross_entropy, resize_clips
from edgecloud.tasks.relevance import RelevanceModule
from edgecloud.tasks.similarity import SiminetModule

CLASSES = ["wave", "drink", "jump"]
T, S = 4, 24  # clip length and side of the fake clips
WIDTHS = (4, 4, 8, 8)
SGD = partial(torch.optim.SGD, lr=0.5, momentum=0.9)


def _net(num_classes: int = len(CLASSES)) -> nn.Module:
    return resnet3d(depth=10, num_classes=num_classes, widths=WIDTHS, shortcut_type="A")


def _module(**kwargs) -> ActionRecognitionModule:
    return ActionRecognitionModule(
        net=kwargs.pop("net", None) or _net(),
        class_names=CLASSES,
        optimizer=SGD,
        **kwargs,
    )


class FakeClips(Dataset):
    """Random clips with given labels, as ActionClipDataset items."""

    def __init__(self, labels: list[int], *, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.clips = torch.randn(len(labels), 3, T, S, S, generator=generator)
        self.labels = torch.tensor(labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, item: int):
        return self.clips[item], {"label": self.labels[item]}


class FakePairs(Dataset):
    """Random clip pairs with alternating 0/1 labels, as SiminetPairDataset items."""

    def __init__(self, count: int = 8) -> None:
        self.first = torch.randn(count, 3, T, S, S)
        self.second = torch.randn(count, 3, T, S, S)

    def __len__(self) -> int:
        return len(self.first)

    def __getitem__(self, item: int):
        return self.first[item], self.second[item], {"label": torch.tensor(float(item % 2))}


def _trainer(tmp_path: Path, **kwargs) -> L.Trainer:
    options = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": tmp_path,
    }
    return L.Trainer(**(options | kwargs))


def _fit_one_step(module: L.LightningModule, tmp_path: Path, dataset: Dataset) -> L.Trainer:
    trainer = _trainer(tmp_path, max_steps=1, limit_val_batches=0)
    trainer.fit(module, DataLoader(dataset, batch_size=4))
    return trainer


def _local_checkpoint(tmp_path: Path, *, input_size: int | None = 16) -> tuple[Path, nn.Module]:
    """A Lightning checkpoint of a tiny local model after one training step, and its net."""
    module = _module(input_size=input_size)
    trainer = _fit_one_step(module, tmp_path, FakeClips([0, 1, 2, 1]))
    path = tmp_path / "local.ckpt"
    trainer.save_checkpoint(path)
    return path, module.net


# --- ActionRecognitionModule ----------------------------------------------------------------


def test_forward_resizes_clips_and_training_step_gives_a_finite_loss(tmp_path):
    module = _module(input_size=16)
    clips = torch.randn(2, 3, T, S, S)
    assert resize_clips(clips, 16).shape == (2, 3, T, 16, 16)
    assert resize_clips(clips, None) is clips
    assert module(clips).shape == (2, len(CLASSES))
    trainer = _fit_one_step(module, tmp_path, FakeClips([0, 2, 1, 0]))
    loss = trainer.callback_metrics["train/loss"]
    assert torch.isfinite(loss) and loss > 0


def test_background_windows_are_ignored_by_the_loss():
    logits = torch.randn(4, len(CLASSES), requires_grad=True)
    labels = torch.tensor([0, IGNORE_INDEX, 2, IGNORE_INDEX])
    expected = F.cross_entropy(logits[[0, 2]], labels[[0, 2]])
    assert torch.allclose(masked_cross_entropy(logits, labels), expected)
    # only background: zero, not NaN, and still differentiable
    loss = masked_cross_entropy(logits, torch.full((4,), IGNORE_INDEX))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None


def test_fine_tuning_from_weights_freezes_everything_before_conv5(tmp_path):
    weights = tmp_path / "pretrained.pt"
    torch.save(_net().state_dict(), weights)
    module = _module(weights=str(weights))
    assert module.trainable_from == "conv5"
    net = module.net
    before = {k: v.clone() for k, v in net.state_dict().items()}
    _fit_one_step(module, tmp_path, FakeClips([0, 1, 2, 1]))
    after = net.state_dict()
    frozen = [k for k in before if k.split(".")[0] in STAGES[: STAGES.index("conv5")]]
    trained = [k for k in before if k.split(".")[0] in ("conv5", "fc") and "num_batches" not in k]
    assert frozen and trained
    # parameters and batch-norm statistics of the frozen stages did not move
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert all(not p.requires_grad for p in net.conv4.parameters())
    assert any(not torch.equal(before[k], after[k]) for k in trained)


def test_training_from_scratch_trains_every_stage(tmp_path):
    module = _module()
    assert module.trainable_from == "conv1"
    before = module.net.conv1.conv.weight.clone()
    _fit_one_step(module, tmp_path, FakeClips([0, 1, 2, 1]))
    assert not torch.equal(before, module.net.conv1.conv.weight)


def test_checkpoint_loads_with_weights_only(tmp_path):
    path, _ = _local_checkpoint(tmp_path)
    checkpoint = torch.load(path, weights_only=True)
    hparams = checkpoint["hyper_parameters"]
    assert hparams["class_names"] == CLASSES
    assert hparams["input_size"] == 16 and hparams["trainable_from"] == "conv1"
    assert all(key.startswith("net.") for key in checkpoint["state_dict"])


class _FrameIndexFrames:
    """In-memory frames whose pixels hold their index, so a clip reveals which frames it holds."""

    def __init__(self, num_frames: int) -> None:
        self.num_frames = num_frames

    @property
    def location(self) -> Path:
        return Path("memory://frames")

    def __len__(self) -> int:
        return self.num_frames

    def read(self, index: int) -> np.ndarray:
        return np.full((8, 8, 3), index, dtype=np.uint8)


class _OldestFrameOracle(nn.Module):
    """Predicts the true class of each clip's oldest frame (class 0 for the background), so
    windows reaching into a new context are still wrong for a few frames."""

    def __init__(self, frame_labels: np.ndarray, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("labels", torch.as_tensor(frame_labels))
        self.num_classes = num_classes
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        oldest = (clips[:, 0, 0].mean(dim=(1, 2)) * 255).round().long()
        target = (self.labels[oldest] - 1).clamp(min=0)
        return F.one_hot(target, self.num_classes).float() + self.dummy


def test_per_frame_accuracy_matches_the_metrics_module(tmp_path):
    video = ActionVideo(
        name="v",
        frames=_FrameIndexFrames(120),
        fps=30.0,
        segments=(ActionSegment(2, 10, 50), ActionSegment(3, 60, 100)),
    )
    frame_labels = video.frame_labels()
    dataset = ActionWindowDataset(
        [video],
        window_size=8,
        window_stride=4,
        transform=EvalClipTransform(input_size=8, mean=(0, 0, 0), std=(1, 1, 1)),
    )
    module = ActionRecognitionModule(
        net=_OldestFrameOracle(frame_labels, len(CLASSES)), class_names=CLASSES, optimizer=SGD
    )
    (metrics,) = _trainer(tmp_path).validate(module, DataLoader(dataset, batch_size=7))
    starts = dataset.starts[0]
    window_predictions = np.maximum(frame_labels[starts], 1)  # background -> class 1
    expected = action_accuracy(frame_labels, window_predictions, window_size=8, window_stride=4)
    assert metrics["val/frame_acc"] == pytest.approx(expected)
    assert 0.5 < expected < 1.0  # frames shortly after each context start are wrong
    assert metrics["val/acc"] == pytest.approx(
        np.mean((window_predictions == dataset.labels[0])[dataset.labels[0] > 0])
    )


# --- SiminetModule --------------------------------------------------------------------------


def _siminet_module(**kwargs) -> SiminetModule:
    return SiminetModule(
        net=kwargs.pop("net", partial(siminet, hidden_dim=8)),
        local=kwargs.pop("local", None) or _module(input_size=16),
        class_names=kwargs.pop("class_names", CLASSES),
        optimizer=partial(torch.optim.SGD, lr=1e-3, momentum=0.9),
        **kwargs,
    )


def test_siminet_module_takes_features_from_the_saved_local_model(tmp_path):
    path, trained = _local_checkpoint(tmp_path)
    module = _siminet_module(local_checkpoint=str(path))
    local = module.local_net
    assert module.local_input_size == 16
    for name, tensor in trained.state_dict().items():
        assert torch.equal(tensor, local.state_dict()[name]), name
    assert not any(p.requires_grad for p in local.parameters())
    clips = torch.randn(3, 3, T, S, S)
    trained.eval()
    expected = trained.features(resize_clips(clips, 16))
    assert torch.allclose(module.local_features(clips), expected, atol=1e-6)
    assert module.net.feature_dim == trained.feature_dim == WIDTHS[-1]
    assert module(clips, clips).shape == (3,)
    # the frozen local model is no part of SimiNet's state (or its checkpoint)
    assert all(key.startswith("net.") for key in module.state_dict())


def test_siminet_on_logits_compares_class_scores(tmp_path):
    path, trained = _local_checkpoint(tmp_path)
    module = _siminet_module(local_checkpoint=str(path), feature="logits")
    clips = torch.randn(2, 3, T, S, S)
    trained.eval()
    assert torch.allclose(module.local_features(clips), trained(resize_clips(clips, 16)), atol=1e-5)
    assert module.net.feature_dim == len(CLASSES)


def test_siminet_module_needs_a_local_checkpoint_unless_told_otherwise(tmp_path):
    with pytest.raises(ValueError, match="local_checkpoint"):
        _siminet_module()
    assert _siminet_module(allow_untrained_local=True).local_input_size == 16
    with pytest.raises(FileNotFoundError):
        _siminet_module(local_checkpoint=str(tmp_path / "missing.ckpt"))


def test_siminet_module_rejects_a_checkpoint_of_another_model(tmp_path):
    path, _ = _local_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="classes"):
        _siminet_module(local_checkpoint=str(path), class_names=["a", "b", "c"])
    wider = _module(net=resnet3d(depth=10, num_classes=3, widths=(4, 4, 8, 16)), input_size=16)
    with pytest.raises(ValueError, match="does not fit"):
        _siminet_module(local_checkpoint=str(path), local=wider)
    with pytest.raises(ValueError, match="input_size"):
        _siminet_module(local_checkpoint=str(path), local=_module(input_size=20))


def test_siminet_trains_only_siminet_and_its_checkpoint_loads_weights_only(tmp_path):
    path, _ = _local_checkpoint(tmp_path)
    module = _siminet_module(local_checkpoint=str(path))
    local_before = {k: v.clone() for k, v in module.local_net.state_dict().items()}
    siminet_before = {k: v.clone() for k, v in module.net.state_dict().items()}
    trainer = _trainer(tmp_path, max_steps=2, limit_val_batches=1, num_sanity_val_steps=0)
    loader = DataLoader(FakePairs(), batch_size=4)
    trainer.fit(module, loader, loader)
    assert all(torch.equal(v, module.local_net.state_dict()[k]) for k, v in local_before.items())
    assert any(not torch.equal(v, module.net.state_dict()[k]) for k, v in siminet_before.items())
    assert 0.0 <= trainer.callback_metrics["val/acc"] <= 1.0
    saved = tmp_path / "siminet.ckpt"
    trainer.save_checkpoint(saved)
    checkpoint = torch.load(saved, weights_only=True)
    assert checkpoint["hyper_parameters"]["local_checkpoint"] == str(path)
    assert checkpoint["hyper_parameters"]["feature_dim"] == WIDTHS[-1]
    fresh = siminet(feature_dim=WIDTHS[-1], hidden_dim=8)
    assert not load_weights(fresh, saved).missing


# --- RelevanceModule ------------------------------------------------------------------------


def test_relevance_module_cuts_at_the_threshold_and_scores_the_filter(tmp_path):
    module = RelevanceModule(net=_net(2), optimizer=SGD, threshold=0.3)
    logits = torch.log(torch.tensor([[0.8, 0.2], [0.65, 0.35], [0.1, 0.9]]))
    assert module.predict_labels(logits).tolist() == [0, 1, 1]
    columns = {
        "loss": np.ones(4),
        "label": np.array([0, 1, 1, 0]),
        "prediction": np.array([0, 1, 0, 1]),
    }
    metrics = module.validation_metrics(columns)
    assert metrics["val/acc"] == 0.5
    assert metrics["val/recall"] == 0.5 and metrics["val/precision"] == 0.5
    assert metrics["val/sent_fraction"] == 0.5
    with pytest.raises(ValueError, match="background"):
        RelevanceModule(net=_net(2), class_names=CLASSES, optimizer=SGD)
