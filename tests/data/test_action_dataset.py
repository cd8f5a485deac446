"""Clip augmentation, the action datasets (clips, windows, SimiNet pairs) and datamodules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edgecloud.data.action_datamodule import ActionDataModule, SiminetPairDataModule
from edgecloud.data.action_dataset import (
    DIFFERENT,
    IGNORE_INDEX,
    SAME,
    ActionClipDataset,
    ActionWindowDataset,
    PairFeatureDataset,
    SiminetPairDataset,
    precompute_pair_features,
)
from edgecloud.data.action_transforms import (
    KINETICS_MEAN,
    KINETICS_STD,
    EvalClipTransform,
    SpatialAugmentation,
    TrainClipTransform,
    multi_scales,
    temporal_random_crop,
)
from edgecloud.data.action_video import ActionSegment, ActionVideo

HEIGHT, WIDTH = 12, 16
WINDOW = 4


class IndexFrames:
    """An in-memory FrameSource: frame ``i`` is ``i`` everywhere, so clips reveal their frames."""

    def __init__(self, num_frames: int, *, name: str = "fake") -> None:
        self.num_frames = num_frames
        self.name = name

    @property
    def location(self) -> Path:
        return Path(f"memory://{self.name}")

    def __len__(self) -> int:
        return self.num_frames

    def read(self, index: int) -> np.ndarray:
        if not 0 <= index < self.num_frames:
            raise IndexError(index)
        return np.full((HEIGHT, WIDTH, 3), index, dtype=np.uint8)


# An identity-like eval transform: the clip's frames stay readable in the output tensor.
RAW = EvalClipTransform(input_size=HEIGHT, mean=(0, 0, 0), std=(1, 1, 1))


def decoded_frames(clip: torch.Tensor) -> list[int]:
    """Frame indices of a (3, T, S, S) clip of :class:`IndexFrames` through :data:`RAW`."""
    values = clip.mul(255).round().to(torch.int64)
    assert (values == values[:, :, :1, :1]).all(), "every pixel of a frame holds its index"
    return values[0, :, 0, 0].tolist()


def make_video(name: str, num_frames: int, segments: list[tuple[int, int, int]]) -> ActionVideo:
    return ActionVideo(
        name=name,
        frames=IndexFrames(num_frames, name=name),
        fps=30.0,
        segments=tuple(ActionSegment(label=c, start=s, end=e) for c, s, e in segments),
    )


@pytest.fixture
def videos() -> list[ActionVideo]:
    # Video 0: class 1 on [10, 20), class 2 on [24, 26) (shorter than a window).
    # Video 1: class 3 on [2, 9) (starts before one window of frames), class 1 on [13, 30).
    return [
        make_video("a", 30, [(1, 10, 20), (2, 24, 26)]),
        make_video("b", 32, [(3, 2, 9), (1, 13, 30)]),
    ]


def gradient_clip(num_frames: int = 6, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """A clip that is not mirror-symmetric: red grows with x, green with y, blue with time."""
    clip = np.zeros((num_frames, height, width, 3), dtype=np.uint8)
    clip[..., 0] = (np.arange(width) * 15)[None, None, :]
    clip[..., 1] = (np.arange(height) * 20)[None, :, None]
    clip[..., 2] = (np.arange(num_frames) * 30)[:, None, None]
    return clip


# ------------------------------------------------------------------------------ transforms


def test_multi_scales_are_those_of_3d_resnets():
    np.testing.assert_allclose(multi_scales(), [1, 2**-0.25, 2**-0.5, 2**-0.75, 0.5])
    assert multi_scales(num_scales=1) == (1.0,)


def test_temporal_random_crop_stays_inside_and_covers_every_start():
    rng = np.random.default_rng(0)
    firsts = set()
    for _ in range(200):
        clip = temporal_random_crop(10, 20, size=4, generator=rng)
        assert clip.tolist() == list(range(clip[0], clip[0] + 4))
        firsts.add(int(clip[0]))
    assert firsts == set(range(10, 17))  # every start that keeps the clip inside [10, 20)


def test_temporal_random_crop_loops_a_short_range():
    rng = np.random.default_rng(0)
    assert temporal_random_crop(5, 8, size=7, generator=rng).tolist() == [5, 6, 7, 5, 6, 7, 5]
    assert temporal_random_crop(5, 9, size=4, generator=rng).tolist() == [5, 6, 7, 8]


def test_train_transform_shape_and_determinism():
    transform = TrainClipTransform(input_size=8)
    clip = gradient_clip()
    out = transform(clip, generator=np.random.default_rng(3))
    assert out.shape == (3, 6, 8, 8) and out.dtype == torch.float32
    assert out.is_contiguous()
    again = transform(clip, generator=np.random.default_rng(3))
    torch.testing.assert_close(out, again, rtol=0, atol=0)
    others = [transform(clip, generator=np.random.default_rng(seed)) for seed in range(8)]
    assert any(not torch.equal(out, other) for other in others)


def test_horizontal_flip_mirrors_the_clip():
    clip = gradient_clip()
    kwargs = {"input_size": HEIGHT, "scales": (1.0,), "positions": ("c",)}
    plain = TrainClipTransform(horizontal_flip=0.0, **kwargs)(
        clip, generator=np.random.default_rng(0)
    )
    flipped = TrainClipTransform(horizontal_flip=1.0, **kwargs)(
        clip, generator=np.random.default_rng(0)
    )
    assert not torch.equal(plain, flipped)
    torch.testing.assert_close(flipped, plain.flip(-1), rtol=0, atol=0)
    # Also through a resize.
    kwargs["input_size"] = 7
    plain = TrainClipTransform(horizontal_flip=0.0, **kwargs)(
        clip, generator=np.random.default_rng(0)
    )
    flipped = TrainClipTransform(horizontal_flip=1.0, **kwargs)(
        clip, generator=np.random.default_rng(0)
    )
    torch.testing.assert_close(flipped, plain.flip(-1), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("position", "top", "left"),
    [("tl", 0, 0), ("tr", 0, 10), ("bl", 6, 0), ("br", 6, 10), ("c", 3, 5)],
)
def test_multi_scale_crop_positions(position, top, left):
    # Half scale of a 12 x 16 frame: a 6-pixel square at one of five places.
    transform = TrainClipTransform(
        input_size=6,
        scales=(0.5,),
        positions=(position,),
        horizontal_flip=0.0,
        mean=(0, 0, 0),
        std=(1, 1, 1),
    )
    augmentation = transform.sample(height=HEIGHT, width=WIDTH, generator=np.random.default_rng(0))
    assert augmentation == SpatialAugmentation(top=top, left=left, size=6, flip=False)
    clip = gradient_clip()
    out = transform(clip, generator=np.random.default_rng(0))
    expected = torch.from_numpy(clip[:, top : top + 6, left : left + 6]).permute(3, 0, 1, 2) / 255
    torch.testing.assert_close(out, expected.float(), rtol=0, atol=1e-6)


def test_train_transform_draws_every_scale_and_position():
    transform = TrainClipTransform(input_size=8)
    rng = np.random.default_rng(0)
    draws = [transform.sample(height=HEIGHT, width=WIDTH, generator=rng) for _ in range(300)]
    assert {d.size for d in draws} == {12, 10, 8, 7, 6}  # 12 * 1, 0.84, 0.71, 0.59, 0.5
    assert {(d.top == 0, d.left == 0) for d in draws if d.size == 6} == {
        (True, True),
        (True, False),
        (False, True),
        (False, False),
    }
    assert 0.35 < np.mean([d.flip for d in draws]) < 0.65


def test_eval_transform_center_crops_resizes_and_normalises():
    clip = gradient_clip()
    out = EvalClipTransform(input_size=HEIGHT, mean=(0, 0, 0), std=(1, 1, 1))(clip)
    expected = torch.from_numpy(clip[:, :, 2:14]).permute(3, 0, 1, 2).float() / 255
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    constant = np.full((2, HEIGHT, WIDTH, 3), 51, dtype=np.uint8)
    out = EvalClipTransform(input_size=5)(constant)
    assert out.shape == (3, 2, 5, 5)
    mean, std = torch.tensor(KINETICS_MEAN), torch.tensor(KINETICS_STD)
    torch.testing.assert_close(out[:, 0, 0, 0], (0.2 - mean) / std)


def test_transforms_reject_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        EvalClipTransform(input_size=4)(np.zeros((2, 4, 4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="positions"):
        TrainClipTransform(positions=("middle",))
    with pytest.raises(ValueError, match="scales"):
        TrainClipTransform(scales=(1.5,))


# ------------------------------------------------------------------------------ training clips


def test_clip_dataset_samples_only_inside_actions(videos):
    dataset = ActionClipDataset(videos, window_size=WINDOW, clips_per_segment=3, transform=RAW)
    assert len(dataset) == 4 * 3
    for _ in range(5):
        for item in range(len(dataset)):
            clip, target = dataset[item]
            segment = dataset.segment(item)
            frames = decoded_frames(clip)
            assert clip.shape == (3, WINDOW, HEIGHT, HEIGHT)
            assert all(segment.start <= f < segment.end for f in frames)
            assert target["label"].item() == segment.label - 1
            assert target["start"].item() == frames[0]
    # The 2-frame segment [24, 26) is looped to fill a window.
    short = next(i for i in range(len(dataset)) if dataset.segment(i).start == 24)
    assert decoded_frames(dataset[short][0]) == [24, 25, 24, 25]


def test_clip_dataset_is_reproducible(videos):
    seeded = ActionClipDataset(
        videos, window_size=WINDOW, seed=7, transform=TrainClipTransform(input_size=8)
    )
    first = [seeded[i][0] for i in range(len(seeded))]
    second = [seeded[i][0] for i in range(len(seeded))]
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    # Unseeded: from torch's RNG, so a fixed torch seed repeats the epoch.
    unseeded = ActionClipDataset(
        videos, window_size=WINDOW, transform=TrainClipTransform(input_size=8)
    )
    torch.manual_seed(1)
    first = [unseeded[i][0] for i in range(len(unseeded))]
    torch.manual_seed(1)
    second = [unseeded[i][0] for i in range(len(unseeded))]
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


# ------------------------------------------------------------------------------ windows


def test_window_dataset_serves_every_window_in_order(videos):
    dataset = ActionWindowDataset(videos, window_size=8, window_stride=4, transform=RAW)
    # (30 - 8) // 4 + 1 = 6 windows in video a, (32 - 8) // 4 + 1 = 7 in video b.
    assert len(dataset) == 13
    items = [dataset[i] for i in range(len(dataset))]
    assert [t["video_index"].item() for _, t in items] == [0] * 6 + [1] * 7
    assert [t["window_index"].item() for _, t in items] == list(range(6)) + list(range(7))
    for clip, target in items:
        start = target["start"].item()
        assert decoded_frames(clip) == list(range(start, start + 8))
    # Video a: class 1 on [10, 20), class 2 on [24, 26). Windows [0,8) 0; [4,12) 2 of 8 -> 0;
    # [8,16) 6 -> 1; [12,20) 8 -> 1; [16,24) 4 -> 1; [20,28) 2 of class 2 -> 0.
    # Video b: class 3 on [2, 9), class 1 on [13, 30). [0,8) 6 of 3 -> 3; [4,12) 5 of 3 -> 3;
    # [8,16) 3 of 1 -> 0; [12,20) 7 -> 1; [16,24), [20,28) -> 1; [24,32) 6 -> 1.
    window_labels = [t["window_label"].item() for _, t in items]
    assert window_labels == [0, 0, 1, 1, 1, 0, 3, 3, 0, 1, 1, 1, 1]
    targets = [t["label"].item() for _, t in items]
    assert targets == [IGNORE_INDEX if w == 0 else w - 1 for w in window_labels]
    assert dataset.labels[0].tolist() == window_labels[:6]


# ------------------------------------------------------------------------------ SimiNet pairs


def test_siminet_pairs_are_labelled_and_placed_as_in_the_paper(videos):
    torch.manual_seed(0)
    dataset = SiminetPairDataset(videos, window_size=WINDOW, transform=RAW)  # redrawn per item
    # Video b's class 3 starts at frame 2: fewer than a window of frames before it, skipped.
    assert dataset.skipped == [(1, 0)]
    assert len(dataset) == 2 * 3
    assert [label for *_, label in dataset.index] == [DIFFERENT, SAME] * 3
    assert dataset.previous_range(0, 0) == (2, 10)  # the 2 * 4 frames right before [10, 20)
    assert dataset.previous_range(0, 1) == (16, 24)
    assert dataset.previous_range(1, 1) == (5, 13)
    for _ in range(10):
        for item, (video_index, segment_index, label) in enumerate(dataset.index):
            first, second, target = dataset[item]
            segment = videos[video_index].segments[segment_index]
            a, b = decoded_frames(first), decoded_frames(second)
            assert target["label"].dtype == torch.float32
            assert target["label"].item() == label
            assert all(segment.start <= f < segment.end for f in b)
            if label == DIFFERENT:
                before = dataset.previous_range(video_index, segment_index)
                assert all(before[0] <= f < before[1] for f in a)
            else:
                assert all(segment.start <= f < segment.end for f in a)
                if len(range(segment.start, segment.end)) > WINDOW:
                    assert a[0] < b[0]  # two different clips, the earlier first
                else:
                    assert a == b  # [24, 26) has room for one (looped) clip only
            assert (target["first_start"].item(), target["second_start"].item()) == (a[0], b[0])


def test_siminet_uses_what_there_is_before_an_early_segment():
    # Class 1 starts at frame 6: more than one window (4) but less than 2 * 4 frames before it.
    video = make_video("early", 20, [(1, 6, 12)])
    dataset = SiminetPairDataset([video], window_size=WINDOW, transform=RAW)
    assert dataset.skipped == [] and len(dataset) == 2
    assert dataset.previous_range(0, 0) == (0, 6)
    torch.manual_seed(0)
    firsts = {decoded_frames(dataset[0][0])[0] for _ in range(30)}
    assert firsts == {0, 1, 2}  # every window inside [0, 6)


def test_siminet_pair_of_a_one_window_segment_repeats_the_clip():
    video = make_video("short", 20, [(2, 10, 14)])
    dataset = SiminetPairDataset([video], window_size=WINDOW, transform=RAW, seed=0)
    first, second, target = dataset[1]
    assert target["label"].item() == SAME
    assert decoded_frames(first) == decoded_frames(second) == [10, 11, 12, 13]


class RecordingTransform(TrainClipTransform):
    """A train transform that remembers the augmentation of every clip it applies."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.applied: list[SpatialAugmentation] = []

    def apply(self, clip, augmentation):
        self.applied.append(augmentation)
        return super().apply(clip, augmentation)


