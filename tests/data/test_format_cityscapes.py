"""Cityscapes reader and writer: round trips, clips, and an error naming the file for each
kind of bad input."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgecloud.data.errors import DatasetFormatError
from edgecloud.data.formats.cityscapes import (
    CityscapesFrame,
    group_clips,
    image_filename,
    label_filename,
    load_image,
    load_label_ids,
    load_train_ids,
    parse_image_filename,
    parse_label_filename,
    read_cityscapes,
    write_cityscapes_frame,
)
from edgecloud.data.formats.cityscapes_labels import CITYSCAPES_LABELS, IGNORE_INDEX

H, W = 12, 16
EVERY_TRAIN_ID = np.array([*range(19), IGNORE_INDEX], dtype=np.uint8)


def _pixels(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random image and a train-id map holding every train id and 255."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    train_ids = rng.choice(EVERY_TRAIN_ID, (H, W)).astype(np.uint8)
    train_ids.flat[: EVERY_TRAIN_ID.size] = EVERY_TRAIN_ID
    return image, train_ids


def _write(root: Path, split: str, city: str, sequence: int, frame: int, seed: int = 0):
    image, train_ids = _pixels(seed)
    return write_cityscapes_frame(
        root,
        split=split,
        city=city,
        sequence=sequence,
        frame=frame,
        image_rgb=image,
        train_ids=train_ids,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for index, (city, sequence, frame) in enumerate(
        [("bonn", 3, 7), ("aachen", 1, 2), ("aachen", 0, 5), ("aachen", 1, 1), ("aachen", 1, 4)]
    ):
        _write(tmp_path, "val", city, sequence, frame, seed=index)
    return tmp_path


def test_round_trip_preserves_pixels_and_train_ids(tmp_path: Path) -> None:
    image, train_ids = _pixels(7)
    written = write_cityscapes_frame(
        tmp_path,
        split="train",
        city="zurich",
        sequence=12,
        frame=19,
        image_rgb=image,
        train_ids=train_ids,
    )
    assert written.image_path == (
        tmp_path / "leftImg8bit/train/zurich/zurich_000012_000019_leftImg8bit.png"
    )
    assert written.label_path == (
        tmp_path / "gtFine/train/zurich/zurich_000012_000019_gtFine_labelIds.png"
    )
    (frame,) = read_cityscapes(tmp_path, split="train")
    assert frame == written and frame.name == "zurich_000012_000019"
    np.testing.assert_array_equal(load_image(frame), image)
    np.testing.assert_array_equal(load_train_ids(frame), train_ids)
    label_ids = load_label_ids(frame)
    assert label_ids.dtype == np.uint8 and label_ids.shape == (H, W)
    by_label_id = {label.label_id: label.train_id for label in CITYSCAPES_LABELS}
    assert all(by_label_id[v] == t for v, t in zip(label_ids.flat, train_ids.flat, strict=True))
    assert set(np.unique(label_ids[train_ids == IGNORE_INDEX])) == {0}
    stored = cv2.imread(str(frame.label_path), cv2.IMREAD_UNCHANGED)
    assert stored.ndim == 2 and stored.dtype == np.uint8


def test_frames_are_sorted_by_city_sequence_frame(root: Path) -> None:
    frames = read_cityscapes(root, split="val")
    assert [f.key for f in frames] == [
        ("aachen", 0, 5),
        ("aachen", 1, 1),
        ("aachen", 1, 2),
        ("aachen", 1, 4),
        ("bonn", 3, 7),
    ]


def test_clips_are_runs_of_consecutive_frames_of_one_sequence(root: Path) -> None:
    frames = read_cityscapes(root, split="val")
    clips = group_clips(reversed(frames))
    assert [[f.key for f in clip] for clip in clips] == [
        [("aachen", 0, 5)],
        [("aachen", 1, 1), ("aachen", 1, 2)],
        [("aachen", 1, 4)],
        [("bonn", 3, 7)],
    ]
    assert group_clips([]) == []


def test_real_release_companion_files_are_allowed(root: Path) -> None:
    folder = root / "gtFine" / "val" / "bonn"
    for suffix in ("color.png", "instanceIds.png", "labelTrainIds.png", "polygons.json"):
        (folder / f"bonn_000003_000007_gtFine_{suffix}").write_bytes(b"")
    assert len(read_cityscapes(root, split="val")) == 5


def _frame(root: Path) -> CityscapesFrame:
    return next(f for f in read_cityscapes(root, split="val") if f.city == "bonn")


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"nowhere: dataset root is missing"):
        read_cityscapes(tmp_path / "nowhere", split="val")


@pytest.mark.parametrize("tree", ["leftImg8bit", "gtFine"])
def test_missing_split_folder(root: Path, tree: str) -> None:
    other = {"leftImg8bit": "gtFine", "gtFine": "leftImg8bit"}[tree]
    (root / other / "train" / "bonn").mkdir(parents=True)
    with pytest.raises(DatasetFormatError, match=rf"{tree}/train: split folder is missing"):
        read_cityscapes(root, split="train")


def test_unknown_split_name(root: Path) -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        read_cityscapes(root, split="training")


def test_empty_split(tmp_path: Path) -> None:
    for tree in ("leftImg8bit", "gtFine"):
        (tmp_path / tree / "test").mkdir(parents=True)
    with pytest.raises(DatasetFormatError, match=r"leftImg8bit/test: split has no images"):
        read_cityscapes(tmp_path, split="test")


def test_image_without_label_map(root: Path) -> None:
    _frame(root).label_path.unlink()
    with pytest.raises(
        DatasetFormatError,
        match=r"bonn_000003_000007_leftImg8bit\.png: image has no label map "
        r"gtFine/val/bonn/bonn_000003_000007_gtFine_labelIds\.png",
    ):
        read_cityscapes(root, split="val")


def test_label_map_without_image(root: Path) -> None:
    _frame(root).image_path.unlink()
    with pytest.raises(
        DatasetFormatError,
        match=r"bonn_000003_000007_gtFine_labelIds\.png: label map has no image",
    ):
        read_cityscapes(root, split="val")


@pytest.mark.parametrize(
    ("tree", "name"),
    [
        ("leftImg8bit", "bonn_3_7_leftImg8bit.png"),
        ("leftImg8bit", "bonn_000003_000007_leftImg8bit.jpg"),
        ("leftImg8bit", "bonn_000003_000007_gtFine_labelIds.png"),
        ("gtFine", "bonn_000003_000007_leftImg8bit.png"),
        ("gtFine", "bonn_000003_000008_gtFine_labelids.png"),
    ],
)
def test_file_name_not_matching_the_pattern(root: Path, tree: str, name: str) -> None:
    path = root / tree / "val" / "bonn" / name
    path.write_bytes(b"")
    with pytest.raises(DatasetFormatError, match=re.escape(f"{path}: file name does not match")):
        read_cityscapes(root, split="val")


def test_file_in_another_city_folder(root: Path) -> None:
    frame = _frame(root)
    frame.image_path.rename(root / "leftImg8bit" / "val" / "aachen" / frame.image_path.name)
    with pytest.raises(
        DatasetFormatError, match=r"of city 'bonn' is in the folder of city 'aachen'"
    ):
        read_cityscapes(root, split="val")


def test_file_directly_in_split_folder(root: Path) -> None:
    (root / "gtFine" / "val" / "README").write_text("")
    with pytest.raises(DatasetFormatError, match=r"val/README: unexpected file"):
        read_cityscapes(root, split="val")


def _replace_label(frame: CityscapesFrame, pixels: np.ndarray) -> None:
    assert cv2.imwrite(str(frame.label_path), pixels)


def test_label_map_with_three_channels(root: Path) -> None:
    frame = _frame(root)
    _replace_label(frame, np.zeros((H, W, 3), np.uint8))
    message = re.escape(f"{frame.label_path}: label map must be a single-channel 8-bit PNG")
    with pytest.raises(DatasetFormatError, match=message + r", got 3 channel\(s\) of uint8"):
        load_train_ids(frame)


def test_label_map_with_16_bits(root: Path) -> None:
    frame = _frame(root)
    _replace_label(frame, np.zeros((H, W), np.uint16))
    with pytest.raises(DatasetFormatError, match=r"labelIds\.png: .*got 1 channel\(s\) of uint16"):
        load_train_ids(frame)


def test_label_map_of_another_size(root: Path) -> None:
    frame = _frame(root)
    _replace_label(frame, np.zeros((H, W + 2), np.uint8))
    expected = (
        f"{frame.label_path}: label map is 18x12 but its image "
        "bonn_000003_000007_leftImg8bit.png is 16x12"
    )
    with pytest.raises(DatasetFormatError, match=re.escape(expected)):
        load_label_ids(frame)


def test_label_map_with_values_that_are_not_label_ids(root: Path) -> None:
    frame = _frame(root)
    pixels = np.full((H, W), 7, np.uint8)
    pixels[0, :3] = (34, 200, 34)
    _replace_label(frame, pixels)
    expected = f"{frame.label_path}: values [34, 200] are not Cityscapes label ids (0..33)"
    with pytest.raises(DatasetFormatError, match=re.escape(expected)):
        load_train_ids(frame)


def test_corrupt_label_map_and_image(root: Path) -> None:
    frame = _frame(root)
    frame.label_path.write_bytes(b"not a png")
    with pytest.raises(DatasetFormatError, match=r"labelIds\.png: cannot decode label map"):
        load_label_ids(frame)
    frame.image_path.write_bytes(b"not a png")
    with pytest.raises(DatasetFormatError, match=r"leftImg8bit\.png: cannot decode image"):
        load_image(frame)


def test_writer_rejects_what_the_layout_cannot_hold(tmp_path: Path) -> None:
    image, train_ids = _pixels(0)
    good = {"split": "val", "city": "bonn", "sequence": 0, "frame": 0}
    cases = [
        ({**good, "city": "bad_honnef"}, image, train_ids, "city name"),
        ({**good, "sequence": 10**6}, image, train_ids, "sequence number"),
        ({**good, "split": "extra"}, image, train_ids, "split must be one of"),
        (good, image[..., :2], train_ids, "image_rgb must be uint8"),
        (good, image, train_ids[:-1], "train_ids must be uint8"),
        (good, image, np.full((H, W), 19, np.uint8), r"holds \[19\]"),
    ]
    for where, pixels, labels, problem in cases:
        with pytest.raises(ValueError, match=problem):
            write_cityscapes_frame(tmp_path, **where, image_rgb=pixels, train_ids=labels)
    assert not list(tmp_path.iterdir())


cities = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,11}", fullmatch=True)
numbers = st.integers(0, 999_999)


@settings(max_examples=100, deadline=None)
@given(city=cities, sequence=numbers, frame=numbers)
def test_valid_file_names_round_trip(city: str, sequence: int, frame: int) -> None:
    assert parse_image_filename(Path("x") / image_filename(city, sequence, frame)) == (
        city,
        sequence,
        frame,
    )
    assert parse_label_filename(label_filename(city, sequence, frame)) == (city, sequence, frame)


@st.composite
def garbled_names(draw: st.DrawFn) -> str:
    """A valid image or label file name with a few characters inserted, deleted or replaced."""
    make = draw(st.sampled_from([image_filename, label_filename]))
    name = make(draw(cities), draw(numbers), draw(numbers))
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(name)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from("_-.0aZ9 x"))
        tail = name[position + (edit != "insert") :]
        name = name[:position] + ("" if edit == "delete" else char) + tail
    return name


@settings(max_examples=300, deadline=None)
@given(name=st.one_of(garbled_names(), st.text(max_size=40).filter(lambda s: "/" not in s)))
def test_file_names_parse_only_when_canonical(name: str) -> None:
    """Every name either parses to numbers that spell it again, or is rejected naming it."""
    path = Path("root") / (name or "empty")
    for parse, make in (
        (parse_image_filename, image_filename),
        (parse_label_filename, label_filename),
    ):
        try:
            parsed = parse(path)
        except DatasetFormatError as error:
            assert error.path == path
            assert str(error).startswith(f"{path}: file name does not match")
        else:
            assert make(*parsed) == path.name
