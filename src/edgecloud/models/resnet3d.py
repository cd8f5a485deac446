"""3D ResNets and ResNeXts for action recognition, after Hara et al. (CVPR 2018).

Clownfish runs a 3D ResNet-18 with type-A shortcuts on the edge and a 3D ResNeXt-101
(cardinality 32, type-B shortcuts) in the cloud, both pre-trained on Kinetics and fine-tuned from
``conv5`` on with the 3D-ResNets-PyTorch code. These builders reproduce that architecture: at
the default widths :func:`resnet3d` and :func:`resnext3d` have exactly the parameters of Hara's
``resnet.py``/``resnext.py`` (pinned in ``tests/models/test_resnet3d.py``). Three things differ
on purpose:

* The classifier sits on an adaptive average pool, so one model takes clips of any size
  (Hara's fixed ``AvgPool3d`` needed ``sample_size``/``sample_duration`` at build time).
* Hara's type-A shortcut concatenates ``out.data`` with the zero channels, which stops the
  gradient through the identity path; :class:`ZeroPadShortcut` lets it flow, as in He et al.
* Hara fine-tunes by giving earlier layers a learning rate of 0 but leaves their batch norms in
  training mode, so their running statistics still drift; :func:`set_trainable_from` freezes
  them, statistics included.

Every layer type is swappable (``norm``, ``activation``) and the stage widths are configurable,
so the project can train CPU-sized variants on the synthetic world at inputs such as
16x56x56. Input layout is ``(N, C, T, H, W)``.

Stages are named as in the papers' tables: ``conv1`` (stem), ``conv2`` .. ``conv5`` (the four
residual stages) and ``fc`` (classifier).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

NormLayer = Callable[[int], nn.Module]
"""Builds a normalisation layer for a given number of channels, e.g. ``nn.BatchNorm3d``."""
ActivationLayer = Callable[[], nn.Module]
"""Builds an activation layer, e.g. ``nn.ReLU``."""

STAGES = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc")
"""Stage names in forward order; :func:`set_trainable_from` freezes every stage before one."""

BLOCKS_PER_STAGE = {
    10: (1, 1, 1, 1),
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
"""Residual blocks in ``conv2`` .. ``conv5`` for each depth (He et al., Table 1)."""
BASIC_BLOCK_DEPTHS = (10, 18, 34)
BOTTLENECK_DEPTHS = (50, 101, 152)
SHORTCUT_TYPES = ("A", "B")

RESNET_WIDTHS = (64, 128, 256, 512)
RESNEXT_WIDTHS = (128, 256, 512, 1024)
BOTTLENECK_EXPANSION = 4
RESNEXT_EXPANSION = 2


class ZeroPadShortcut(nn.Module):
    """Type-A shortcut: the identity, subsampled by ``stride`` and padded with zero channels.

    It has no parameters, which is why Hara et al. use it for the small ResNet-18/34.
    Subsampling by slicing equals Hara's ``avg_pool3d(kernel_size=1, stride=stride)`` and gives
    the same output size as the block's padded 3x3x3 convolution.
    """

    def __init__(self, *, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(
                f"a type-A shortcut can only add channels, got {in_channels} -> {out_channels}; "
                "use shortcut_type='B'"
            )
        self.extra_channels = out_channels - in_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        x = x[:, :, ::s, ::s, ::s]
        # F.pad pads from the last dimension backwards: (W, H, T, C) pairs for (N, C, T, H, W).
        return F.pad(x, (0, 0, 0, 0, 0, 0, 0, self.extra_channels))

    def extra_repr(self) -> str:
        return f"extra_channels={self.extra_channels}, stride={self.stride}"


def make_shortcut(
    shortcut_type: str, *, in_channels: int, out_channels: int, stride: int, norm: NormLayer
) -> nn.Module:
    """The residual path's shortcut: the identity where the shape is kept, otherwise type A
    (:class:`ZeroPadShortcut`) or type B (1x1x1 convolution and norm, a learned projection)."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if shortcut_type == "A":
        return ZeroPadShortcut(in_channels=in_channels, out_channels=out_channels, stride=stride)
    if shortcut_type == "B":
        return nn.Sequential(
            nn.Conv3d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
            norm(out_channels),
        )
    raise ValueError(f"shortcut_type must be one of {SHORTCUT_TYPES}, got {shortcut_type!r}")