def test_siminet_pairs_share_their_spatial_augmentation(videos):
    transform = RecordingTransform(input_size=8)
    dataset = SiminetPairDataset(videos, window_size=WINDOW, transform=transform, seed=3)
    for item in range(len(dataset)):
        first, second, _ = dataset[item]
        assert first.shape == second.shape == (3, WINDOW, 8, 8)
        assert transform.applied[-1] == transform.applied[-2]
    assert len({(a.top, a.left, a.size, a.flip) for a in transform.applied}) > 1
    again = SiminetPairDataset(videos, window_size=WINDOW, transform=transform, seed=3)
    assert all(
        torch.equal(dataset[i][0], again[i][0]) and torch.equal(dataset[i][1], again[i][1])
        for i in range(len(dataset))
    )


def mean_colour(clips: torch.Tensor) -> torch.Tensor:
    """A stand-in frozen model: (N, 3, T, S, S) clips -> (N, 3) mean colour features."""
    return clips.mean(dim=(2, 3, 4))


def test_siminet_pairs_of_features(videos):
    dataset = SiminetPairDataset(
        videos, window_size=WINDOW, transform=RAW, seed=0, feature_extractor=mean_colour
    )
    first, second, _ = dataset[0]
    assert first.shape == second.shape == (3,)
    assert not first.is_inference()
    clips = SiminetPairDataset(videos, window_size=WINDOW, transform=RAW, seed=0)
    torch.testing.assert_close(first, clips[0][0].mean(dim=(1, 2, 3)))

    features = precompute_pair_features(clips, feature_extractor=mean_colour, batch_size=4)
    assert isinstance(features, PairFeatureDataset) and len(features) == len(clips)
    assert features.first.shape == (len(clips), 3)
    assert [features[i][2]["label"].item() for i in range(len(features))] == [0, 1] * 3
    torch.testing.assert_close(features[2][1], clips[2][1].mean(dim=(1, 2, 3)))
    with pytest.raises(ValueError, match="already extracts"):
        precompute_pair_features(dataset, feature_extractor=mean_colour)


