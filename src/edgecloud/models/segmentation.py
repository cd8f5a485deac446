"""Semantic segmentation networks: the analytics models Runespoor's super-resolution serves.

The paper runs SwiftNet (Oršić et al., CVPR 2019) on 2048x1024 Cityscapes frames. Here the
network is torchvision's Lite R-ASPP head on a dilated MobileNetV3-Large backbone (Howard et
al., ICCV 2019), a real-time segmentation network of the same family (an ImageNet backbone with
a light decoder), with the backbone's width as a knob so a CPU-sized version trains on the
synthetic urban world in minutes.

Every network here maps RGB in ``[0, 1]``, shaped ``(N, 3, H, W)``, to class logits
``(N, C, H, W)`` at the input's resolution, normalising internally with ImageNet statistics, so
the output of a super-resolution network can be fed to it directly and gradients flow from the
segmentation loss into the SR network (the analytics-aware loss).
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import mobilenet_v3_large
from torchvision.models.segmentation.lraspp import LRASPP

from edgecloud.models.weights import load_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


DETAIL_STRIDES = (4, 8)


class _LowHighFeatures(nn.Module):
    """Runs a MobileNetV3 feature stack and returns LR-ASPP's two taps: ``low`` (output stride
    ``detail_stride``, for the detail branch) and ``high`` (the last block, output stride 16
    when dilated)."""

    def __init__(self, features: nn.Sequential, *, detail_stride: int) -> None:
        super().__init__()
        if detail_stride not in DETAIL_STRIDES:
            raise ValueError(f"detail_stride must be one of {DETAIL_STRIDES}, got {detail_stride}")
        # strided blocks mark the starts of the stages C1..Cn (torchvision's ``_is_cn`` flag);
        # the tap is the first block of the stage at the detail stride, as torchvision's
        stage_starts = [i for i, block in enumerate(features) if getattr(block, "_is_cn", False)]
        self.low_index = [0, *stage_starts][-3 if detail_stride == 8 else -4]
        self.features = features
        self.low_channels = features[self.low_index].out_channels
        self.high_channels = features[-1].out_channels

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        low = images
        x = images
        for index, block in enumerate(self.features):
            x = block(x)
            if index == self.low_index:
                low = x
        return {"low": low, "high": x}


class SegmentationNet(nn.Module):
    """ImageNet normalisation, then a segmentation head returning per-pixel logits."""

    def __init__(self, head: nn.Module, *, num_classes: int) -> None:
        super().__init__()
        self.head = head
        self.num_classes = num_classes
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` RGB in ``[0, 1]`` to ``(N, num_classes, H, W)`` logits."""
        return self.head((images - self.mean) / self.std)["out"]


def lraspp_mobilenet_v3(
    *,
    num_classes: int,
    width_mult: float = 1.0,
    backbone_weights: str | None = None,
    inter_channels: int = 128,
    detail_stride: int = 8,
) -> SegmentationNet:
    """Lite R-ASPP on a dilated MobileNetV3-Large (torchvision's ``lraspp_mobilenet_v3_large``
    architecture at ``width_mult`` 1.0 with ``inter_channels`` 128).

    Args:
        num_classes: output classes (19 for Cityscapes' train ids).
        width_mult: MobileNetV3 channel multiplier; below 1 for CPU-sized training.
        backbone_weights: local path of MobileNetV3-Large ImageNet weights (torchvision's
            ``features.*`` names) for the backbone; never downloaded. None trains from scratch.
        inter_channels: width of LR-ASPP's high-level branch.
        detail_stride: output stride of the detail branch, and so of the logits before their
            final upsampling: 8 as torchvision, or 4 to resolve objects a few pixels wide
            (poles and traffic lights in small frames such as the synthetic world's 384x192,
            where 1/8 of a 3-pixel pole is less than one logit).
    """
    backbone = mobilenet_v3_large(weights=None, dilated=True, width_mult=width_mult)
    if backbone_weights is not None:
        load_weights(backbone, backbone_weights)
    taps = _LowHighFeatures(backbone.features, detail_stride=detail_stride)
    head = LRASPP(
        taps, taps.low_channels, taps.high_channels, num_classes, inter_channels=inter_channels
    )
    return SegmentationNet(head, num_classes=num_classes)
