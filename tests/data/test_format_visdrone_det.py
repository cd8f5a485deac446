"""VisDrone2019-DET reader: exact semantics on fixture files, strict errors, round trips, and
the DetectionDataModule training on a DET split of differently sized images."""

from __future__ import annotations

import re
import tempfile
from dataclasses import astuple, fields
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from edgecloud.data.datamodule import DetectionDataModule
from edgecloud.data.errors import DatasetFormatError
from edgecloud.data.formats.common import NO_TRACK
from edgecloud.data.formats.visdrone_det import (
    VisDroneDetRow,
    parse_visdrone_det_annotations,
    read_visdrone_det,
    read_visdrone_det_rows,
    write_visdrone_det_annotations,
)
from edgecloud.data.formats.visdrone_vid import (
    VISDRONE_CLASS_NAMES,
    VisDroneRow,
    parse_visdrone_vid_annotations,
    read_visdrone_vid_rows,
)

R = VisDroneDetRow
# Three images of different sizes (width, height) and colours, as in the real DET split.
IMAGES = {
    "img_a": ((64, 48), (250, 20, 20)),
    "img_b": ((40, 72), (20, 250, 20)),
    "img_c": ((32, 32), (20, 20, 250)),
}
ROWS = {
    "img_a": [
        R(10, 20, 30, 20, 1, 4, 0, 0),  # car
        R(0, 0, 5, 5, 1, 1, 0, 1),  # pedestrian
        R(50, 5, 10, 10, 0, 0, 0, 0),  # ignored region (category 0)
        R(5, 5, 8, 8, 0, 4, 0, 0),  # car flagged score 0 -> ignore
        R(30, 30, 6, 6, 1, 11, 0, 0),  # others
    ],
    "img_b": [R(1, 2, 3, 4, 1, 9, 1, 2)],  # bus
    "img_c": [],  # an image without objects
}


def write_image(path: Path, size: tuple[int, int], rgb: tuple[int, int, int]) -> None:
    width, height = size
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full((height, width, 3), rgb, dtype=np.uint8)
    assert cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def make_split(root: Path, rows: dict[str, list[VisDroneDetRow]]) -> Path:
    for name, image_rows in rows.items():
        size, rgb = IMAGES.get(name, ((16, 16), (128, 128, 128)))
        write_image(root / "images" / f"{name}.jpg", size, rgb)
        write_visdrone_det_annotations(root / "annotations" / f"{name}.txt", image_rows)
    return root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_split(tmp_path / "VisDrone2019-DET-train", ROWS)


def boxes(*rows) -> np.ndarray:
    return np.array(rows, dtype=np.float32).reshape(-1, 4)


def test_each_image_is_a_one_frame_video(root: Path) -> None:
    videos = read_visdrone_det(root)
    assert [video.name for video in videos] == ["img_a", "img_b", "img_c"]
    for video in videos:
        assert len(video) == 1 and len(video.frames) == 1 and video.fps == 30.0
        assert video.frames.location == root / "images" / f"{video.name}.jpg"
    a, b, c = (video.annotations[0] for video in videos)
    np.testing.assert_array_equal(a.boxes, boxes((10, 20, 40, 40), (0, 0, 5, 5)))
    np.testing.assert_array_equal(a.labels, [4, 1])
    np.testing.assert_array_equal(a.track_ids, [NO_TRACK, NO_TRACK])
    np.testing.assert_array_equal(
        a.ignore_boxes, boxes((50, 5, 60, 15), (5, 5, 13, 13), (30, 30, 36, 36))
    )
    np.testing.assert_array_equal(b.boxes, boxes((1, 2, 4, 6)))
    np.testing.assert_array_equal(b.labels, [9])
    assert c.boxes.shape == (0, 4) and c.labels.shape == (0,) and c.ignore_boxes.shape == (0, 4)
    assert a.boxes.dtype == np.float32 and a.labels.dtype == np.int64
    assert a.track_ids.dtype == np.int64


