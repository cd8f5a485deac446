"""The synthetic drone world: deterministic bytes, caching, and VisDrone-valid, varied content."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgecloud.data.synthetic.drone_world import (
    DroneWorldConfig,
    ensure_drone_world,
    generate_drone_world,
    main,
    plan_scene_starts,
)

TINY = DroneWorldConfig(
    num_train_sequences=2,
    num_val_sequences=1,
    frames_per_sequence=24,
    width=160,
    height=96,
    mean_scene_frames=12,
    min_scene_frames=4,
)
CONTENT = DroneWorldConfig(
    seed=3,
    num_train_sequences=3,
    num_val_sequences=1,
    frames_per_sequence=60,
    width=320,
    height=192,
    mean_scene_frames=25,
    min_scene_frames=8,
    ignore_regions=(1, 2),
)


def _digests(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, keyed by relative path."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_drone_world(TINY, tmp_path_factory.mktemp("tiny") / "world", workers=2)


@pytest.fixture(scope="module")
def content_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_drone_world(CONTENT, tmp_path_factory.mktemp("content") / "world", workers=2)


def _rows(root: Path) -> dict[tuple[str, str], np.ndarray]:
    """Annotation rows of every sequence, keyed by (split, sequence name)."""
    world = json.loads((root / "world.json").read_text())
    return {
        (split, entry["name"]): np.loadtxt(
            root / split / "annotations" / f"{entry['name']}.txt",
            delimiter=",",
            dtype=np.int64,
            ndmin=2,
        )
        for split, entries in world["sequences"].items()
        for entry in entries
    }


@pytest.mark.slow
def test_same_config_gives_identical_bytes_whatever_the_worker_count(
    tiny_world: Path, tmp_path: Path
) -> None:
    again = generate_drone_world(TINY, tmp_path / "again", workers=1)
    expected = _digests(tiny_world)
    assert len(expected) == 3 * 24 + 3 + 1
    assert _digests(again) == expected


@pytest.mark.slow
def test_another_seed_gives_other_bytes(tiny_world: Path, tmp_path: Path) -> None:
    other = dataclasses.replace(TINY, seed=1)
    digests = _digests(generate_drone_world(other, tmp_path / "other", workers=1))
    reference = _digests(tiny_world)
    differing = [name for name, digest in digests.items() if reference.get(name) != digest]
    assert len(differing) == len(digests)


@pytest.mark.slow
def test_ensure_reuses_a_current_world_and_regenerates_a_stale_one(tmp_path: Path) -> None:
    root = tmp_path / "cached"
    ensure_drone_world(TINY, root, workers=1)
    marker = root / "train" / "sequences" / "dw_train_0000" / "0000001.jpg"
    before = (marker.stat().st_mtime_ns, (root / "world.json").stat().st_mtime_ns)

    assert ensure_drone_world(TINY, root, workers=1) == root
    assert (marker.stat().st_mtime_ns, (root / "world.json").stat().st_mtime_ns) == before

    longer = dataclasses.replace(TINY, frames_per_sequence=30)
    ensure_drone_world(longer, root, workers=1)
    world = json.loads((root / "world.json").read_text())
    assert world["config"]["frames_per_sequence"] == 30
    assert len(list((root / "train" / "sequences" / "dw_train_0000").iterdir())) == 30
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cached.") and p.is_dir()]


@pytest.mark.slow
def test_annotation_rows_are_valid_visdrone(content_world: Path) -> None:
    for (split, name), rows in _rows(content_world).items():
        lines = (content_world / split / "annotations" / f"{name}.txt").read_text().splitlines()
        assert all(len(line.split(",")) == 10 for line in lines)
        frame, tid, left, top, width, height, score, category, truncation, occlusion = rows.T
        assert frame.min() >= 1 and frame.max() <= CONTENT.frames_per_sequence
        assert (width >= 1).all() and (height >= 1).all()
        assert (left >= 0).all() and (top >= 0).all()
        assert (left + width <= CONTENT.width).all() and (top + height <= CONTENT.height).all()
        assert set(np.unique(category)) <= set(range(12))
        assert (score == (category != 0)).all()
        assert set(np.unique(truncation)) <= {0, 1} and set(np.unique(occlusion)) <= {0, 1, 2}
        assert len({(f, t) for f, t in zip(frame, tid, strict=True)}) == len(rows)
        assert all(len(set(category[tid == t])) == 1 for t in np.unique(tid))


@pytest.mark.slow
def test_every_frame_exists_at_the_configured_size(content_world: Path) -> None:
    for split, name in _rows(content_world):
        folder = content_world / split / "sequences" / name
        names = sorted(p.name for p in folder.iterdir())
        assert names == [f"{i:07d}.jpg" for i in range(1, CONTENT.frames_per_sequence + 1)]
        for path in folder.iterdir():
            image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
            assert image.shape == (CONTENT.height, CONTENT.width, 3)


@pytest.mark.slow
def test_content_is_varied_like_visdrone(content_world: Path) -> None:
    rows = np.concatenate(list(_rows(content_world).values()))
    objects = rows[rows[:, 7] > 0]
    assert set(range(1, 11)) <= set(np.unique(objects[:, 7]))
    assert np.mean(np.maximum(objects[:, 4], objects[:, 5]) < 16) >= 0.25
    assert (objects[:, 8] > 0).any() and (objects[:, 9] == 1).any() and (objects[:, 9] == 2).any()
    ignored = rows[rows[:, 7] == 0]
    assert len(ignored) > 0 and (ignored[:, 6] == 0).all()


def _difference(folder: Path, frame: int) -> float:
    """Mean absolute pixel difference between frame ``frame`` and the one before it."""
    a, b = (cv2.imread(str(folder / f"{i:07d}.jpg")).astype(np.float32) for i in (frame - 1, frame))
    return float(np.abs(a - b).mean())


@pytest.mark.slow
def test_scene_cuts_are_recorded_and_visible(content_world: Path) -> None:
    world = json.loads((content_world / "world.json").read_text())
    cut_differences, normal_differences = [], []
    for split, entries in world["sequences"].items():
        for entry in entries:
            starts = [scene["start"] for scene in entry["scenes"]]
            assert starts[0] == 1 and starts == sorted(set(starts))
            folder = content_world / split / "sequences" / entry["name"]
            cut_differences += [_difference(folder, s) for s in starts[1:]]
            normal_differences += [
                _difference(folder, f) for f in range(2, 60, 7) if f not in starts
            ]
    assert cut_differences
    assert min(cut_differences) > 2 * np.median(normal_differences)


def test_scene_plan_respects_the_minimum_length() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        starts = plan_scene_starts(300, mean=40, minimum=10, rng=rng)
        lengths = np.diff([*starts, 300])
        assert starts[0] == 0 and (lengths >= 10).all()


def test_config_rejects_bad_values_and_accepts_lists() -> None:
    assert DroneWorldConfig(altitude_scale=[0.5, 1.0]).altitude_scale == (0.5, 1.0)
    with pytest.raises(ValueError, match="altitude_scale"):
        DroneWorldConfig(altitude_scale=(2.0, 1.0))
    with pytest.raises(ValueError, match="jpeg_quality"):
        DroneWorldConfig(jpeg_quality=0)


@pytest.mark.slow
def test_command_line_writes_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(
        [
            "--root",
            str(tmp_path / "cli"),
            "--num-train-sequences",
            "1",
            "--num-val-sequences",
            "0",
            "--frames-per-sequence",
            "3",
            "--width",
            "64",
            "--height",
            "48",
            "--altitude-scale",
            "0.5",
            "0.7",
            "--workers",
            "1",
        ]
    )
    assert "1 sequences, 3 frames" in capsys.readouterr().out
    world = json.loads((tmp_path / "cli" / "world.json").read_text())
    assert world["config"]["altitude_scale"] == [0.5, 0.7]
