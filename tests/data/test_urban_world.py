"""The synthetic urban world: a valid Cityscapes root, deterministic bytes, caching, checked
config, and labels that match what world.json reports (small classes present, large ones
dominant)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from edgecloud.data.formats.cityscapes import (
    CityscapesFrame,
    group_clips,
    load_image,
    load_label_ids,
    load_train_ids,
    read_cityscapes,
)
from edgecloud.data.formats.cityscapes_labels import (
    CITYSCAPES_CLASS_NAMES,
    IGNORE_INDEX,
    NUM_CLASSES,
    train_id_to_label_id_table,
)
from edgecloud.data.synthetic.urban_world import (
    LARGE_CLASS_NAMES,
    SMALL_CLASS_NAMES,
    UrbanWorldConfig,
    city_names,
    class_fractions,
    ensure_urban_world,
    generate_urban_world,
    main,
)

TINY = UrbanWorldConfig(num_train_clips=2, num_val_clips=1, frames_per_clip=4, width=192, height=96)
"""Three clips of four 192x96 frames, generated in about a second."""
CONTENT = UrbanWorldConfig(num_train_clips=4, num_val_clips=2, frames_per_clip=2)
"""Six two-frame clips at the default size, enough to show every small class."""

SPLITS = ("train", "val")
TRAIN_ID = {name: index for index, name in enumerate(CITYSCAPES_CLASS_NAMES)}


def _digests(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, keyed by relative path."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _world(root: Path) -> dict:
    return json.loads((root / "world.json").read_text())


def _clips(root: Path, split: str) -> dict[tuple[str, int], list[CityscapesFrame]]:
    """The frames of each clip of ``split``, keyed by ``(city, sequence)``."""
    return {
        (clip[0].city, clip[0].sequence): clip
        for clip in group_clips(read_cityscapes(root, split=split))
    }


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_urban_world(TINY, tmp_path_factory.mktemp("tiny") / "world", workers=2)


@pytest.fixture(scope="module")
def content_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_urban_world(CONTENT, tmp_path_factory.mktemp("content") / "world", workers=2)


@pytest.mark.slow
def test_layout_is_a_cityscapes_root_of_clips(tiny_world: Path) -> None:
    cities = {}
    for split, count in (("train", TINY.num_train_clips), ("val", TINY.num_val_clips)):
        frames = read_cityscapes(tiny_world, split=split)
        assert len(frames) == count * TINY.frames_per_clip
        clips = group_clips(frames)
        assert len(clips) == count
        for clip in clips:
            assert [frame.frame for frame in clip] == list(range(TINY.frames_per_clip))
        cities[split] = {frame.city for frame in frames}
        assert cities[split] <= set(city_names(TINY, split))
        world_clips = _world(tiny_world)["clips"][split]
        assert [(e["city"], e["sequence"]) for e in world_clips] == [
            (clip[0].city, clip[0].sequence) for clip in clips
        ]
    assert not cities["train"] & cities["val"]
    assert not set(city_names(TINY, "train")) & set(city_names(TINY, "val"))


@pytest.mark.slow
def test_same_config_gives_identical_bytes_whatever_the_worker_count(
    tiny_world: Path, tmp_path: Path
) -> None:
    again = generate_urban_world(TINY, tmp_path / "again", workers=1)
    expected = _digests(tiny_world)
    clips = TINY.num_train_clips + TINY.num_val_clips
    assert len(expected) == 2 * clips * TINY.frames_per_clip + 1  # image, label map, world.json
    assert _digests(again) == expected


@pytest.mark.slow
def test_another_seed_gives_other_bytes(tiny_world: Path, tmp_path: Path) -> None:
    other = generate_urban_world(dataclasses.replace(TINY, seed=1), tmp_path / "other", workers=1)
    reference = _digests(tiny_world)
    digests = _digests(other)
    assert digests.keys() == reference.keys()
    assert all(digests[name] != reference[name] for name in reference)


@pytest.mark.slow
def test_ensure_reuses_a_current_world_and_regenerates_a_stale_one(tmp_path: Path) -> None:
    root = tmp_path / "cached"
    small = dataclasses.replace(TINY, num_train_clips=1, num_val_clips=0, frames_per_clip=2)
    ensure_urban_world(small, root, workers=1)
    marker = read_cityscapes(root, split="train")[0].image_path
    before = (marker.stat().st_mtime_ns, (root / "world.json").stat().st_mtime_ns)

    assert ensure_urban_world(small, root, workers=1) == root
    assert (marker.stat().st_mtime_ns, (root / "world.json").stat().st_mtime_ns) == before

    longer = dataclasses.replace(small, frames_per_clip=3)
    ensure_urban_world(longer, root, workers=1)
    assert _world(root)["config"]["frames_per_clip"] == 3
    assert len(read_cityscapes(root, split="train")) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cached.") and p.is_dir()]


def test_config_accepts_lists() -> None:
    config = UrbanWorldConfig(speed=[0.5, 1.0], pole_spacing=[10, 20])
    assert config.speed == (0.5, 1.0) and config.pole_spacing == (10, 20)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("num_train_clips", -1),
        ("frames_per_clip", 0),
        ("width", 100),
        ("width", 0),
        ("height", 0),
        ("height", 200),
        ("train_cities", 0),
        ("train_cities", 13),
        ("val_cities", 5),
        ("speed", (2.0, 1.0)),
        ("speed", (-0.5, 1.0)),
        ("stretch_length", (2.0, 10.0)),
        ("pole_spacing", (1.0, 5.0)),
        ("junction_probability", 1.5),
        ("person_density", -0.1),
        ("heavy_vehicle_fraction", -0.1),
        ("noise", -1.0),
        ("blur", -0.5),
    ],
)
def test_config_rejects_an_out_of_range_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=re.escape(f"UrbanWorldConfig.{field} = ")):
        UrbanWorldConfig(**{field: value})


@pytest.mark.slow
def test_label_maps_hold_only_trained_classes_and_the_bonnet(tiny_world: Path) -> None:
    allowed_label_ids = set(train_id_to_label_id_table()[:NUM_CLASSES].tolist()) | {0}
    for split in SPLITS:
        for frame in read_cityscapes(tiny_world, split=split):
            assert set(np.unique(load_label_ids(frame)).tolist()) <= allowed_label_ids
            train_ids = set(np.unique(load_train_ids(frame)).tolist())
            assert train_ids <= set(range(NUM_CLASSES)) | {IGNORE_INDEX}
            assert TRAIN_ID["train"] not in train_ids
            assert IGNORE_INDEX in train_ids  # the ego vehicle's bonnet


@pytest.mark.slow
@pytest.mark.parametrize("world", ["tiny_world", "content_world"])
def test_world_json_counts_are_those_of_the_label_maps(
    world: str, request: pytest.FixtureRequest
) -> None:
    root = request.getfixturevalue(world)
    small = [TRAIN_ID[name] for name in SMALL_CLASS_NAMES]
    for split in SPLITS:
        clips = _clips(root, split)
        for entry in _world(root)["clips"][split]:
            frames = clips[entry["city"], entry["sequence"]]
            assert entry["num_frames"] == len(frames)
            counts = np.zeros(256, np.int64)
            fractions = []
            for frame in frames:
                frame_counts = np.bincount(load_train_ids(frame).ravel(), minlength=256)
                counts += frame_counts
                fractions.append(round(float(frame_counts[small].sum() / frame_counts.sum()), 5))
            expected = {name: int(counts[i]) for i, name in enumerate(CITYSCAPES_CLASS_NAMES)}
            assert entry["pixels"] == expected | {"ignored": int(counts[IGNORE_INDEX])}
            assert entry["pixels"]["train"] == 0
            assert entry["small_fraction"] == fractions


@pytest.mark.slow
def test_small_classes_appear_and_large_classes_dominate(content_world: Path) -> None:
    counts = np.zeros(256, np.int64)
    for split in SPLITS:
        for frame in read_cityscapes(content_world, split=split):
            counts += np.bincount(load_train_ids(frame).ravel(), minlength=256)
    missing = [name for name in SMALL_CLASS_NAMES if counts[TRAIN_ID[name]] == 0]
    assert not missing
    fractions = class_fractions(_world(content_world))
    large = sum(fractions[name] for name in LARGE_CLASS_NAMES)
    small = sum(fractions[name] for name in SMALL_CLASS_NAMES)
    assert large > 0.6
    assert 0.01 < small < large / 4


@pytest.mark.slow
def test_images_are_rgb_of_the_configured_size(tiny_world: Path) -> None:
    for split in SPLITS:
        for frame in read_cityscapes(tiny_world, split=split):
            image = load_image(frame)
            assert image.shape == (TINY.height, TINY.width, 3) and image.dtype == np.uint8
            assert image.std() > 10  # a street, not a blank frame


@pytest.mark.slow
def test_command_line_writes_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "cli"
    arguments = [
        "--root",
        str(root),
        "--num-train-clips",
        "1",
        "--num-val-clips",
        "1",
        "--frames-per-clip",
        "2",
        "--width",
        "192",
        "--height",
        "96",
        "--speed",
        "0.5",
        "0.6",
        "--workers",
        "1",
    ]
    main(arguments)
    out = capsys.readouterr().out
    assert f"{root / 'leftImg8bit' / 'train'}: 1 clips, 2 frames, " in out
    assert f"{root / 'leftImg8bit' / 'val'}: 1 clips, 2 frames, " in out
    assert re.search(r"^pixels: road \d+\.\d\d%, sidewalk", out, re.MULTILINE)
    assert f"{root / 'world.json'} ready in" in out
    assert _world(root)["config"]["speed"] == [0.5, 0.6]
    written = (root / "world.json").stat().st_mtime_ns
    main(arguments)  # up to date: reported, not regenerated
    assert "1 clips, 2 frames" in capsys.readouterr().out
    assert (root / "world.json").stat().st_mtime_ns == written