def test_images_decode_at_their_own_size(root: Path) -> None:
    for video in read_visdrone_det(root):
        (width, height), rgb = IMAGES[video.name]
        frame = video.frames.read(0)
        assert frame.shape == (height, width, 3) and frame.dtype == np.uint8
        assert np.abs(frame.reshape(-1, 3).mean(axis=0) - np.array(rgb)).max() < 12


def test_select_images_by_name(root: Path) -> None:
    videos = read_visdrone_det(root, images=["img_c", "img_a"], fps=1.0)
    assert [video.name for video in videos] == ["img_c", "img_a"]
    assert {video.fps for video in videos} == {1.0}


def test_others_as_a_class(root: Path) -> None:
    class_names = (*VISDRONE_CLASS_NAMES, "others")
    a = read_visdrone_det(root, class_names=class_names, others="class")[0].annotations[0]
    np.testing.assert_array_equal(a.boxes, boxes((10, 20, 40, 40), (0, 0, 5, 5), (30, 30, 36, 36)))
    np.testing.assert_array_equal(a.labels, [4, 1, 11])
    np.testing.assert_array_equal(a.ignore_boxes, boxes((50, 5, 60, 15), (5, 5, 13, 13)))


def test_excluded_classes_become_ignore_regions(root: Path) -> None:
    a, b, _ = (v.annotations[0] for v in read_visdrone_det(root, class_names=("bus", "car")))
    np.testing.assert_array_equal(a.boxes, boxes((10, 20, 40, 40)))
    np.testing.assert_array_equal(a.labels, [2])
    np.testing.assert_array_equal(
        a.ignore_boxes,
        boxes((0, 0, 5, 5), (50, 5, 60, 15), (5, 5, 13, 13), (30, 30, 36, 36)),
    )
    np.testing.assert_array_equal(b.labels, [1])


def test_blank_lines_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "img.txt"
    path.write_bytes(b"\r\n10,20,30,40,1,4,0,0\r\n  \r\n1,1,2,2,1,1,0,0\r\n\r\n")
    assert read_visdrone_det_rows(path) == [
        R(10, 20, 30, 40, 1, 4, 0, 0),
        R(1, 1, 2, 2, 1, 1, 0, 0),
    ]


def test_trailing_commas_are_accepted(tmp_path: Path) -> None:
    """Some VisDrone-DET releases end every line with a comma (``...,0,0,``)."""
    path = tmp_path / "img.txt"
    path.write_text("684,8,273,116,0,0,0,0,\n406,119, 265,70 ,1,4,1,0 , \n7,8,9,10,1,2,0,1\n")
    assert read_visdrone_det_rows(path) == [
        R(684, 8, 273, 116, 0, 0, 0, 0),
        R(406, 119, 265, 70, 1, 4, 1, 0),
        R(7, 8, 9, 10, 1, 2, 0, 1),
    ]
    frame = parse_visdrone_det_annotations(path)
    np.testing.assert_array_equal(frame.labels, [4, 2])
    np.testing.assert_array_equal(frame.ignore_boxes, boxes((684, 8, 957, 124)))


