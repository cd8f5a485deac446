"""CARN and CARN-M super-resolution networks (Ahn et al., ECCV 2018) and interpolation baselines.

Runespoor sends downscaled frames from the edge and restores them in the cloud with a
super-resolution (SR) network before segmentation. These builders reproduce the Cascading
Residual Network of Ahn, Kang and Sohn, "Fast, Accurate, and Lightweight Super-Resolution with
Cascading Residual Network", as implemented in the authors' code (nmhkahn/CARN-pytorch,
``carn/model/{carn,carn_m,ops}.py``):

* mean shift: subtract the DIV2K RGB mean (0.4488, 0.4371, 0.4040) from the ``[0, 1]`` RGB input
  and add it back to the output;
* entry 3x3 convolution 3 -> 64;
* three *cascading blocks*, each holding three residual units. After every unit the outputs so
  far are concatenated and mixed back to 64 channels by a 1x1 convolution + ReLU (*local
  cascading*); the same pattern joins the three blocks (*global cascading*);
* CARN's unit is a plain residual block (3x3 conv, ReLU, 3x3 conv, add, ReLU). CARN-M's is the
  *efficient* residual block (grouped 3x3, ReLU, grouped 3x3, ReLU, 1x1, add, ReLU; 4 groups)
  and, as in the reference, one unit per cascading block is applied three times (recursive,
  shared weights);
* the upsampler: per x2 stage a 3x3 convolution C -> 4C + ReLU + ``PixelShuffle(2)``, per x3
  stage C -> 9C + ReLU + ``PixelShuffle(3)`` (grouped like the units in CARN-M); x4 is two x2
  stages. The multi-scale model has one upsampling branch per scale (x2, x3, x4) on a shared
  body and picks it with ``forward(x, scale)``;
* exit 3x3 convolution 64 -> 3, then the mean is added back. The output is not clamped (the
  reference clamps only when it saves images); clamp before measuring or encoding.

At the default widths the parameter counts equal the reference's (pinned, with their derivation,
in ``tests/models/test_carn.py``): the multi-scale CARN has 1,591,939 and CARN-M 414,787
trainable parameters. The paper's Table reports 1,592K and 412K; the latter matches CARN-M's
weights without biases (412,032), so the paper appears to have left CARN-M's biases out.

Trainable layers carry the reference's names (``entry``, ``b1``..``b3``, ``c1``..``c3``,
``upsample.up``/``up2``/``up3``/``up4``, ``exit``), so the released ``carn.pth``/``carn_m.pth``
state dicts load strictly into :func:`carn`/:func:`carn_m` (same multi-scale setting) once
their ``sub_mean.*``/``add_mean.*`` keys are dropped. What differs on purpose:

* The mean shift is a fixed buffer (:class:`MeanShift`), not a frozen 1x1 convolution, so it
  holds no parameters and never enters checkpoints or optimisers.
* Asking a multi-scale model for a scale it has no branch for, or a single-scale model for a
  scale other than its own, raises ``ValueError`` (the reference's multi-scale upsampler
  returns ``None`` and its single-scale model ignores the argument).
* **Scales x6 and x8 are not in the CARN paper** (it evaluates x2, x3, x4); Runespoor needs them.
  The upsampler factors any scale ``2**a * 3**b`` into pixel-shuffle stages, every x2 stage
  before every x3 stage (:func:`pixel_shuffle_factors`): x6 = x2 then x3, x8 = x2, x2, x2. Each
  stage is the reference's x2 or x3 stage (its own loop would build x8 the same way; it cannot
  build x6). x2 goes first because it is cheaper: ungrouped, 360 C^2 multiply-adds per input
  pixel against 405 C^2 for x3 first, with the same parameters. Scales that do not factor into
  2s and 3s (5, 7, 10, ...) are rejected with ``ValueError``. The multi-scale model's branches
  default to the reference's (2, 3, 4) and can be extended, e.g. to (2, 3, 4, 6, 8).

:class:`InterpolationUpsampler` gives bilinear and bicubic baselines with the same call
signature and no parameters, so the rest of the code can swap an SR network for one.

All models take and return ``(N, 3, H, W)`` RGB in ``[0, 1]``; the output is ``(N, 3, sH, sW)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)
"""Mean RGB of the DIV2K training set in ``[0, 1]``, which the reference shifts by."""

REFERENCE_MULTI_SCALES = (2, 3, 4)
"""The upsampling branches of the reference's multi-scale models."""

INTERPOLATION_MODES = ("bilinear", "bicubic")

ResidualUnitBuilder = Callable[..., nn.Module]
"""Builds one residual unit: called as ``builder(channels=C, group=G)``, maps ``(N, C, H, W)``
to the same shape, e.g. :class:`ResidualBlock` or :class:`EfficientResidualBlock`."""


