"""The segmentation network: torchvision's LR-ASPP architecture, [0, 1] RGB in, logits out."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.models import mobilenet_v3_large
from torchvision.models.segmentation import lraspp_mobilenet_v3_large

from edgecloud.models.segmentation import IMAGENET_MEAN, IMAGENET_STD, lraspp_mobilenet_v3


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_full_width_has_torchvisions_parameter_count() -> None:
    # torchvision documents 3,221,538 parameters for LR-ASPP MobileNetV3-Large with 21 classes
    reference = lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21)
    assert count(lraspp_mobilenet_v3(num_classes=21)) == count(reference) == 3_221_538


def test_logits_match_the_input_resolution() -> None:
    net = lraspp_mobilenet_v3(num_classes=19, width_mult=0.35).eval()
    logits = net(torch.rand(2, 3, 48, 96))
    assert logits.shape == (2, 19, 48, 96)


def test_normalises_with_imagenet_statistics_inside() -> None:
    net = lraspp_mobilenet_v3(num_classes=5, width_mult=0.35).eval()
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    images = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(net(images), net.head((images - mean) / std)["out"])


def test_gradients_reach_the_input_image() -> None:
    """The analytics-aware SR loss back-propagates through the frozen segmenter into SR."""
    net = lraspp_mobilenet_v3(num_classes=3, width_mult=0.35).eval().requires_grad_(False)
    images = torch.rand(1, 3, 32, 32, requires_grad=True)
    net(images).logsumexp(dim=1).mean().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_backbone_weights_come_from_a_local_file(tmp_path: Path) -> None:
    torch.manual_seed(0)
    imagenet_like = mobilenet_v3_large(weights=None)
    path = tmp_path / "mobilenet_v3_large.pth"
    torch.save(imagenet_like.state_dict(), path)
    net = lraspp_mobilenet_v3(num_classes=19, backbone_weights=str(path))
    loaded = net.head.backbone.features[0][0].weight
    assert torch.equal(loaded, imagenet_like.features[0][0].weight)


def test_missing_backbone_weights_file_fails(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"absent\.pth"):
        lraspp_mobilenet_v3(num_classes=19, backbone_weights=str(tmp_path / "absent.pth"))


@pytest.mark.parametrize(("detail_stride", "channels"), [(8, 40), (4, 24)])
def test_detail_branch_taps_the_stage_at_its_stride(detail_stride, channels) -> None:
    net = lraspp_mobilenet_v3(num_classes=19, detail_stride=detail_stride)
    taps = net.head.backbone(torch.zeros(1, 3, 64, 128))
    assert taps["low"].shape == (1, channels, 64 // detail_stride, 128 // detail_stride)
    assert taps["high"].shape[-2:] == (4, 8)
    assert net(torch.zeros(1, 3, 64, 128)).shape == (1, 19, 64, 128)


def test_detail_stride_must_be_four_or_eight() -> None:
    with pytest.raises(ValueError, match="detail_stride must be one of"):
        lraspp_mobilenet_v3(num_classes=19, detail_stride=16)
