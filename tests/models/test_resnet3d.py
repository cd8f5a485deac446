import pytest
import torch
from torch import nn

from edgecloud.models.resnet3d import (
    BASIC_BLOCK_DEPTHS,
    BLOCKS_PER_STAGE,
    BOTTLENECK_DEPTHS,
    STAGES,
    ZeroPadShortcut,
    resnet3d,
    resnext3d,
    set_trainable_from,
)

# Reference counts from a throwaway re-typing (not committed) of Hara et al.'s CVPR-2018-era
# models, kenshohara/video-classification-3d-cnn-pytorch models/resnet.py at commit 598bba1e
# and models/resnext.py at commit 52f4b5d3 (the same layers as kenshohara/3D-ResNets-PyTorch
# models/resnet.py at 2031c322 with default conv1_t_size=7), built with sample_size=112,
# sample_duration=16, num_classes=400. Their outputs also matched ours to 1e-7 after copying the
# weights across. They agree with the rounded counts in Hara et al. (CVPR 2018): 33.2M, 48.3M.
RESNET18_SHORTCUT_A_PARAMS = 33_235_280
RESNEXT101_CARDINALITY32_SHORTCUT_B_PARAMS = 48_340_816

TINY_RESNET_WIDTHS = (4, 8, 8, 16)
TINY_RESNEXT = {"widths": (8, 16, 16, 32), "cardinality": 2, "group_width_divisor": 8}


def _count(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def _tiny_clips(batch: int = 2, frames: int = 4, size: int = 16) -> torch.Tensor:
    return torch.randn(batch, 3, frames, size, size)


def test_resnet18_shortcut_a_matches_reference_parameter_count():
    with torch.device("meta"):  # shapes only: no memory, no compute
        model = resnet3d(depth=18, num_classes=400, shortcut_type="A")
        logits = model(torch.empty(2, 3, 16, 112, 112))
    assert _count(model) == RESNET18_SHORTCUT_A_PARAMS
    assert logits.shape == (2, 400)
    assert model.feature_dim == 512


def test_resnext101_matches_reference_parameter_count():
    with torch.device("meta"):
        model = resnext3d(depth=101, num_classes=400, cardinality=32, shortcut_type="B")
        logits = model(torch.empty(2, 3, 16, 112, 112))
    assert _count(model) == RESNEXT101_CARDINALITY32_SHORTCUT_B_PARAMS
    assert logits.shape == (2, 400)
    assert model.feature_dim == 2048


@pytest.mark.parametrize("shortcut_type", ["A", "B"])
@pytest.mark.parametrize("depth", sorted(BLOCKS_PER_STAGE))
def test_every_resnet_depth_classifies_tiny_clips(depth, shortcut_type):
    torch.manual_seed(0)
    model = resnet3d(
        depth=depth, num_classes=5, shortcut_type=shortcut_type, widths=TINY_RESNET_WIDTHS
    )
    expansion = 1 if depth in BASIC_BLOCK_DEPTHS else 4
    assert model.feature_dim == TINY_RESNET_WIDTHS[-1] * expansion
    assert [len(getattr(model, f"conv{i}")) for i in range(2, 6)] == list(BLOCKS_PER_STAGE[depth])
    logits = model(_tiny_clips())
    assert logits.shape == (2, 5)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("shortcut_type", ["A", "B"])
@pytest.mark.parametrize("depth", BOTTLENECK_DEPTHS)
def test_every_resnext_depth_classifies_tiny_clips(depth, shortcut_type):
    torch.manual_seed(0)
    model = resnext3d(depth=depth, num_classes=3, shortcut_type=shortcut_type, **TINY_RESNEXT)
    grouped = model.conv2[0].conv2
    assert grouped.groups == 2
    assert grouped.out_channels == 2 * (8 // 8)  # cardinality * (width // group_width_divisor)
    assert model.feature_dim == 2 * 32
    assert model(_tiny_clips()).shape == (2, 3)


@pytest.mark.parametrize(("frames", "size"), [(16, 56), (16, 112), (8, 40), (1, 17)])
def test_any_clip_size_works_thanks_to_adaptive_pooling(frames, size):
    model = resnet3d(depth=10, num_classes=4, widths=(4, 4, 8, 8)).eval()
    with torch.no_grad():
        assert model(_tiny_clips(batch=1, frames=frames, size=size)).shape == (1, 4)


def test_features_are_the_classifier_input():
    torch.manual_seed(0)
    model = resnet3d(depth=18, num_classes=7, widths=TINY_RESNET_WIDTHS).eval()
    clips = _tiny_clips(batch=3)
    with torch.no_grad():
        features = model.features(clips)
        assert features.shape == (3, model.feature_dim)
        torch.testing.assert_close(model(clips), model.fc(features))


def test_clips_must_be_five_dimensional():
    model = resnet3d(depth=10, num_classes=2, widths=TINY_RESNET_WIDTHS)
    with pytest.raises(ValueError, match=r"\(N, C, T, H, W\)"):
        model(torch.randn(3, 4, 16, 16))


def test_shortcut_a_has_no_projection_parameters_and_b_has_them():
    shortcut_a = resnet3d(depth=18, num_classes=2, shortcut_type="A", widths=TINY_RESNET_WIDTHS)
    shortcut_b = resnet3d(depth=18, num_classes=2, shortcut_type="B", widths=TINY_RESNET_WIDTHS)
    assert not any("shortcut" in name for name, _ in shortcut_a.named_parameters())
    assert any("shortcut" in name for name, _ in shortcut_b.named_parameters())
    zero_pads = [m for m in shortcut_a.modules() if isinstance(m, ZeroPadShortcut)]
    assert len(zero_pads) == 3  # the first block of conv3, conv4, conv5
    # B adds a 1x1x1 conv and a norm (weight, bias) where the shape changes (4->8, 8->8, 8->16)
    projections = sum(i * o + 2 * o for i, o in [(4, 8), (8, 8), (8, 16)])
    assert _count(shortcut_b) - _count(shortcut_a) == projections


def test_zero_pad_shortcut_subsamples_pads_and_passes_gradients():
    x = torch.randn(2, 3, 5, 7, 7, requires_grad=True)
    y = ZeroPadShortcut(in_channels=3, out_channels=8, stride=2)(x)
    assert y.shape == (2, 8, 3, 4, 4)  # the size a padded stride-2 3x3x3 convolution gives
    torch.testing.assert_close(y[:, :3], x[:, :, ::2, ::2, ::2])
    assert (y[:, 3:] == 0).all()
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="shortcut_type='B'"):
        ZeroPadShortcut(in_channels=8, out_channels=4, stride=1)


def test_layer_types_are_swappable():
    model = resnet3d(
        depth=18,
        num_classes=2,
        widths=(4, 4, 8, 8),
        norm=lambda channels: nn.GroupNorm(2, channels),
        activation=nn.SiLU,
        in_channels=1,
        conv1_temporal_kernel=3,
    )
    assert not any(isinstance(m, nn.BatchNorm3d) for m in model.modules())
    assert any(isinstance(m, nn.SiLU) for m in model.modules())
    assert model.conv1.conv.kernel_size == (3, 7, 7)
    assert model(torch.randn(2, 1, 4, 16, 16)).shape == (2, 2)


def _trainable_stages(model) -> set[str]:
    return {name.split(".")[0] for name, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("conv1", set(STAGES)),
        ("conv5", {"conv5", "fc"}),
        ("fc", {"fc"}),
    ],
)
def test_set_trainable_from_freezes_exactly_the_earlier_stages(stage, expected):
    model = resnet3d(depth=18, num_classes=3, widths=TINY_RESNET_WIDTHS)
    assert set_trainable_from(model, stage) is model
    assert _trainable_stages(model) == expected
    for name in STAGES:
        frozen = name not in expected
        assert all(p.requires_grad != frozen for p in getattr(model, name).parameters())