# ------------------------------------------------------------------------------ datamodules


def datamodule_kwargs(videos: list[ActionVideo], prepared: list[bool]) -> dict:
    return {
        "class_names": ["wave", "clap", "sit"],
        "train_videos": lambda: videos,
        "val_videos": lambda: videos[:1],
        "prepare": lambda: prepared.append(True),
        "window_size": WINDOW,
        "input_size": 8,
        "batch_size": 3,
    }


def test_action_datamodule_serves_clips_and_windows(videos):
    prepared: list[bool] = []
    dm = ActionDataModule(
        **datamodule_kwargs(videos, prepared), window_stride=2, clips_per_segment=2
    )
    dm.prepare_data()
    assert prepared == [True]
    dm.setup("fit")
    assert dm.num_classes == 3
    assert len(dm.train_set) == 8
    clips, target = next(iter(dm.train_dataloader()))
    assert clips.shape == (3, 3, WINDOW, 8, 8) and clips.dtype == torch.float32
    assert target["label"].shape == (3,) and set(target["label"].tolist()) <= {0, 1, 2}
    batches = list(dm.val_dataloader())
    starts = torch.cat([t["start"] for _, t in batches]).tolist()
    assert starts == list(range(0, 27, 2))  # every window of video a, in order
    assert batches[0][0].shape == (3, 3, WINDOW, 8, 8)
    assert [len(v.segments) for v in dm.val_videos()] == [2]