class BasicBlock3d(nn.Module):
    """Two 3x3x3 convolutions and a shortcut; the first convolution carries the stride."""

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        stride: int,
        shortcut_type: str,
        norm: NormLayer,
        activation: ActivationLayer,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(
            in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False
        )
        self.norm1 = norm(out_channels)
        self.activation1 = activation()
        self.conv2 = nn.Conv3d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.norm2 = norm(out_channels)
        self.shortcut = make_shortcut(
            shortcut_type,
            in_channels=in_channels,
            out_channels=out_channels,
            stride=stride,
            norm=norm,
        )
        self.activation_out = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.activation1(self.norm1(self.conv1(x)))
        residual = self.norm2(self.conv2(residual))
        return self.activation_out(residual + self.shortcut(x))


class Bottleneck3d(nn.Module):
    """1x1x1 reduce, 3x3x3 (grouped for ResNeXt, strided) and 1x1x1 expand, plus a shortcut."""

    def __init__(
        self,
        *,
        in_channels: int,
        inner_channels: int,
        out_channels: int,
        stride: int,
        groups: int,
        shortcut_type: str,
        norm: NormLayer,
        activation: ActivationLayer,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(in_channels, inner_channels, kernel_size=1, bias=False)
        self.norm1 = norm(inner_channels)
        self.activation1 = activation()
        self.conv2 = nn.Conv3d(
            inner_channels,
            inner_channels,
            kernel_size=3,
            stride=stride,
            padding=1,
            groups=groups,
            bias=False,
        )
        self.norm2 = norm(inner_channels)
        self.activation2 = activation()
        self.conv3 = nn.Conv3d(inner_channels, out_channels, kernel_size=1, bias=False)
        self.norm3 = norm(out_channels)
        self.shortcut = make_shortcut(
            shortcut_type,
            in_channels=in_channels,
            out_channels=out_channels,
            stride=stride,
            norm=norm,
        )
        self.activation_out = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.activation1(self.norm1(self.conv1(x)))
        residual = self.activation2(self.norm2(self.conv2(residual)))
        residual = self.norm3(self.conv3(residual))
        return self.activation_out(residual + self.shortcut(x))


class ResNet3d(nn.Module):
    """Stem ``conv1``, residual stages ``conv2`` .. ``conv5``, global average pool, ``fc``.

    Built by :func:`resnet3d` or :func:`resnext3d`. :meth:`features` returns the pooled
    penultimate features ``(N, feature_dim)`` (what Clownfish's SimiNet compares between
    windows); :meth:`forward` returns the logits ``(N, num_classes)``.

    ``frozen_stages`` names the stages that :func:`set_trainable_from` froze; they stay in eval
    mode whatever :meth:`train` is asked, so their batch-norm statistics do not move.

    Weights and activations are kept channels-last (``torch.channels_last_3d``): oneDNN's 3D
    convolutions on a CPU run a training step of the narrow Clownfish stand-ins 1.7-1.9x faster
    that way and infer them as fast or faster; the paper-size ResNet-18 trains as fast and
    infers about 12 % slower at batch 1 (docs/benchmarks.md). The values, state dict keys and
    shapes are those of the default layout.
    """

    def __init__(
        self,
        *,
        conv1: nn.Module,
        residual_stages: Sequence[nn.Module],
        feature_dim: int,
        num_classes: int,
    ) -> None:
        super().__init__()
        if len(residual_stages) != 4:
            raise ValueError(f"expected 4 residual stages, got {len(residual_stages)}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}")
        self.conv1 = conv1
        self.conv2, self.conv3, self.conv4, self.conv5 = residual_stages
        self.global_pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(feature_dim, num_classes)
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.frozen_stages: tuple[str, ...] = ()
        self.to(memory_format=torch.channels_last_3d)

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        """Pooled output of ``conv5`` for clips ``(N, C, T, H, W)``: shape ``(N, feature_dim)``."""
        if clips.dim() != 5:
            raise ValueError(f"expected clips shaped (N, C, T, H, W), got {tuple(clips.shape)}")
        x = self.conv1(clips.contiguous(memory_format=torch.channels_last_3d))
        x = self.conv5(self.conv4(self.conv3(self.conv2(x))))
        return self.global_pool(x).flatten(1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, num_classes)`` for clips ``(N, C, T, H, W)``."""
        return self.fc(self.features(clips))

    def train(self, mode: bool = True) -> ResNet3d:
        """Set the training mode, but keep frozen stages in eval mode (frozen norm statistics)."""
        super().train(mode)
        for name in self.frozen_stages:
            getattr(self, name).eval()
        return self


def set_trainable_from(model: ResNet3d, stage: str = "conv5") -> ResNet3d:
    """Fine-tune from ``stage`` on: freeze every earlier stage, norm statistics included.

    ``"conv5"`` is Clownfish's setting (fine-tune ``conv5_x`` and ``fc`` from Kinetics);
    ``"conv1"`` trains everything and ``"fc"`` only the classifier. Frozen parameters get
    ``requires_grad=False`` and the frozen stages are kept in eval mode by
    :meth:`ResNet3d.train`, so a train-mode forward leaves their batch-norm running statistics
    unchanged. Calling it again with an earlier stage unfreezes. Returns ``model``.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; valid stages are {', '.join(STAGES)}")
    if not isinstance(model, ResNet3d):
        raise TypeError(f"expected a ResNet3d, got {type(model).__name__}")
    first_trainable = STAGES.index(stage)
    for index, name in enumerate(STAGES):
        getattr(model, name).requires_grad_(index >= first_trainable)
    model.frozen_stages = STAGES[:first_trainable]
    model.train(model.training)
    return model


def _stem(
    *,
    in_channels: int,
    out_channels: int,
    temporal_kernel: int,
    temporal_stride: int,
    max_pool: bool,
    norm: NormLayer,
    activation: ActivationLayer,
) -> nn.Sequential:
    """``conv1``: a (t)x7x7 convolution at spatial stride 2, norm, activation, then the 3x3x3
    max pool at stride 2 in time and space. The papers' tables list that pool at the start of
    ``conv2_x``; like Hara's code we run it in the stem (it has no parameters to freeze)."""
    conv = nn.Conv3d(
        in_channels,
        out_channels,
        kernel_size=(temporal_kernel, 7, 7),
        stride=(temporal_stride, 2, 2),
        padding=(temporal_kernel // 2, 3, 3),
        bias=False,
    )
    pool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1) if max_pool else nn.Identity()
    return nn.Sequential(
        OrderedDict(conv=conv, norm=norm(out_channels), activation=activation(), pool=pool)
    )


MakeBlock = Callable[..., tuple[nn.Module, int]]
"""``make_block(in_channels=, width=, stride=)`` -> (block, its output channels)."""


def _assemble(
    *,
    num_classes: int,
    blocks_per_stage: Sequence[int],
    widths: Sequence[int],
    stem_width: int,
    make_block: MakeBlock,
    in_channels: int,
    conv1_temporal_kernel: int,
    conv1_temporal_stride: int,
    max_pool: bool,
    norm: NormLayer,
    activation: ActivationLayer,
) -> ResNet3d:
    """Stack the stem and four stages; each stage opens with a block at stride 2 (in time and
    space), except ``conv2``, which follows the stem's max pool. He-initialise convolutions."""
    stages = []
    channels = stem_width
    for stage_index, (width, num_blocks) in enumerate(zip(widths, blocks_per_stage, strict=True)):
        stage = nn.Sequential()
        for block_index in range(num_blocks):
            stride = 2 if stage_index > 0 and block_index == 0 else 1
            block, channels = make_block(in_channels=channels, width=width, stride=stride)
            stage.add_module(str(block_index), block)
        stages.append(stage)
    model = ResNet3d(
        conv1=_stem(
            in_channels=in_channels,
            out_channels=stem_width,
            temporal_kernel=conv1_temporal_kernel,
            temporal_stride=conv1_temporal_stride,
            max_pool=max_pool,
            norm=norm,
            activation=activation,
        ),
        residual_stages=stages,
        feature_dim=channels,
        num_classes=num_classes,
    )
    for module in model.modules():
        if isinstance(module, nn.Conv3d):  # Hara et al.'s init; norms start at the identity
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    return model


def _check_common(
    *, depth: int, valid_depths: Sequence[int], shortcut_type: str, widths: Sequence[int]
) -> tuple[int, ...]:
    if depth not in valid_depths:
        raise ValueError(f"depth must be one of {tuple(valid_depths)}, got {depth}")
    if shortcut_type not in SHORTCUT_TYPES:
        raise ValueError(f"shortcut_type must be one of {SHORTCUT_TYPES}, got {shortcut_type!r}")
    if len(widths) != 4 or any(width < 1 for width in widths):
        raise ValueError(f"widths must be 4 positive stage widths, got {tuple(widths)}")
    return BLOCKS_PER_STAGE[depth]


def resnet3d(
    *,
    depth: int,
    num_classes: int,
    shortcut_type: str = "B",
    widths: Sequence[int] = RESNET_WIDTHS,
    stem_width: int | None = None,
    in_channels: int = 3,
    conv1_temporal_kernel: int = 7,
    conv1_temporal_stride: int = 1,
    max_pool: bool = True,
    norm: NormLayer = nn.BatchNorm3d,
    activation: ActivationLayer = nn.ReLU,
) -> ResNet3d:
    """3D ResNet-10/18/34 (basic blocks) or -50/101/152 (bottlenecks, expansion 4).

    ``widths`` are the per-stage widths of ``conv2`` .. ``conv5`` (a bottleneck's inner width;
    its output is 4x that). ``stem_width`` defaults to ``widths[0]`` (64 at the reference
    widths). Hara et al. use ``shortcut_type="A"`` for ResNet-18/34 and ``"B"`` for deeper
    ones; Clownfish's edge model is ``resnet3d(depth=18, shortcut_type="A", ...)``.
    ``conv1_temporal_stride=2`` is Hara's later choice for clips of 32 frames or more.
    """
    blocks_per_stage = _check_common(
        depth=depth,
        valid_depths=tuple(BLOCKS_PER_STAGE),
        shortcut_type=shortcut_type,
        widths=widths,
    )

    def make_block(*, in_channels: int, width: int, stride: int) -> tuple[nn.Module, int]:
        if depth in BASIC_BLOCK_DEPTHS:
            block: nn.Module = BasicBlock3d(
                in_channels=in_channels,
                out_channels=width,
                stride=stride,
                shortcut_type=shortcut_type,
                norm=norm,
                activation=activation,
            )
            return block, width
        block = Bottleneck3d(
            in_channels=in_channels,
            inner_channels=width,
            out_channels=width * BOTTLENECK_EXPANSION,
            stride=stride,
            groups=1,
            shortcut_type=shortcut_type,
            norm=norm,
            activation=activation,
        )
        return block, width * BOTTLENECK_EXPANSION

    return _assemble(
        num_classes=num_classes,
        blocks_per_stage=blocks_per_stage,
        widths=widths,
        stem_width=widths[0] if stem_width is None else stem_width,
        make_block=make_block,
        in_channels=in_channels,
        conv1_temporal_kernel=conv1_temporal_kernel,
        conv1_temporal_stride=conv1_temporal_stride,
        max_pool=max_pool,
        norm=norm,
        activation=activation,
    )


def resnext3d(
    *,
    depth: int,
    num_classes: int,
    cardinality: int = 32,
    shortcut_type: str = "B",
    widths: Sequence[int] = RESNEXT_WIDTHS,
    group_width_divisor: int = 32,
    stem_width: int | None = None,
    in_channels: int = 3,
    conv1_temporal_kernel: int = 7,
    conv1_temporal_stride: int = 1,
    max_pool: bool = True,
    norm: NormLayer = nn.BatchNorm3d,
    activation: ActivationLayer = nn.ReLU,
) -> ResNet3d:
    """3D ResNeXt-50/101/152: bottlenecks with a grouped 3x3x3 convolution, expansion 2.

    As in Hara's ``resnext.py``, a stage of width ``w`` has blocks whose grouped convolution has
    ``cardinality * (w // group_width_divisor)`` channels in ``cardinality`` groups and whose
    output has ``2 * w`` channels: at the reference widths (128, 256, 512, 1024) and cardinality
    32 that is 4, 8, 16 and 32 channels per group and a 2048-d feature. Small variants lower
    ``group_width_divisor`` with the widths, e.g. widths (16, 32, 64, 128), cardinality 4 and
    divisor 8. ``stem_width`` defaults to ``widths[0] // 2`` (64 at the reference widths).
    Clownfish's cloud model is ``resnext3d(depth=101, cardinality=32, shortcut_type="B", ...)``.
    """
    blocks_per_stage = _check_common(
        depth=depth, valid_depths=BOTTLENECK_DEPTHS, shortcut_type=shortcut_type, widths=widths
    )
    if cardinality < 1:
        raise ValueError(f"cardinality must be at least 1, got {cardinality}")
    if group_width_divisor < 1 or any(width % group_width_divisor for width in widths):
        raise ValueError(
            f"every width must be a positive multiple of group_width_divisor="
            f"{group_width_divisor}, got widths {tuple(widths)}"
        )

    def make_block(*, in_channels: int, width: int, stride: int) -> tuple[nn.Module, int]:
        block = Bottleneck3d(
            in_channels=in_channels,
            inner_channels=cardinality * (width // group_width_divisor),
            out_channels=width * RESNEXT_EXPANSION,
            stride=stride,
            groups=cardinality,
            shortcut_type=shortcut_type,
            norm=norm,
            activation=activation,
        )
        return block, width * RESNEXT_EXPANSION

    return _assemble(
        num_classes=num_classes,
        blocks_per_stage=blocks_per_stage,
        widths=widths,
        stem_width=widths[0] // 2 if stem_width is None else stem_width,
        make_block=make_block,
        in_channels=in_channels,
        conv1_temporal_kernel=conv1_temporal_kernel,
        conv1_temporal_stride=conv1_temporal_stride,
        max_pool=max_pool,
        norm=norm,
        activation=activation,
    )
