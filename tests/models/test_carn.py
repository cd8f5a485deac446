import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgecloud.models.carn import (
    CARN,
    DIV2K_RGB_MEAN,
    EfficientResidualBlock,
    InterpolationUpsampler,
    ResidualBlock,
    carn,
    carn_m,
    create_carn,
    pixel_shuffle_factors,
)

# --- Parameter counts of the reference (nmhkahn/CARN-pytorch, carn/model/{carn,carn_m,ops}.py at
# commit a1d62d08, the PixelShuffle upsampler). Derived by hand from its layer definitions, then
# confirmed on a throwaway re-typing of that code (not committed): same counts, its state dicts
# (less the frozen mean-shift convs) load strictly into ours and the outputs agree exactly.
# A conv has cout * (cin / groups) * k * k weights + cout biases. C = 64 channels.


def _conv(cin: int, cout: int, k: int, groups: int = 1) -> int:
    return cout * (cin // groups) * k * k + cout


C = 64
ENTRY = _conv(3, C, 3)  # 1,792
EXIT = _conv(C, 3, 3)  # 1,731
MIXERS = _conv(2 * C, C, 1) + _conv(3 * C, C, 1) + _conv(4 * C, C, 1)  # 1x1 c1..c3: 37,056
RESIDUAL = 2 * _conv(C, C, 3)  # CARN unit: 73,856
E_RESIDUAL_G4 = 2 * _conv(C, C, 3, groups=4) + _conv(C, C, 1)  # CARN-M unit: 22,720
CARN_BLOCK = 3 * RESIDUAL + MIXERS  # three units: 258,624
CARN_M_BLOCK = 1 * E_RESIDUAL_G4 + MIXERS  # one unit applied three times: 59,776
CARN_BODY = ENTRY + 3 * CARN_BLOCK + MIXERS + EXIT  # 816,451
CARN_M_BODY = ENTRY + 3 * CARN_M_BLOCK + MIXERS + EXIT  # 219,907


def _upsampler(scale_factors: tuple[int, ...], groups: int) -> int:
    """One conv C -> r*r*C (3x3) per pixel-shuffle stage r."""
    return sum(_conv(C, r * r * C, 3, groups) for r in scale_factors)


# Exact totals (trainable; the reference also holds 24 frozen mean-shift parameters, which
# ours keeps as buffers). x6 and x8 (2*3 and 2*2*2 stages) are our extension; the reference's
# own loop builds x8 the same way.
CARN_PARAMS = {2: 964_163, 3: 1_148_803, 4: 1_111_875, 6: 1_296_515, 8: 1_259_587}
CARN_M_PARAMS = {2: 257_027, 3: 303_427, 4: 294_147, 6: 340_547, 8: 331_267}
CARN_MULTI_SCALE_PARAMS = 1_591_939  # paper Table: 1,592K
CARN_M_MULTI_SCALE_PARAMS = 414_787  # paper Table: 412K, which is its weights without biases:
CARN_M_MULTI_SCALE_WEIGHTS = 412_032  # the paper seems to have left CARN-M's biases out

FACTORS = {2: (2,), 3: (3,), 4: (2, 2), 6: (2, 3), 8: (2, 2, 2)}


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _weights_only(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.dim() > 1)


def test_hand_derived_counts_match_the_pinned_constants():
    for scale, factors in FACTORS.items():
        assert CARN_BODY + _upsampler(factors, groups=1) == CARN_PARAMS[scale]
        assert CARN_M_BODY + _upsampler(factors, groups=4) == CARN_M_PARAMS[scale]
    multi = ((2,), (3,), (2, 2))
    assert CARN_BODY + sum(_upsampler(f, 1) for f in multi) == CARN_MULTI_SCALE_PARAMS
    assert CARN_M_BODY + sum(_upsampler(f, 4) for f in multi) == CARN_M_MULTI_SCALE_PARAMS


@pytest.mark.parametrize("scale", sorted(FACTORS))
def test_single_scale_parameter_counts(scale):
    assert _count(carn(scale=scale)) == CARN_PARAMS[scale]
    assert _count(carn_m(scale=scale)) == CARN_M_PARAMS[scale]


def test_multi_scale_parameter_counts_match_reference_and_paper():
    full, mobile = carn(multi_scale=True), carn_m(multi_scale=True)
    assert _count(full) == sum(p.numel() for p in full.parameters()) == CARN_MULTI_SCALE_PARAMS
    assert _count(mobile) == CARN_M_MULTI_SCALE_PARAMS
    assert _weights_only(mobile) == CARN_M_MULTI_SCALE_WEIGHTS
    assert round(_count(full) / 1000) == 1592
    assert round(_weights_only(mobile) / 1000) == 412


def test_state_dict_keys_follow_the_reference_names():
    keys = set(carn_m(multi_scale=True).state_dict())
    assert {"entry.weight", "exit.bias", "c3.body.0.weight", "b3.c1.body.0.weight"} <= keys
    assert {"b2.b1.body.4.weight", "upsample.up3.body.0.weight"} <= keys
    assert "upsample.up4.body.3.weight" in keys  # the second x2 stage
    assert not any(k.startswith("b1.b2.") for k in keys)  # CARN-M shares its unit
    assert not any("mean" in k for k in keys)  # the mean shift is a non-persistent buffer
    assert "b1.b3.body.2.weight" in carn(scale=2).state_dict()


@pytest.mark.parametrize("builder", [carn, carn_m])
def test_output_shapes_for_every_scale(builder):
    x = torch.rand(2, 3, 8, 6)
    with torch.no_grad():
        for scale in sorted(FACTORS):
            model = builder(scale=scale)
            assert model.scale == scale
            assert model(x).shape == (2, 3, 8 * scale, 6 * scale)
            assert model(x, scale).shape == (2, 3, 8 * scale, 6 * scale)
        multi = builder(multi_scale=True)
        assert multi.scales == (2, 3, 4) and multi.scale is None
        for scale in (2, 3, 4):
            assert multi(x, scale).shape == (2, 3, 8 * scale, 6 * scale)


def test_multi_scale_branches_can_be_extended_to_runespoor_scales():
    model = carn_m(multi_scale=True, multi_scales=(2, 3, 4, 6, 8))
    assert model.scales == (2, 3, 4, 6, 8)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 4, 5), 6).shape == (1, 3, 24, 30)
    assert _count(model) == CARN_M_MULTI_SCALE_PARAMS + sum(
        _upsampler(FACTORS[s], 4) for s in (6, 8)
    )