def pixel_shuffle_factors(scale: int) -> tuple[int, ...]:
    """The pixel-shuffle stages that make up ``scale``: all the 2s, then all the 3s.

    ``2 -> (2,)``, ``3 -> (3,)``, ``4 -> (2, 2)``, ``6 -> (2, 3)``, ``8 -> (2, 2, 2)``. Raises
    ``ValueError`` for scales below 2 and for scales with another prime factor.
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 2:
        raise ValueError(f"an SR scale must be an integer >= 2, got {scale!r}")
    factors: list[int] = []
    rest = scale
    for prime in (2, 3):
        while rest % prime == 0:
            factors.append(prime)
            rest //= prime
    if rest != 1:
        raise ValueError(
            f"scale {scale} cannot be factored into x2 and x3 pixel-shuffle stages "
            "(supported: 2**a * 3**b, e.g. 2, 3, 4, 6, 8)"
        )
    return tuple(factors)


class MeanShift(nn.Module):
    """Adds ``sign * mean`` to every pixel: ``sign=-1`` centres the input, ``+1`` restores it.

    The reference uses a frozen 1x1 convolution with identity weights; a buffer does the same
    without parameters.
    """

    def __init__(self, mean_rgb: Sequence[float] = DIV2K_RGB_MEAN, *, sign: int) -> None:
        super().__init__()
        if sign not in (-1, 1):
            raise ValueError(f"sign must be -1 or +1, got {sign}")
        self.sign = sign
        shift = sign * torch.tensor(mean_rgb, dtype=torch.float32).view(1, -1, 1, 1)
        self.register_buffer("shift", shift, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.shift.to(dtype=x.dtype)

    def extra_repr(self) -> str:
        return f"sign={self.sign:+d}"


class ConvReLU(nn.Module):
    """Convolution and ReLU; the reference's ``BasicBlock``, used 1x1 to mix cascades."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ResidualBlock(nn.Module):
    """CARN's residual unit: ``relu(x + conv3x3(relu(conv3x3(x))))``.

    ``group`` is 1 in CARN; a larger value groups both 3x3 convolutions (not in the paper).
    """

    def __init__(self, *, channels: int, group: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=group),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, groups=group),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + x)


class EfficientResidualBlock(nn.Module):
    """CARN-M's residual-E unit: two grouped 3x3 convolutions with ReLUs, then a 1x1 convolution
    that mixes the groups, added to the input and rectified.

    Grouping divides the 3x3 weights by ``group``; the 1x1 convolution restores the cross-group
    information flow, like the pointwise layer of a MobileNet block.
    """

    def __init__(self, *, channels: int, group: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=group),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, groups=group),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + x)


def _register_cascade(
    module: nn.Module, units: Sequence[nn.Module], *, channels: int, shared: bool
) -> list[str]:
    """Register the cascade's units as ``b1``.. and its 1x1 mixers as ``c1``.. (the reference's
    names); a shared unit is registered once as ``b1``. Returns the unit names in call order."""
    if shared:
        module.add_module("b1", units[0])
        names = ["b1"] * len(units)
    else:
        names = [f"b{i}" for i in range(1, len(units) + 1)]
        for name, unit in zip(names, units, strict=True):
            module.add_module(name, unit)
    for i in range(1, len(units) + 1):
        module.add_module(f"c{i}", ConvReLU((i + 1) * channels, channels, kernel_size=1))
    return names


def _run_cascade(module: nn.Module, names: Sequence[str], x: torch.Tensor) -> torch.Tensor:
    """``o_i = c_i(cat(x, b_1(o_0), .., b_i(o_{i-1})))`` with ``o_0 = x``; returns the last."""
    concatenated = out = x
    for i, name in enumerate(names, start=1):
        concatenated = torch.cat([concatenated, getattr(module, name)(out)], dim=1)
        out = getattr(module, f"c{i}")(concatenated)
    return out