def test_vid_reader_accepts_the_same_trailing_comma(tmp_path: Path) -> None:
    """Both readers split lines with the shared parser, so they agree on trailing commas."""
    path = tmp_path / "seq.txt"
    path.write_text("1,7,10,20,30,40,1,4,0,0,\n")
    assert read_visdrone_vid_rows(path) == [VisDroneRow(1, 7, 10, 20, 30, 40, 1, 4, 0, 0)]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("10,20,30,40,1,4,0", "expected 8 comma-separated fields"),
        ("10,20,30,40,1,4,0,0,0", "expected 8 comma-separated fields"),
        ("1,1,10,20,30,40,1,4,0,0", "expected 8 comma-separated fields"),  # a VID line
        ("10,20,30,40,1,4,0,0,,", "expected 8 comma-separated fields"),  # two trailing commas
        ("10,20,30,40,1,4,0,", "occlusion is not an integer: ''"),  # a field missing
        ("10,20,30.5,40,1,4,0,0", "bbox_width is not an integer: '30.5'"),
        ("x,20,30,40,1,4,0,0", "bbox_left is not an integer: 'x'"),
        ("10,20,30,,1,4,0,0", "bbox_height is not an integer: ''"),
        ("10,20,0,40,1,4,0,0", "box size must be positive, got 0x40"),
        ("10,20,30,-4,1,4,0,0", "box size must be positive, got 30x-4"),
        ("10,20,30,40,1,12,0,0", "object_category must be in 0..11, got 12"),
        ("10,20,30,40,1,-1,0,0", "object_category must be in 0..11, got -1"),
        ("10,20,30,40,2,4,0,0", "score must be the ground-truth flag 0 or 1, got 2"),
        ("10,20,30,40,1,4,-1,0", "truncation and occlusion must be >= 0"),
        ("10,20,30,40,1,4,0,-1", "truncation and occlusion must be >= 0"),
    ],
)
def test_bad_line_names_file_and_line(root: Path, line: str, problem: str) -> None:
    path = root / "annotations" / "img_b.txt"
    path.write_text(f"{ROWS['img_a'][0].to_line()}\n\n{line}\n{ROWS['img_a'][1].to_line()}\n")
    with pytest.raises(DatasetFormatError, match=re.escape(f"img_b.txt:3: {problem}")) as info:
        read_visdrone_det(root)
    assert info.value.line == 3
    assert info.value.path == path


def test_not_a_text_file(root: Path) -> None:
    (root / "annotations" / "img_a.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DatasetFormatError, match=r"img_a\.txt: not a text file"):
        read_visdrone_det(root)


def test_image_without_annotation_file(root: Path) -> None:
    (root / "annotations" / "img_b.txt").unlink()
    with pytest.raises(
        DatasetFormatError, match=r"img_b\.jpg: image has no annotation file"
    ) as info:
        read_visdrone_det(root)
    assert info.value.path == root / "images" / "img_b.jpg"


def test_annotation_file_without_image(root: Path) -> None:
    (root / "images" / "img_c.jpg").unlink()
    with pytest.raises(
        DatasetFormatError, match=r"img_c\.txt: annotation file has no image"
    ) as info:
        read_visdrone_det(root)
    assert info.value.path == root / "annotations" / "img_c.txt"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("images/img_d.png", "images/ holds only .jpg files"),
        ("images/nested/", "images/ holds only .jpg files"),
        ("annotations/notes.md", "annotations/ holds only .txt files"),
    ],
)
def test_unexpected_entry(root: Path, entry: str, problem: str) -> None:
    path = root / entry
    if entry.endswith("/"):
        path.mkdir()
    else:
        path.write_bytes(b"")
    with pytest.raises(DatasetFormatError, match=re.escape(f"{path.name}: unexpected entry: ")):
        read_visdrone_det(root)
    with pytest.raises(DatasetFormatError, match=re.escape(problem)) as info:
        read_visdrone_det(root)
    assert info.value.path == path


@pytest.mark.parametrize("folder", ["images", "annotations"])
def test_missing_split_folder(tmp_path: Path, folder: str) -> None:
    make_split(tmp_path, {"img_a": []})
    for entry in (tmp_path / folder).iterdir():
        entry.unlink()
    (tmp_path / folder).rmdir()
    with pytest.raises(DatasetFormatError, match=rf"{folder}: folder is missing") as info:
        read_visdrone_det(tmp_path)
    assert info.value.path == tmp_path / folder


