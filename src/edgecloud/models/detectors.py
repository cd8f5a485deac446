"""Object detectors for the edge and cloud roles, built from torchvision.

Every builder is keyword-only, takes ``num_classes`` as the number of object classes (the data
config's ``class_names``; the background slot torchvision expects is added here), and never
downloads anything: weights come only from a local file through
:func:`edgecloud.models.weights.load_weights`.

Outputs are returned for every box the model keeps after NMS with ``score_thresh=0.0`` by
default, so that recordings hold the model's output *before* any score threshold; the
simulator and the metrics apply thresholds themselves.

Edge role (REACT's on-device models): :func:`ssdlite_mobilenet_v3`, :func:`fasterrcnn_mobilenet_v3_fpn`.
Cloud role: :func:`fasterrcnn_r50_fpn_v2`, :func:`retinanet_r50_fpn_v2`, :func:`fcos_r50_fpn`
(anchor-free, the stand-in for the paper's CenterNet). :func:`tiny_fcos` trains in seconds on a
CPU and serves tests and the demo.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torchvision.models import detection
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool


def _with_background(num_classes: int) -> int:
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    return num_classes + 1


def ssdlite_mobilenet_v3(
    *,
    num_classes: int,
    image_size: int = 320,
    score_thresh: float = 0.0,
    detections_per_img: int = 300,
) -> detection.SSD:
    """SSDlite with a MobileNetV3-Large backbone at a square input of ``image_size`` pixels.

    torchvision fixes the input at 320; its default boxes are relative to the image, so only the
    resizing transform has to change for another input size.
    """
    model = detection.ssdlite320_mobilenet_v3_large(
        weights=None,
        weights_backbone=None,
        num_classes=_with_background(num_classes),
        score_thresh=score_thresh,
        detections_per_img=detections_per_img,
    )
    old = model.transform
    model.transform = GeneralizedRCNNTransform(
        image_size,
        image_size,
        old.image_mean,
        old.image_std,
        size_divisible=1,
        fixed_size=(image_size, image_size),
    )
    return model


def _untrained_torchvision_detector(
    build: Callable[..., nn.Module],
    *,
    num_classes: int,
    min_size: int,
    max_size: int,
    score_thresh: float,
    detections_per_img: int,
    two_stage: bool,
) -> nn.Module:
    """Call a torchvision builder with no weights at all (nothing is downloaded). Two-stage
    detectors name their output limits ``box_score_thresh``/``box_detections_per_img``."""
    prefix = "box_" if two_stage else ""
    return build(
        weights=None,
        weights_backbone=None,
        num_classes=_with_background(num_classes),
        min_size=min_size,
        max_size=max_size,
        **{
            f"{prefix}score_thresh": score_thresh,
            f"{prefix}detections_per_img": detections_per_img,
        },
    )


def fasterrcnn_mobilenet_v3_fpn(
    *,
    num_classes: int,
    min_size: int = 320,
    max_size: int = 640,
    score_thresh: float = 0.0,
    detections_per_img: int = 100,
) -> detection.FasterRCNN:
    """Faster R-CNN with a MobileNetV3-Large FPN backbone (torchvision's "320" edge variant)."""
    return _untrained_torchvision_detector(
        detection.fasterrcnn_mobilenet_v3_large_320_fpn,
        num_classes=num_classes,
        min_size=min_size,
        max_size=max_size,
        score_thresh=score_thresh,
        detections_per_img=detections_per_img,
        two_stage=True,
    )


def fasterrcnn_r50_fpn_v2(
    *,
    num_classes: int,
    min_size: int = 800,
    max_size: int = 1333,
    score_thresh: float = 0.0,
    detections_per_img: int = 100,
) -> detection.FasterRCNN:
    """Faster R-CNN ResNet-50 FPN v2 (Li et al. 2021 recipe). Upscales to ``min_size``."""
    return _untrained_torchvision_detector(
        detection.fasterrcnn_resnet50_fpn_v2,
        num_classes=num_classes,
        min_size=min_size,
        max_size=max_size,
        score_thresh=score_thresh,
        detections_per_img=detections_per_img,
        two_stage=True,
    )


def retinanet_r50_fpn_v2(
    *,
    num_classes: int,
    min_size: int = 800,
    max_size: int = 1333,
    score_thresh: float = 0.0,
    detections_per_img: int = 100,
) -> detection.RetinaNet:
    """RetinaNet ResNet-50 FPN v2. Upscales to ``min_size``."""
    return _untrained_torchvision_detector(
        detection.retinanet_resnet50_fpn_v2,
        num_classes=num_classes,
        min_size=min_size,
        max_size=max_size,
        score_thresh=score_thresh,
        detections_per_img=detections_per_img,
        two_stage=False,
    )


def fcos_r50_fpn(
    *,
    num_classes: int,
    min_size: int = 800,
    max_size: int = 1333,
    score_thresh: float = 0.0,
    detections_per_img: int = 100,
) -> detection.FCOS:
    """FCOS ResNet-50 FPN: anchor-free, the stand-in for REACT's CenterNet. Upscales to ``min_size``."""
    return _untrained_torchvision_detector(
        detection.fcos_resnet50_fpn,
        num_classes=num_classes,
        min_size=min_size,
        max_size=max_size,
        score_thresh=score_thresh,
        detections_per_img=detections_per_img,
        two_stage=False,
    )


def conv_bn_relu(in_channels: int, out_channels: int, *, stride: int) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU: the tiny backbone's only layer type."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class TinyConvNet(nn.Module):
    """A plain strided ConvNet whose stages ``stage1..stageN`` halve the resolution each.

    ``stage1`` is at stride 4 so that objects of a few pixels still cover a feature cell.
    """

    def __init__(
        self,
        *,
        widths: Sequence[int],
        convs_per_stage: int = 2,
        layer: Callable[..., nn.Module] = conv_bn_relu,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(layer(3, widths[0], stride=2))
        in_channels = widths[0]
        for index, width in enumerate(widths, start=1):
            blocks = [layer(in_channels, width, stride=2)]
            blocks += [layer(width, width, stride=1) for _ in range(convs_per_stage - 1)]
            self.add_module(f"stage{index}", nn.Sequential(*blocks))
            in_channels = width

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images
        for module in self.children():
            x = module(x)
        return x


def tiny_fcos(
    *,
    num_classes: int,
    min_size: int = 360,
    max_size: int = 640,
    widths: Sequence[int] = (16, 32, 64, 128),
    fpn_channels: int = 64,
    head_convs: int = 2,
    score_thresh: float = 0.0,
    detections_per_img: int = 100,
) -> detection.FCOS:
    """A small FCOS on :class:`TinyConvNet` with an FPN from stride 4 to 32 (plus a pooled level).

    Trains in seconds per epoch on a CPU. The edge and cloud tiny variants differ only in
    ``widths`` and input size (``min_size``/``max_size``), which is enough for the cloud one to
    see the small objects the edge one cannot.
    """
    body = TinyConvNet(widths=widths)
    backbone = BackboneWithFPN(
        body,
        return_layers={f"stage{i}": str(i - 1) for i in range(1, len(widths) + 1)},
        in_channels_list=list(widths),
        out_channels=fpn_channels,
        extra_blocks=LastLevelMaxPool(),
    )
    num_levels = len(widths) + 1
    # One anchor per location whose size is the level's stride: FCOS assigns a box to the level
    # whose range [4*size, 8*size] holds its largest centre-to-side distance.
    strides = [4 * 2**level for level in range(num_levels)]
    anchor_generator = AnchorGenerator(
        sizes=tuple((stride,) for stride in strides),
        aspect_ratios=((1.0,),) * num_levels,
    )
    head = detection.fcos.FCOSHead(
        fpn_channels,
        anchor_generator.num_anchors_per_location()[0],
        _with_background(num_classes),
        num_convs=head_convs,
    )
    return detection.FCOS(
        backbone,
        num_classes=_with_background(num_classes),
        min_size=min_size,
        max_size=max_size,
        anchor_generator=anchor_generator,
        head=head,
        score_thresh=score_thresh,
        detections_per_img=detections_per_img,
    )


def parameter_count(model: nn.Module) -> int:
    """Number of parameters, for reports and tests."""
    return sum(parameter.numel() for parameter in model.parameters())
