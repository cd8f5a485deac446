"""The synthetic action world: deterministic bytes, caching, and a valid, varied PKU-MMD root."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgecloud.data.action_video import BACKGROUND
from edgecloud.data.formats.pku_mmd import parse_video_name, read_labels, read_pku_mmd, read_split
from edgecloud.data.synthetic.action_world import (
    ACTION_CLASSES,
    ActionWorldConfig,
    action_class_names,
    ensure_action_world,
    generate_action_world,
    main,
)

TINY = ActionWorldConfig(
    num_subjects=3,
    val_subjects=1,
    frames_per_video=(240, 270),
    width=64,
    height=48,
    action_seconds=(0.5, 0.8),
    background_seconds=(0.2, 0.4),
)
"""Three subjects seen from three views: nine short videos with about eight actions each."""


def _digests(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, keyed by relative path."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _world(root: Path) -> dict:
    return json.loads((root / "world.json").read_text())


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_action_world(tmp_path_factory.mktemp("tiny") / "world", TINY, workers=2)


@pytest.mark.slow
def test_same_config_gives_identical_bytes_whatever_the_worker_count(
    tiny_world: Path, tmp_path: Path
) -> None:
    again = generate_action_world(tmp_path / "again", TINY, workers=1)
    expected = _digests(tiny_world)
    frames = sum(video["num_frames"] for video in _world(tiny_world)["videos"])
    assert len(expected) == frames + 9 + 2 + 1  # frames, label files, split files, world.json
    assert _digests(again) == expected


@pytest.mark.slow
def test_another_seed_gives_other_bytes(tiny_world: Path, tmp_path: Path) -> None:
    other = _digests(generate_action_world(tmp_path / "other", dataclasses.replace(TINY, seed=1)))
    reference = _digests(tiny_world)
    content = [name for name in reference if not name.startswith("Split")]
    assert all(other.get(name) != reference[name] for name in content)


@pytest.mark.slow
def test_loader_reads_interleaved_actions_of_at_least_ten_classes(tiny_world: Path) -> None:
    world = _world(tiny_world)
    assert world["format"] == "PKU-MMD" and world["class_names"] == list(ACTION_CLASSES[:12])
    videos = [
        video
        for subset in ("train", "val")
        for video in read_pku_mmd(root=tiny_world, protocol="cross-view", subset=subset)
    ]
    assert len(videos) == 9
    lengths = {entry["name"]: entry["num_frames"] for entry in world["videos"]}
    present = set()
    for video in videos:
        assert video.num_frames == lengths[video.name] and video.fps == TINY.fps
        assert len(video.segments) >= 5
        labels = video.frame_labels()
        assert labels[0] == BACKGROUND and labels[-1] == BACKGROUND
        for before, after in zip(video.segments, video.segments[1:], strict=False):
            assert before.end < after.start  # at least one background frame between actions
        for segment in video.segments:
            assert 1 <= segment.label <= TINY.num_classes
            assert 0.5 * TINY.fps - 1 <= segment.end - segment.start <= 0.8 * TINY.fps + 1
        present |= {segment.label for segment in video.segments}
    assert len(present) >= 10


@pytest.mark.slow
def test_label_files_are_pku_mmd_and_shared_by_the_views_of_a_session(tiny_world: Path) -> None:
    for session in (1, 2, 3):
        texts = {(tiny_world / "Label" / f"{session:04d}-{v}.txt").read_text() for v in "LMR"}
        assert len(texts) == 1
        labels = read_labels(tiny_world / "Label" / f"{session:04d}-M.txt")
        assert {label.confidence for label in labels} <= {1, 2}


@pytest.mark.slow
def test_three_views_see_the_same_moment_differently(tiny_world: Path) -> None:
    for session in (1, 2, 3):
        images = [
            cv2.imread(str(tiny_world / "RGB_FRAMES" / f"{session:04d}-{v}" / "000100.jpg"))
            for v in "LMR"
        ]
        assert all(image.shape == (TINY.height, TINY.width, 3) for image in images)
        for a, b in ((0, 1), (1, 2), (0, 2)):
            difference = np.abs(images[a].astype(np.int16) - images[b].astype(np.int16))
            assert difference.mean() > 10


def _backdrop_strip(world: Path, video: str) -> np.ndarray:
    """The video's left edge (never reached by the figure) averaged over frames, each colour
    channel scaled to mean 1 so white balance and lighting do not count."""
    frames = sorted((world / "RGB_FRAMES" / video).glob("*.jpg"))
    strip = np.mean([cv2.imread(str(path))[:, :8].astype(float) for path in frames], axis=0)
    return strip / strip.mean(axis=(0, 1))


@pytest.mark.slow
def test_every_session_is_filmed_in_the_same_room(tiny_world: Path) -> None:
    """Like PKU-MMD's lab: a view's backdrop is the same in every session, and differs by view."""
    for view in "LMR":
        first = _backdrop_strip(tiny_world, f"0001-{view}")
        for session in (2, 3):
            other_sessions = np.abs(first - _backdrop_strip(tiny_world, f"{session:04d}-{view}"))
            assert other_sessions.mean() < 0.1
    left, middle, right = (_backdrop_strip(tiny_world, f"0001-{view}") for view in "LMR")
    for a, b in ((left, middle), (middle, right), (left, right)):
        assert np.abs(a - b).mean() > 0.2


@pytest.mark.slow
def test_cross_subject_separates_subjects_and_cross_view_separates_views(
    tiny_world: Path,
) -> None:
    world = _world(tiny_world)
    subject = {entry["name"]: entry["subject"] for entry in world["videos"]}
    assert sorted(subject) == [f"{s:04d}-{v}" for s in (1, 2, 3) for v in "LMR"]

    train, val = read_split(tiny_world / "Split" / "cross-subject.txt")
    assert sorted(train + val) == sorted(subject)
    assert {subject[name] for name in train} == {1, 2}
    assert {subject[name] for name in val} == {3} == set(world["cross_subject_val_subjects"])
    assert {parse_video_name(name)[1] for name in train} == set("LMR")

    train, val = read_split(tiny_world / "Split" / "cross-view.txt")
    assert sorted(train + val) == sorted(subject)
    assert {parse_video_name(name)[1] for name in train} == {"L", "R"}
    assert {parse_video_name(name)[1] for name in val} == {"M"}
    assert {subject[name] for name in train} == {subject[name] for name in val} == {1, 2, 3}

    header = (tiny_world / "Split" / "cross-view.txt").read_text().splitlines()[2]
    assert header == "Validataion videos: "  # spelt as PKU-MMD distributes it


@pytest.mark.slow
def test_ensure_reuses_a_current_world_and_regenerates_a_stale_one(tmp_path: Path) -> None:
    root = tmp_path / "cached"
    small = dataclasses.replace(TINY, num_subjects=1, val_subjects=0, frames_per_video=(60, 60))
    ensure_action_world(root=root, config=small, workers=1)
    marker = root / "RGB_FRAMES" / "0001-L" / "000001.jpg"
    before = (marker.stat().st_mtime_ns, (root / "world.json").stat().st_mtime_ns)

    assert ensure_action_world(root=root, config=small, workers=1) == root
    assert (marker.stat().st_mtime_ns, (root / "world.json").stat().st_mtime_ns) == before

    longer = dataclasses.replace(small, frames_per_video=(70, 70))
    ensure_action_world(root=root, config=longer, workers=1)
    assert _world(root)["config"]["frames_per_video"] == [70, 70]
    assert len(list((root / "RGB_FRAMES" / "0001-L").iterdir())) == 70
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cached.") and p.is_dir()]


def test_config_rejects_bad_values_and_accepts_lists() -> None:
    assert ActionWorldConfig(action_seconds=[1.0, 2.0]).action_seconds == (1.0, 2.0)
    assert action_class_names(ActionWorldConfig(num_classes=10)) == ACTION_CLASSES[:10]
    for field, value in [
        ("num_classes", len(ACTION_CLASSES) + 1),
        ("val_subjects", 11),
        ("frames_per_video", (100, 50)),
        ("frames_per_video", (30, 60)),
        ("action_seconds", (3.0, 2.0)),
        ("background_seconds", (0.0, 1.0)),
        ("jpeg_quality", 0),
    ]:
        with pytest.raises(ValueError, match=field):
            ActionWorldConfig(**{field: value})


@pytest.mark.slow
def test_command_line_writes_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(
        [
            "--root",
            str(tmp_path / "cli"),
            "--num-subjects",
            "1",
            "--val-subjects",
            "0",
            "--frames-per-video",
            "60",
            "60",
            "--width",
            "48",
            "--height",
            "32",
            "--action-seconds",
            "0.5",
            "0.6",
            "--background-seconds",
            "0.3",
            "0.3",
            "--workers",
            "1",
        ]
    )
    assert "3 videos (1 L, 1 M, 1 R), 180 frames" in capsys.readouterr().out
    world = _world(tmp_path / "cli")
    assert world["config"]["action_seconds"] == [0.5, 0.6]