def test_pixel_shuffle_factors():
    for scale, factors in FACTORS.items():
        assert pixel_shuffle_factors(scale) == factors
    assert pixel_shuffle_factors(12) == (2, 2, 3)
    assert pixel_shuffle_factors(9) == (3, 3)


@pytest.mark.parametrize("scale", [0, 1, 5, 7, 10, -2, 2.0, True])
def test_bad_scale_is_rejected(scale):
    with pytest.raises(ValueError):
        carn(scale=scale)
    with pytest.raises(ValueError):
        pixel_shuffle_factors(scale)


def test_bad_arguments_and_calls_are_rejected():
    with pytest.raises(ValueError):
        carn()  # neither scale nor multi_scale
    with pytest.raises(ValueError):
        carn(scale=2, multi_scale=True)
    with pytest.raises(ValueError):
        carn_m(multi_scale=True, multi_scales=(2, 5))
    x = torch.rand(1, 3, 4, 4)
    with pytest.raises(ValueError, match="multi-scale"):
        carn_m(multi_scale=True)(x, 8)
    with pytest.raises(ValueError, match="multi-scale"):
        carn_m(multi_scale=True)(x)
    with pytest.raises(ValueError, match="x2 only"):
        carn_m(scale=2)(x, 3)


def test_carn_m_uses_grouped_convolutions_and_shares_its_units():
    model = carn_m(multi_scale=True)
    units = [m for m in model.modules() if isinstance(m, EfficientResidualBlock)]
    assert len(units) == 3  # one per cascading block
    calls = []
    for unit in units:
        unit.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        model(torch.rand(1, 3, 4, 4), 2)
    assert len(calls) == 9  # each applied three times

    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    grouped = [m for m in convs if m.groups == 4]
    # 2 per unit + 4 upsampling stages (x2, x3, two for x4), all 3x3.
    assert len(grouped) == 3 * 2 + 4
    assert all(m.kernel_size == (3, 3) for m in grouped)
    assert all(m.groups == 1 for m in convs if m.kernel_size == (1, 1))
    assert not any(isinstance(m, ResidualBlock) for m in model.modules())

    full = carn(multi_scale=True)
    assert all(m.groups == 1 for m in full.modules() if isinstance(m, nn.Conv2d))
    assert sum(isinstance(m, ResidualBlock) for m in full.modules()) == 9