def test_empty_split(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    with pytest.raises(DatasetFormatError, match=r"images: split has no images"):
        read_visdrone_det(tmp_path)


def test_unknown_image_name(root: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"img_z\.jpg: no such image"):
        read_visdrone_det(root, images=["img_a", "img_z"])


def test_corrupt_image_is_reported_when_read(root: Path) -> None:
    (root / "images" / "img_b.jpg").write_bytes(b"not a jpeg")
    video = read_visdrone_det(root, images=["img_b"])[0]
    with pytest.raises(DatasetFormatError, match=r"img_b\.jpg: cannot decode image"):
        video.frames.read(0)


@pytest.mark.parametrize(
    ("class_names", "others", "problem"),
    [
        ((), "ignore", "class_names is empty"),
        (("car", "car"), "ignore", "duplicates"),
        (("car", "tank"), "ignore", "'tank' is not a VisDrone class"),
        (("car", "others"), "ignore", "use others='class'"),
        (("car",), "class", "needs 'others' in class_names"),
        (("car",), "keep", "others must be 'ignore' or 'class'"),
    ],
)
def test_bad_class_configuration(root: Path, class_names, others, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        read_visdrone_det(root, class_names=class_names, others=others)


def test_datamodule_yields_batches_of_differently_sized_images(root: Path) -> None:
    val_root = make_split(root.parent / "VisDrone2019-DET-val", {"img_b": ROWS["img_b"]})
    class_names = ["car", "bus"]
    datamodule = DetectionDataModule(
        class_names=class_names,
        train_videos=partial(read_visdrone_det, root, class_names=class_names),
        val_videos=partial(read_visdrone_det, val_root, class_names=class_names),
        batch_size=3,
        horizontal_flip=1.0,
    )
    datamodule.setup("fit")
    assert len(datamodule.train_set) == 3 and len(datamodule.val_set) == 1
    images, targets = next(iter(datamodule.train_dataloader()))
    assert len(images) == len(targets) == 3
    names = [datamodule.train_set.videos[int(t["video_index"])].name for t in targets]
    assert sorted(names) == ["img_a", "img_b", "img_c"]
    for name, image, target in zip(names, images, targets, strict=True):
        (width, height), _ = IMAGES[name]
        assert image.shape == (3, height, width) and image.dtype == torch.float32
        assert int(target["frame_index"]) == 0
        expected = {
            "img_a": [(width - 40, 20, width - 10, 40)],
            "img_b": [(width - 4, 2, width - 1, 6)],
        }
        torch.testing.assert_close(
            target["boxes"],
            torch.tensor(expected.get(name, []), dtype=torch.float32).reshape(-1, 4),
        )
        assert target["ignore_boxes"].shape[1] == 4
    val_images, val_targets = next(iter(datamodule.val_dataloader()))
    assert [tuple(image.shape) for image in val_images] == [(3, 72, 40)]
    assert val_targets[0]["labels"].tolist() == [2]
    assert [video.name for video in datamodule.val_videos()] == ["img_b"]


rows_strategy = st.lists(
    st.builds(
        VisDroneDetRow,
        bbox_left=st.integers(-100, 4000),
        bbox_top=st.integers(-100, 3000),
        bbox_width=st.integers(1, 800),
        bbox_height=st.integers(1, 800),
        score=st.integers(0, 1),
        object_category=st.integers(0, 11),
        truncation=st.integers(0, 2),
        occlusion=st.integers(0, 2),
    ),
    max_size=25,
)


@settings(max_examples=50, deadline=None)
@given(rows=rows_strategy, trailing_comma=st.booleans())
def test_rows_round_trip_through_writer_and_parser(
    rows: list[VisDroneDetRow], trailing_comma: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "img.txt"
        write_visdrone_det_annotations(path, rows)
        assert read_visdrone_det_rows(path) == rows
        if trailing_comma:
            path.write_text("".join(row.to_line() + ",\n" for row in rows))
            assert read_visdrone_det_rows(path) == rows


@settings(max_examples=50, deadline=None)
@given(
    rows=rows_strategy,
    class_names=st.lists(st.sampled_from(VISDRONE_CLASS_NAMES), min_size=1, unique=True),
    others_is_class=st.booleans(),
)
def test_annotations_match_the_vid_reader(
    rows: list[VisDroneDetRow], class_names: list[str], others_is_class: bool
) -> None:
    """A DET image reads exactly like a one-frame VID sequence of the same rows."""
    if others_is_class:
        class_names = [*class_names, "others"]
    others = "class" if others_is_class else "ignore"
    with tempfile.TemporaryDirectory() as folder:
        det_path, vid_path = Path(folder) / "img.txt", Path(folder) / "seq.txt"
        write_visdrone_det_annotations(det_path, rows)
        vid_path.write_text("".join(f"1,{i}," + row.to_line() + "\n" for i, row in enumerate(rows)))
        det = parse_visdrone_det_annotations(det_path, class_names=class_names, others=others)
        (vid,) = parse_visdrone_vid_annotations(
            vid_path, num_frames=1, class_names=class_names, others=others
        )
    np.testing.assert_array_equal(det.boxes, vid.boxes)
    np.testing.assert_array_equal(det.labels, vid.labels)
    np.testing.assert_array_equal(det.ignore_boxes, vid.ignore_boxes)
    assert (det.track_ids == NO_TRACK).all() and det.track_ids.shape == det.labels.shape


FIELD_NAMES = [f.name for f in fields(VisDroneDetRow)]
not_an_integer = st.text(alphabet="0123456789-+.eax _", max_size=6).filter(
    lambda text: not re.fullmatch(r"-?[0-9]+", text.strip())
)
# For each checked field, values a well-formed integer can take that the reader must refuse.
invalid_values = {
    "bbox_width": st.integers(-5, 0),
    "bbox_height": st.integers(-5, 0),
    "score": st.integers(2, 9) | st.integers(-9, -1),
    "object_category": st.integers(12, 99) | st.integers(-9, -1),
    "truncation": st.integers(-9, -1),
    "occlusion": st.integers(-9, -1),
}


@settings(max_examples=50, deadline=None)
@given(data=st.data(), rows=rows_strategy.filter(bool), bad=not_an_integer)
def test_non_integer_field_is_reported_on_its_line(
    data: st.DataObject, rows: list[VisDroneDetRow], bad: str
) -> None:
    line_index = data.draw(st.integers(0, len(rows) - 1), label="line index")
    field_index = data.draw(st.integers(0, len(FIELD_NAMES) - 1), label="field index")
    lines = [[str(value) for value in astuple(row)] for row in rows]
    lines[line_index][field_index] = bad
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "img.txt"
        path.write_text("".join(",".join(line) + "\n" for line in lines))
        expected = f"img.txt:{line_index + 1}: {FIELD_NAMES[field_index]} is not an integer"
        with pytest.raises(DatasetFormatError, match=re.escape(expected)):
            read_visdrone_det_rows(path)


@settings(max_examples=50, deadline=None)
@given(
    data=st.data(),
    rows=rows_strategy.filter(bool),
    field=st.sampled_from(sorted(invalid_values)),
)
def test_invalid_field_value_is_reported_on_its_line(
    data: st.DataObject, rows: list[VisDroneDetRow], field: str
) -> None:
    line_index = data.draw(st.integers(0, len(rows) - 1), label="line index")
    value = data.draw(invalid_values[field], label="invalid value")
    lines = [[str(number) for number in astuple(row)] for row in rows]
    lines[line_index][FIELD_NAMES.index(field)] = str(value)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "img.txt"
        path.write_text("".join(",".join(line) + "\n" for line in lines))
        with pytest.raises(
            DatasetFormatError, match=re.escape(f"img.txt:{line_index + 1}: ")
        ) as info:
            read_visdrone_det_rows(path)
    assert info.value.line == line_index + 1
    assert str(value) in info.value.problem