def test_action_datamodule_is_reproducible_with_workers(videos):
    def epoch() -> list[torch.Tensor]:
        dm = ActionDataModule(**datamodule_kwargs(videos, []), num_workers=2, clips_per_segment=2)
        dm.setup("fit")
        torch.manual_seed(5)
        return [clips for clips, _ in dm.train_dataloader()]

    first, second = epoch(), epoch()
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_action_datamodule_checks_the_class_ids(videos):
    kwargs = datamodule_kwargs(videos, [])
    kwargs["class_names"] = ["wave", "clap"]  # video b has class 3
    dm = ActionDataModule(**kwargs)
    with pytest.raises(ValueError, match=r"b: segment .* class 3, outside 1\.\.2"):
        dm.setup("fit")
    with pytest.raises(ValueError, match="unique"):
        ActionDataModule(**{**kwargs, "class_names": ["wave", "wave"]})


def test_siminet_datamodule_serves_pairs(videos):
    dm = SiminetPairDataModule(**datamodule_kwargs(videos, []), seed=None, val_seed=1)
    dm.setup("fit")
    assert len(dm.train_set) == 6 and len(dm.val_set) == 4
    first, second, target = next(iter(dm.train_dataloader()))
    assert first.shape == second.shape == (3, 3, WINDOW, 8, 8)
    assert target["label"].dtype == torch.float32
    val = [torch.cat([b[0] for b in dm.val_dataloader()]) for _ in range(2)]
    assert torch.equal(val[0], val[1])  # the same validation pairs every epoch
    labels = torch.cat([b[2]["label"] for b in dm.val_dataloader()]).tolist()
    assert labels == [0.0, 1.0, 0.0, 1.0]
