"""Runespoor's super-resolution for detection: the small-object detection loss of ASR through a
frozen detector, and the module that trains SR with it."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgecloud.models.carn import carn_m
from edgecloud.models.detectors import tiny_fcos
from edgecloud.tasks.detection import DetectionModule
from edgecloud.tasks.sr_detection_objectives import (
    detector_input_scale,
    loss_mode,
    small_object_detection_loss,
    small_object_targets,
)
from edgecloud.tasks.super_resolution import load_analytics_model
from edgecloud.tasks.super_resolution_detection import (
    DetectionSuperResolutionModule,
    frame_psnr,
    small_object_annotations,
)

CLASSES = ["pedestrian", "car", "bus"]
HEIGHT, WIDTH = 64, 96


def tiny_detector(**kwargs) -> DetectionModule:
    torch.manual_seed(0)
    options = {"min_size": HEIGHT, "max_size": WIDTH, "widths": (8, 16, 32, 64), "fpn_channels": 32}
    return DetectionModule(
        net=tiny_fcos(num_classes=len(CLASSES), **{**options, **kwargs}),
        class_names=CLASSES,
        optimizer=partial(torch.optim.AdamW, lr=1e-3),
    )


@pytest.fixture
def detector_checkpoint(tmp_path: Path) -> Path:
    """A Lightning-style checkpoint of an (untrained) detection module."""
    module = tiny_detector()
    path = tmp_path / "detector.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    return path


def frozen_detector(checkpoint: Path) -> nn.Module:
    return load_analytics_model(tiny_detector(), checkpoint, class_names=CLASSES)


def sr_module(objective: str, checkpoint: Path | None, **kwargs) -> DetectionSuperResolutionModule:
    torch.manual_seed(1)
    return DetectionSuperResolutionModule(
        net=carn_m(scale=2),
        scale=2,
        objective=objective,
        class_names=CLASSES,
        optimizer=partial(torch.optim.Adam, lr=1e-3),
        analytics=tiny_detector() if checkpoint is not None else None,
        analytics_checkpoint=str(checkpoint) if checkpoint is not None else None,
        **kwargs,
    )


def target(boxes, labels, small) -> dict[str, torch.Tensor]:
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor(labels, dtype=torch.int64),
        "ignore_boxes": torch.zeros(0, 4),
        "small": torch.tensor(small, dtype=torch.bool),
        "frame_size": torch.tensor([HEIGHT, WIDTH]),
    }


def batch() -> dict:
    """Two frames: one with a small pedestrian and a large bus, one with only a large car."""
    torch.manual_seed(2)
    image = torch.rand(2, 3, HEIGHT, WIDTH)
    return {
        "image": list(image),
        "low_res": list(F.avg_pool2d(image, 2)),
        "target": [
            target([[10, 10, 16, 22], [30, 5, 90, 60]], [1, 3], [True, False]),
            target([[5, 5, 60, 50]], [2], [False]),
        ],
    }


def test_small_object_targets_keep_frames_with_small_boxes_and_only_those_boxes() -> None:
    targets = [
        target([[0, 0, 4, 4], [0, 0, 50, 50], [8, 8, 10, 12]], [1, 2, 3], [True, False, True]),
        target([[0, 0, 50, 50]], [2], [False]),
        target([], [], []),
        target([[1, 2, 3, 4]], [1], [True]),
    ]
    indices, restricted = small_object_targets(targets)
    assert indices == [0, 3]
    assert restricted[0]["boxes"].tolist() == [[0, 0, 4, 4], [8, 8, 10, 12]]
    assert restricted[0]["labels"].tolist() == [1, 3]
    assert restricted[1]["boxes"].tolist() == [[1, 2, 3, 4]]
    assert set(restricted[0]) == {"boxes", "labels"}


def test_without_small_boxes_the_loss_is_an_attached_zero(detector_checkpoint) -> None:
    detector = frozen_detector(detector_checkpoint)
    images = [torch.rand(3, HEIGHT, WIDTH, requires_grad=True)]
    loss, terms = small_object_detection_loss(
        detector, images, [target([[5, 5, 60, 50]], [2], [False])]
    )
    assert loss.item() == 0.0 and terms == {}
    loss.backward()
    assert images[0].grad is not None and not images[0].grad.any()


def test_the_loss_is_the_detectors_loss_on_the_small_boxes_of_frames_holding_some(
    detector_checkpoint,
) -> None:
    detector = frozen_detector(detector_checkpoint)
    data = batch()
    loss, terms = small_object_detection_loss(detector, data["image"], data["target"])
    # by hand: only frame 0 goes in, with only its pedestrian
    with loss_mode(detector):
        expected = detector(
            [data["image"][0]],
            [{"boxes": torch.tensor([[10.0, 10.0, 16.0, 22.0]]), "labels": torch.tensor([1])}],
        )
    assert set(terms) == {"classification", "bbox_regression", "bbox_ctrness"}
    assert math.isclose(loss.item(), sum(v.item() for v in expected.values()), rel_tol=1e-6)


def test_the_frozen_detector_keeps_batch_norm_statistics_and_its_modes(
    detector_checkpoint,
) -> None:
    detector = frozen_detector(detector_checkpoint)
    norms = [m for m in detector.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms
    before = {name: t.clone() for name, t in detector.state_dict().items()}
    modes_inside = []
    hooks = [
        m.register_forward_pre_hook(lambda m, _: modes_inside.append(m.training)) for m in norms
    ]
    data = batch()
    small_object_detection_loss(detector, data["image"], data["target"])
    for hook in hooks:
        hook.remove()
    assert modes_inside and not any(modes_inside)  # normalised with running statistics
    after = detector.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert not any(m.training for m in detector.modules())
    assert not detector.transform._skip_resize


def test_a_crop_is_seen_at_the_scale_the_detector_sees_its_whole_frame() -> None:
    # the detector shrinks a 128x192 frame to 64x96 (min_size 64): a 64x160 crop to 32x80
    detector = tiny_detector(min_size=64, max_size=96).net.requires_grad_(False).eval()
    assert detector_input_scale(detector.transform, (128, 192)) == (0.5, 0.5)
    seen = []
    detector.transform.register_forward_hook(lambda m, i, out: seen.append(out))
    crop = target([[8, 8, 16, 20]], [1], [True])
    crop["frame_size"] = torch.tensor([128, 192])
    small_object_detection_loss(detector, [torch.rand(3, 64, 160)], [crop])
    ((images, targets),) = seen
    assert images.image_sizes == [(32, 80)]
    assert targets[0]["boxes"].tolist() == [[4, 4, 8, 10]]
    # torchvision's fixed-size transform (SSD) is (width, height)
    detector.transform.fixed_size = (48, 32)
    assert detector_input_scale(detector.transform, (128, 192)) == (0.25, 0.25)


def test_asr_gradients_reach_only_the_sr_network(detector_checkpoint) -> None:
    # only the detection term (alpha 0): its gradient must reach the SR network
    module = sr_module("analytics_aware", detector_checkpoint, alpha=0.0, beta=1.0)
    loss = module.training_step(batch(), 0)
    assert loss.item() > 0
    loss.backward()
    grads = [p.grad for p in module.net.parameters()]
    assert all(g is not None for g in grads) and any(bool(g.any()) for g in grads)
    detector = module._frozen[0]
    assert all(p.grad is None and not p.requires_grad for p in detector.parameters())
    assert not detector.training
    # the frozen detector is neither saved with the SR network nor optimised
    assert all(key.startswith("net.") for key in module.state_dict())
    optimizer = module.configure_optimizers()
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(
        list(module.net.parameters())
    )


def test_asr_loss_is_the_weighted_sum(detector_checkpoint) -> None:
    module = sr_module("analytics_aware", detector_checkpoint)
    assert (module.alpha, module.beta) == (0.9, 0.1)
    data = batch()
    with torch.no_grad():
        restored = module.restore(data["low_res"])
        l1 = F.l1_loss(torch.stack(restored), torch.stack(data["image"]))
        analytics, _ = small_object_detection_loss(module._frozen[0], restored, data["target"])
        loss = module.training_step(data, 0)
    assert analytics.item() > 0
    assert math.isclose(loss.item(), 0.9 * l1.item() + 0.1 * analytics.item(), rel_tol=1e-5)


def test_restore_handles_frames_of_different_sizes() -> None:
    module = sr_module("reconstruction", None)
    restored = module.restore([torch.rand(3, 8, 12), torch.rand(3, 10, 6)])
    assert [tuple(r.shape) for r in restored] == [(3, 16, 24), (3, 20, 12)]


def test_asr_needs_the_trained_detector_and_a_known_objective(detector_checkpoint) -> None:
    with pytest.raises(ValueError, match="analytics_checkpoint"):
        sr_module("analytics_aware", None)
    with pytest.raises(ValueError, match="objective must be one of"):
        sr_module("cloudseg", detector_checkpoint)


def test_detector_checkpoints_load_strictly(tmp_path: Path, detector_checkpoint) -> None:
    state = torch.load(detector_checkpoint, weights_only=True)
    other = tmp_path / "other.ckpt"
    torch.save({**state, "hyper_parameters": {"class_names": ["a"]}}, other)
    with pytest.raises(ValueError, match="trained on classes"):
        frozen_detector(other)
    wider = tmp_path / "wider.ckpt"
    module = tiny_detector(fpn_channels=64)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, wider)
    with pytest.raises(ValueError, match="does not fit"):
        frozen_detector(wider)


def test_small_object_annotations_turn_the_other_boxes_into_ignore_regions() -> None:
    annotations = small_object_annotations(
        target([[0, 0, 4, 4], [0, 0, 50, 50], [8, 8, 10, 12]], [1, 2, 3], [True, False, True])
    )
    np.testing.assert_array_equal(annotations.boxes, [[0, 0, 4, 4], [8, 8, 10, 12]])
    np.testing.assert_array_equal(annotations.labels, [1, 3])
    np.testing.assert_array_equal(annotations.ignore_boxes, [[0, 0, 50, 50]])


def test_frame_psnr() -> None:
    reference = torch.full((3, 4, 4), 0.5)
    # squared error 0.01 everywhere: 10·log10(1 / 0.01) = 20 dB
    assert math.isclose(frame_psnr(reference + 0.1, reference), 20.0, rel_tol=1e-6)