def test_mean_shift_is_undone_at_the_output():
    model = carn(scale=2)
    nn.init.zeros_(model.exit.weight)
    nn.init.zeros_(model.exit.bias)
    with torch.no_grad():
        out = model(torch.rand(1, 3, 4, 4))
    expected = torch.tensor(DIV2K_RGB_MEAN).view(1, 3, 1, 1).expand_as(out)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("scale", [2, 3, 4, 6, 8])
def test_interpolation_matches_f_interpolate(mode, scale):
    x = torch.rand(2, 3, 5, 7)
    up = InterpolationUpsampler(scale=scale, mode=mode)
    expected = F.interpolate(x, scale_factor=scale, mode=mode, align_corners=False)
    if mode == "bicubic":
        expected = expected.clamp(0, 1)
    torch.testing.assert_close(up(x), expected, rtol=0, atol=0)
    torch.testing.assert_close(InterpolationUpsampler(mode=mode)(x, scale), expected)
    assert len(list(up.parameters())) == 0
    assert up.state_dict() == {}


def test_bicubic_clamp_removes_overshoot():
    edge = torch.zeros(1, 3, 4, 8)
    edge[..., 4:] = 1.0  # a sharp step overshoots under the cubic kernel
    raw = F.interpolate(edge, scale_factor=4, mode="bicubic", align_corners=False)
    assert raw.min() < 0 and raw.max() > 1
    out = InterpolationUpsampler(scale=4, mode="bicubic")(edge)
    assert out.min() == 0 and out.max() == 1


def test_interpolation_scale_one_and_bad_arguments():
    x = torch.rand(1, 3, 4, 4)
    assert InterpolationUpsampler(scale=1)(x) is x
    with pytest.raises(ValueError):
        InterpolationUpsampler(scale=0)
    with pytest.raises(ValueError):
        InterpolationUpsampler(scale=2, mode="nearest")
    with pytest.raises(ValueError):
        InterpolationUpsampler(scale=2)(x, 3)
    with pytest.raises(ValueError):
        InterpolationUpsampler()(x)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"residual_block": ResidualBlock, "group": 1, "share_unit_weights": False},
        {"residual_block": EfficientResidualBlock, "group": 2, "share_unit_weights": True},
    ],
)
def test_training_steps_reduce_l1_loss(kwargs):
    torch.manual_seed(0)
    model = create_carn(
        scale=2, channels=8, num_cascading_blocks=2, num_units_per_block=2, **kwargs
    )
    assert isinstance(model, CARN)
    # Smooth 16x16 targets (noise would leave little to learn), 8x8 inputs.
    high = F.interpolate(torch.rand(4, 3, 4, 4), size=16, mode="bilinear", align_corners=False)
    low = F.avg_pool2d(high, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        loss = F.l1_loss(model(low, 2), high)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[1] < losses[0]  # the first gradient step already helps
    assert losses[-1] < 0.85 * losses[0]