def test_default_fine_tuning_stage_is_conv5_and_can_be_undone():
    model = resnet3d(depth=10, num_classes=3, widths=TINY_RESNET_WIDTHS)
    set_trainable_from(model)
    assert _trainable_stages(model) == {"conv5", "fc"}
    set_trainable_from(model, "conv1")
    assert _trainable_stages(model) == set(STAGES)
    model.train()
    assert all(module.training for module in model.modules())


def _running_stats(module: nn.Module) -> dict[str, torch.Tensor]:
    return {
        name: buffer.clone()
        for name, buffer in module.named_buffers()
        if "running" in name or "num_batches" in name
    }


def test_frozen_batch_norm_statistics_do_not_move_in_train_mode():
    torch.manual_seed(0)
    model = resnext3d(depth=50, num_classes=3, **TINY_RESNEXT)
    set_trainable_from(model, "conv5")
    model.train()
    assert model.training and model.conv5.training and model.fc.training
    assert not any(getattr(model, name).training for name in ("conv1", "conv2", "conv3", "conv4"))

    frozen_before = {name: _running_stats(getattr(model, name)) for name in STAGES[:4]}
    trainable_before = _running_stats(model.conv5)
    loss = nn.functional.cross_entropy(model(_tiny_clips() * 3 + 1), torch.tensor([0, 2]))
    loss.backward()

    for name, stats in frozen_before.items():
        for key, value in _running_stats(getattr(model, name)).items():
            torch.testing.assert_close(value, stats[key], rtol=0, atol=0)
    moved = _running_stats(model.conv5)
    assert any(not torch.equal(moved[key], value) for key, value in trainable_before.items())
    for name, parameter in model.named_parameters():
        assert (parameter.grad is not None) == name.startswith(("conv5.", "fc."))


@pytest.mark.parametrize("depth", [0, 20, 200])
def test_resnet_rejects_unknown_depths(depth):
    with pytest.raises(ValueError, match="depth must be one of"):
        resnet3d(depth=depth, num_classes=2)


@pytest.mark.parametrize("depth", [18, 34, 200])
def test_resnext_rejects_basic_block_and_unknown_depths(depth):
    with pytest.raises(ValueError, match=r"depth must be one of \(50, 101, 152\)"):
        resnext3d(depth=depth, num_classes=2)


@pytest.mark.parametrize("builder", [resnet3d, resnext3d])
def test_unknown_shortcut_type_is_rejected(builder):
    with pytest.raises(ValueError, match="shortcut_type must be one of"):
        builder(depth=50, num_classes=2, shortcut_type="C")


def test_bad_widths_are_rejected():
    with pytest.raises(ValueError, match="4 positive stage widths"):
        resnet3d(depth=18, num_classes=2, widths=(8, 16, 32))
    with pytest.raises(ValueError, match="group_width_divisor"):
        resnext3d(depth=50, num_classes=2, widths=(16, 32, 64, 128))  # 16 is not a multiple of 32
    with pytest.raises(ValueError, match="num_classes"):
        resnet3d(depth=18, num_classes=0, widths=TINY_RESNET_WIDTHS)


def test_unknown_stage_error_names_the_valid_stages():
    model = resnet3d(depth=10, num_classes=2, widths=TINY_RESNET_WIDTHS)
    with pytest.raises(ValueError, match="conv1, conv2, conv3, conv4, conv5, fc"):
        set_trainable_from(model, "layer4")
    with pytest.raises(TypeError, match="ResNet3d"):
        set_trainable_from(nn.Linear(2, 2), "fc")
