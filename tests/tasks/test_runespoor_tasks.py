"""Runespoor's training tasks: the segmentation model and super-resolution's three objectives."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from edgecloud.data.formats.cityscapes_labels import CITYSCAPES_CLASS_NAMES, IGNORE_INDEX
from edgecloud.metrics.regions import small_region_masks
from edgecloud.models.carn import carn_m
from edgecloud.models.segmentation import lraspp_mobilenet_v3
from edgecloud.tasks.segmentation import SegmentationModule, segmentation_scores
from edgecloud.tasks.sr_objectives import pseudo_label_cross_entropy, small_region_cross_entropy
from edgecloud.tasks.super_resolution import SuperResolutionModule, load_analytics_model

CLASSES = list(CITYSCAPES_CLASS_NAMES)


def tiny_segmenter() -> SegmentationModule:
    torch.manual_seed(0)
    return SegmentationModule(
        net=lraspp_mobilenet_v3(num_classes=len(CLASSES), width_mult=0.35, inter_channels=16),
        class_names=CLASSES,
        optimizer=partial(torch.optim.AdamW, lr=1e-3),
    )


@pytest.fixture
def segmenter_checkpoint(tmp_path: Path) -> Path:
    """A Lightning-style checkpoint of a (untrained) segmentation module."""
    module = tiny_segmenter()
    path = tmp_path / "segmenter.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    return path


def sr_module(objective: str, checkpoint: Path | None) -> SuperResolutionModule:
    torch.manual_seed(1)
    return SuperResolutionModule(
        net=carn_m(scale=2),
        scale=2,
        objective=objective,
        class_names=CLASSES,
        optimizer=partial(torch.optim.Adam, lr=1e-3),
        analytics=tiny_segmenter() if checkpoint is not None else None,
        analytics_checkpoint=str(checkpoint) if checkpoint is not None else None,
    )


def batch(height: int = 32, width: int = 64) -> dict[str, torch.Tensor]:
    """A road frame (class 0) with one 2x2 pole (class 5): small at a 1% threshold."""
    torch.manual_seed(2)
    image = torch.rand(1, 3, height, width)
    target = torch.zeros(1, height, width, dtype=torch.long)
    target[0, 10:12, 20:22] = 5
    low_res = F.avg_pool2d(image, 2)
    small = small_region_masks(target, max_area_fraction=0.01)
    return {"image": image, "low_res": low_res, "target": target, "small": small}


def test_small_region_cross_entropy_counts_only_small_regions() -> None:
    target = torch.zeros(1, 10, 10, dtype=torch.long)
    target[0, 0, 0] = 3  # one pixel: 1% of the frame, small below 2%
    logits = torch.zeros(1, 4, 10, 10)
    logits[0, 1] = 5.0  # every pixel predicted as class 1: wrong everywhere
    loss = small_region_cross_entropy(logits, target, target == 3)
    expected = -torch.log_softmax(torch.tensor([0.0, 5.0, 0.0, 0.0]), dim=0)[3]
    assert math.isclose(loss.item(), expected.item(), rel_tol=1e-6)


def test_small_region_cross_entropy_is_zero_without_small_regions() -> None:
    target = torch.zeros(1, 6, 6, dtype=torch.long)
    logits = torch.randn(1, 3, 6, 6, requires_grad=True)
    loss = small_region_cross_entropy(logits, target, torch.zeros(1, 6, 6, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad


def test_small_region_cross_entropy_never_scores_ignored_pixels() -> None:
    target = torch.full((1, 10, 10), IGNORE_INDEX, dtype=torch.long)
    target[0, 5, 5] = 2
    logits = torch.zeros(1, 3, 10, 10)
    everywhere = torch.ones(1, 10, 10, dtype=torch.bool)  # ignored pixels stay unscored
    loss = small_region_cross_entropy(logits, target, everywhere)
    assert math.isclose(loss.item(), math.log(3.0), rel_tol=1e-6)


def test_pseudo_label_cross_entropy_targets_the_reference_argmax() -> None:
    reference = torch.zeros(1, 2, 1, 2)
    reference[0, 1, 0, 0] = 1.0  # argmax: class 1 at pixel 0, class 0 at pixel 1
    logits = torch.zeros(1, 2, 1, 2)
    logits[0, 1] = math.log(3.0)  # p(class 1) = 0.75 everywhere
    expected = -(math.log(0.75) + math.log(0.25)) / 2
    assert math.isclose(
        pseudo_label_cross_entropy(logits, reference).item(), expected, rel_tol=1e-6
    )


@pytest.mark.parametrize("objective", ["analytics_aware", "cloudseg"])
def test_analytics_gradients_reach_only_the_sr_network(objective, segmenter_checkpoint) -> None:
    module = sr_module(objective, segmenter_checkpoint)
    loss = module.training_step(batch(), 0)
    loss.backward()
    assert all(p.grad is not None for p in module.net.parameters())
    analytics = module._frozen[0]
    assert all(p.grad is None and not p.requires_grad for p in analytics.parameters())
    assert not analytics.training
    # the frozen model is neither saved with the SR network nor optimised
    assert all(key.startswith("net.") for key in module.state_dict())
    optimizer = module.configure_optimizers()
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(
        list(module.net.parameters())
    )


def test_analytics_aware_loss_is_the_weighted_sum(segmenter_checkpoint) -> None:
    module = sr_module("analytics_aware", segmenter_checkpoint)
    data = batch()
    with torch.no_grad():
        restored = module(data["low_res"])
        l1 = F.l1_loss(restored, data["image"])
        ce = small_region_cross_entropy(module._frozen[0](restored), data["target"], data["small"])
        loss = module.training_step(data, 0)
    assert ce.item() > 0
    assert math.isclose(loss.item(), 0.95 * l1.item() + 0.05 * ce.item(), rel_tol=1e-5)


def test_reconstruction_objective_is_plain_l1() -> None:
    module = sr_module("reconstruction", None)
    data = batch()
    with torch.no_grad():
        loss = module.training_step(data, 0)
        expected = F.l1_loss(module(data["low_res"]), data["image"])
    assert math.isclose(loss.item(), expected.item(), rel_tol=1e-6)


def test_analytics_objectives_need_the_trained_segmenter() -> None:
    with pytest.raises(ValueError, match="analytics_checkpoint"):
        sr_module("analytics_aware", None)


def test_unknown_objective_is_rejected() -> None:
    with pytest.raises(ValueError, match="objective must be one of"):
        SuperResolutionModule(
            net=carn_m(scale=2),
            scale=2,
            objective="perceptual",
            class_names=CLASSES,
            optimizer=partial(torch.optim.Adam, lr=1e-3),
        )


def test_analytics_checkpoint_with_other_classes_is_rejected(tmp_path: Path) -> None:
    module = tiny_segmenter()
    path = tmp_path / "other.ckpt"
    torch.save(
        {"state_dict": module.state_dict(), "hyper_parameters": {"class_names": ["a"]}}, path
    )
    with pytest.raises(ValueError, match="trained on classes"):
        load_analytics_model(tiny_segmenter(), path, class_names=CLASSES)


def test_segmentation_scores_from_a_confusion_matrix() -> None:
    # rows: target, columns: prediction; class 2 never appears
    matrix = np.zeros((19, 19), dtype=np.int64)
    matrix[0, 0], matrix[0, 1], matrix[1, 1] = 6, 2, 2
    scores = segmentation_scores(matrix, class_names=CLASSES, prefix="val")
    assert math.isclose(scores["val/IoU_road"], 6 / 8)
    assert math.isclose(scores["val/IoU_sidewalk"], 2 / 4)
    assert math.isclose(scores["val/mIoU"], (6 / 8 + 2 / 4) / 2)
    assert math.isclose(scores["val/pixel_acc"], 8 / 10)
    assert "val/IoU_building" not in scores and "val/IoU_traffic_light" not in scores