class CascadingBlock(nn.Module):
    """Local cascading: residual units whose outputs are concatenated and mixed by 1x1 convs.

    With ``share_weights`` one unit is applied ``num_units`` times (CARN-M's recursive block).
    """

    def __init__(
        self,
        *,
        channels: int,
        num_units: int = 3,
        residual_block: ResidualUnitBuilder = ResidualBlock,
        group: int = 1,
        share_weights: bool = False,
    ) -> None:
        super().__init__()
        if num_units < 1:
            raise ValueError(f"num_units must be >= 1, got {num_units}")
        count = 1 if share_weights else num_units
        built = [residual_block(channels=channels, group=group) for _ in range(count)]
        units = built * num_units if share_weights else built
        self._unit_names = _register_cascade(self, units, channels=channels, shared=share_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run_cascade(self, self._unit_names, x)


class PixelShuffleUpsampler(nn.Module):
    """Upsample by ``scale`` with one conv + ReLU + ``PixelShuffle`` stage per factor of
    :func:`pixel_shuffle_factors` (x6 and x8 are extensions; see the module docstring)."""

    def __init__(self, *, channels: int, scale: int, group: int = 1) -> None:
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = []
        for factor in pixel_shuffle_factors(scale):
            layers += [
                nn.Conv2d(channels, factor * factor * channels, 3, padding=1, groups=group),
                nn.ReLU(inplace=True),
                nn.PixelShuffle(factor),
            ]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class CARN(nn.Module):
    """Cascading Residual Network: mean shift, entry conv, globally cascaded blocks, upsampler,
    exit conv. Build it with :func:`create_carn`, :func:`carn` or :func:`carn_m`.

    ``forward(x, scale=None)``: a single-scale model accepts ``None`` or its own scale; a
    multi-scale model needs one of :attr:`scales`.
    """

    def __init__(
        self,
        *,
        entry: nn.Module,
        blocks: Sequence[nn.Module],
        channels: int,
        upsamplers: dict[int, nn.Module],
        multi_scale: bool,
        exit_layer: nn.Module,
        rgb_mean: Sequence[float] = DIV2K_RGB_MEAN,
    ) -> None:
        super().__init__()
        if not multi_scale and len(upsamplers) != 1:
            raise ValueError("a single-scale CARN has exactly one upsampler")
        self.multi_scale = multi_scale
        self.scales: tuple[int, ...] = tuple(sorted(upsamplers))  # what forward() accepts
        self.sub_mean = MeanShift(rgb_mean, sign=-1)
        self.entry = entry
        self._block_names = _register_cascade(self, blocks, channels=channels, shared=False)
        if multi_scale:
            self.upsample = nn.ModuleDict({f"up{s}": up for s, up in sorted(upsamplers.items())})
        else:
            self.upsample = nn.ModuleDict({"up": next(iter(upsamplers.values()))})
        self.exit = exit_layer
        self.add_mean = MeanShift(rgb_mean, sign=1)

    @property
    def scale(self) -> int | None:
        """The single-scale model's scale; ``None`` for a multi-scale model."""
        return None if self.multi_scale else self.scales[0]

    def _upsampler(self, scale: int | None) -> nn.Module:
        if self.multi_scale:
            if scale not in self.scales:
                raise ValueError(f"this multi-scale CARN upsamples by {self.scales}, got {scale}")
            return self.upsample[f"up{scale}"]
        if scale is not None and scale != self.scales[0]:
            raise ValueError(f"this CARN upsamples by x{self.scales[0]} only, got x{scale}")
        return self.upsample["up"]

    def forward(self, x: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        upsampler = self._upsampler(scale)
        features = self.entry(self.sub_mean(x))
        features = _run_cascade(self, self._block_names, features)
        return self.add_mean(self.exit(upsampler(features)))


def create_carn(
    *,
    scale: int | None = None,
    multi_scale: bool = False,
    multi_scales: Sequence[int] = REFERENCE_MULTI_SCALES,
    in_channels: int = 3,
    channels: int = 64,
    num_cascading_blocks: int = 3,
    num_units_per_block: int = 3,
    residual_block: ResidualUnitBuilder = ResidualBlock,
    share_unit_weights: bool = False,
    group: int = 1,
    rgb_mean: Sequence[float] = DIV2K_RGB_MEAN,
) -> CARN:
    """Build a CARN-family network; every part is configurable, the defaults give CARN.

    Args:
        scale: upsampling factor of a single-scale model; any ``2**a * 3**b >= 2``.
        multi_scale: build one upsampling branch per ``multi_scales`` instead (``scale`` must
            then be ``None``); the caller picks the branch with ``forward(x, scale)``.
        multi_scales: the multi-scale branches; the reference's are (2, 3, 4).
        in_channels: image channels; the mean shift needs ``len(rgb_mean)`` of them.
        channels: feature width (64 in the paper).
        num_cascading_blocks: cascading blocks in the global cascade (3 in the paper).
        num_units_per_block: residual units per cascading block (3 in the paper).
        residual_block: builds a unit as ``residual_block(channels=..., group=...)``:
            :class:`ResidualBlock` (CARN) or :class:`EfficientResidualBlock` (CARN-M).
        share_unit_weights: apply one unit repeatedly within each block (CARN-M).
        group: groups of the units' and the upsampler's 3x3 convolutions (1 CARN, 4 CARN-M).
        rgb_mean: the mean the input is centred by.
    """
    if multi_scale:
        if scale is not None:
            raise ValueError("give either scale or multi_scale=True, not both")
        if not multi_scales:
            raise ValueError("multi_scales must name at least one scale")
        scales = sorted(set(multi_scales))
    else:
        if scale is None:
            raise ValueError("a single-scale CARN needs scale (or pass multi_scale=True)")
        scales = [scale]
    for s in scales:
        pixel_shuffle_factors(s)  # raises ValueError for scales we cannot build
    if in_channels != len(rgb_mean):
        raise ValueError(f"rgb_mean has {len(rgb_mean)} values for {in_channels} channels")
    if num_cascading_blocks < 1:
        raise ValueError(f"num_cascading_blocks must be >= 1, got {num_cascading_blocks}")
    if channels % group:
        raise ValueError(f"channels ({channels}) must be divisible by group ({group})")

    blocks = [
        CascadingBlock(
            channels=channels,
            num_units=num_units_per_block,
            residual_block=residual_block,
            group=group,
            share_weights=share_unit_weights,
        )
        for _ in range(num_cascading_blocks)
    ]
    upsamplers = {s: PixelShuffleUpsampler(channels=channels, scale=s, group=group) for s in scales}
    return CARN(
        entry=nn.Conv2d(in_channels, channels, 3, padding=1),
        blocks=blocks,
        channels=channels,
        upsamplers=upsamplers,
        multi_scale=multi_scale,
        exit_layer=nn.Conv2d(channels, in_channels, 3, padding=1),
        rgb_mean=rgb_mean,
    )


def carn(
    *,
    scale: int | None = None,
    multi_scale: bool = False,
    multi_scales: Sequence[int] = REFERENCE_MULTI_SCALES,
) -> CARN:
    """CARN as in the paper: 64 channels, 3x3 plain residual units, no weight sharing."""
    return create_carn(
        scale=scale,
        multi_scale=multi_scale,
        multi_scales=multi_scales,
        residual_block=ResidualBlock,
        share_unit_weights=False,
        group=1,
    )


def carn_m(
    *,
    scale: int | None = None,
    multi_scale: bool = False,
    multi_scales: Sequence[int] = REFERENCE_MULTI_SCALES,
    group: int = 4,
) -> CARN:
    """CARN-M, the mobile variant: efficient residual units with ``group``-grouped 3x3 convs,
    one shared unit per cascading block, grouped upsampler."""
    return create_carn(
        scale=scale,
        multi_scale=multi_scale,
        multi_scales=multi_scales,
        residual_block=EfficientResidualBlock,
        share_unit_weights=True,
        group=group,
    )


class InterpolationUpsampler(nn.Module):
    """Bilinear or bicubic upsampling by an integer factor: the no-SR baseline, 0 parameters.

    Called like :class:`CARN`: ``forward(x, scale=None)``. Built with ``scale`` it accepts
    ``None`` or that scale; built with ``scale=None`` it needs the scale at every call. Scale 1
    is allowed and returns the input unchanged (full-resolution frames need no upsampling).

    Uses ``F.interpolate(..., align_corners=False)``, i.e. pixel centres are aligned as in
    OpenCV's ``resize`` and PIL. Bicubic output is clamped to ``[0, 1]``: the cubic kernel has
    negative lobes, so it overshoots at edges and can leave the valid image range (a decoder
    writing uint8 would clip there too), while the downstream model expects ``[0, 1]``. Bilinear
    output is a convex combination of inputs and stays in range on its own.
    """

    def __init__(self, *, scale: int | None = None, mode: str = "bicubic") -> None:
        super().__init__()
        if mode not in INTERPOLATION_MODES:
            raise ValueError(f"mode must be one of {INTERPOLATION_MODES}, got {mode!r}")
        if scale is not None:
            _check_interpolation_scale(scale)
        self.scale = scale
        self.mode = mode

    def forward(self, x: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        if scale is None:
            if self.scale is None:
                raise ValueError("this InterpolationUpsampler was built without a scale")
            scale = self.scale
        elif self.scale is not None and scale != self.scale:
            raise ValueError(f"this upsampler scales by x{self.scale} only, got x{scale}")
        _check_interpolation_scale(scale)
        if scale == 1:
            return x
        out = F.interpolate(x, scale_factor=scale, mode=self.mode, align_corners=False)
        return out.clamp(0.0, 1.0) if self.mode == "bicubic" else out

    def extra_repr(self) -> str:
        return f"scale={self.scale}, mode={self.mode!r}"


def _check_interpolation_scale(scale: int) -> None:
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"an interpolation scale must be a positive integer, got {scale!r}")
