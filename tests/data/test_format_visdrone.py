"""VisDrone2019-VID reader: exact semantics on hand-written files, strict errors, round trips."""

from __future__ import annotations

import re
import tempfile
from dataclasses import astuple, fields
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgecloud.data.errors import DatasetFormatError
from edgecloud.data.formats.visdrone_vid import (
    VISDRONE_CATEGORIES,
    VISDRONE_CLASS_NAMES,
    VisDroneRow,
    parse_visdrone_vid_annotations,
    read_visdrone_vid,
    read_visdrone_vid_rows,
    visdrone_frame_filename,
    write_visdrone_vid_annotations,
)

COLOURS = [(250, 20, 20), (20, 250, 20), (20, 20, 250)]

LINES = [
    "1,1,10,20,30,40,1,4,0,0",  # car
    "1,2,0,0,5,5,1,1,0,1",  # pedestrian
    "1,0,50,5,10,10,0,0,0,0",  # ignored region (category 0)
    "2,1,12,21,30,40,1,4,1,2",  # car, same track
    "2,3,5,5,8,8,0,4,0,0",  # car flagged score 0 -> ignore
    "2,4,30,30,6,6,1,11,0,0",  # others
]


def make_sequence(root: Path, name: str, lines: list[str], write_jpeg, num_frames: int = 3) -> None:
    for index in range(1, num_frames + 1):
        write_jpeg(root / "sequences" / name / visdrone_frame_filename(index), COLOURS[index % 3])
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / f"{name}.txt").write_text("".join(line + "\n" for line in lines))


@pytest.fixture
def root(tmp_path: Path, write_jpeg) -> Path:
    make_sequence(tmp_path, "uav_b", LINES, write_jpeg)
    make_sequence(tmp_path, "uav_a", LINES[:1], write_jpeg, num_frames=1)
    return tmp_path


def boxes(*rows) -> np.ndarray:
    return np.array(rows, dtype=np.float32).reshape(-1, 4)


def test_reads_boxes_labels_tracks_and_ignore_regions(root: Path) -> None:
    videos = read_visdrone_vid(root)
    assert [video.name for video in videos] == ["uav_a", "uav_b"]
    video = videos[1]
    assert len(video) == 3 and video.fps == 30.0
    first, second, third = video.annotations
    np.testing.assert_array_equal(first.boxes, boxes((10, 20, 40, 60), (0, 0, 5, 5)))
    np.testing.assert_array_equal(first.labels, [4, 1])
    np.testing.assert_array_equal(first.track_ids, [1, 2])
    np.testing.assert_array_equal(first.ignore_boxes, boxes((50, 5, 60, 15)))
    np.testing.assert_array_equal(second.boxes, boxes((12, 21, 42, 61)))
    np.testing.assert_array_equal(second.labels, [4])
    np.testing.assert_array_equal(second.ignore_boxes, boxes((5, 5, 13, 13), (30, 30, 36, 36)))
    assert third.boxes.shape == (0, 4) and third.ignore_boxes.shape == (0, 4)
    assert first.boxes.dtype == np.float32 and first.labels.dtype == np.int64


def test_frames_decode_in_order(root: Path, assert_colour) -> None:
    video = read_visdrone_vid(root, sequences=["uav_b"])[0]
    assert video.frames.location == root / "sequences" / "uav_b"
    for index in range(3):
        assert_colour(video.frames.read(index), COLOURS[(index + 1) % 3])


def test_others_as_a_class(root: Path) -> None:
    class_names = (*VISDRONE_CLASS_NAMES, "others")
    second = read_visdrone_vid(root, class_names=class_names, others="class")[1].annotations[1]
    np.testing.assert_array_equal(second.boxes, boxes((12, 21, 42, 61), (30, 30, 36, 36)))
    np.testing.assert_array_equal(second.labels, [4, 11])
    np.testing.assert_array_equal(second.track_ids, [1, 4])
    np.testing.assert_array_equal(second.ignore_boxes, boxes((5, 5, 13, 13)))


def test_excluded_classes_become_ignore_regions(root: Path) -> None:
    first = read_visdrone_vid(root, class_names=("car",))[1].annotations[0]
    np.testing.assert_array_equal(first.boxes, boxes((10, 20, 40, 60)))
    np.testing.assert_array_equal(first.labels, [1])
    np.testing.assert_array_equal(first.ignore_boxes, boxes((0, 0, 5, 5), (50, 5, 60, 15)))


def test_blank_lines_are_not_data(tmp_path: Path, write_jpeg) -> None:
    make_sequence(tmp_path, "s", ["", LINES[0], "  ", LINES[3], "", ""], write_jpeg)
    frames = read_visdrone_vid(tmp_path)[0].annotations
    assert [len(frame.labels) for frame in frames] == [1, 1, 0]


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_bytes(b"1,1,10,20,30,40,1,4,0,0\r\n2,1,10,20,30,40,1,4,0,0\r\n")
    assert [len(f.labels) for f in parse_visdrone_vid_annotations(path, num_frames=2)] == [1, 1]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("1,1,10,20,30,40,1,4,0", "expected 10 comma-separated fields"),
        ("1,1,10,20,30,40,1,4,0,0,0", "expected 10 comma-separated fields"),
        ("1,1,10,20,30.5,40,1,4,0,0", "bbox_width is not an integer: '30.5'"),
        ("1,x,10,20,30,40,1,4,0,0", "target_id is not an integer: 'x'"),
        ("1,1,10,20,30,,1,4,0,0", "bbox_height is not an integer: ''"),
        ("1,1,10,20,0,40,1,4,0,0", "box size must be positive, got 0x40"),
        ("1,1,10,20,30,-4,1,4,0,0", "box size must be positive, got 30x-4"),
        ("0,1,10,20,30,40,1,4,0,0", "frame_index must be >= 1"),
        ("4,1,10,20,30,40,1,4,0,0", "frame_index 4 is past the last frame image (3)"),
        ("1,1,10,20,30,40,1,12,0,0", "object_category must be in 0..11, got 12"),
        ("1,1,10,20,30,40,1,-1,0,0", "object_category must be in 0..11, got -1"),
        ("1,1,10,20,30,40,2,4,0,0", "score must be the ground-truth flag 0 or 1, got 2"),
        ("1,1,10,20,30,40,1,4,-1,0", "truncation and occlusion must be >= 0"),
        ("1,1,10,20,30,40,1,4,0,-1", "truncation and occlusion must be >= 0"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path: Path, write_jpeg, line: str, problem: str) -> None:
    make_sequence(tmp_path, "seq", [LINES[0], "", line, LINES[1]], write_jpeg)
    with pytest.raises(DatasetFormatError, match=re.escape(f"seq.txt:3: {problem}")) as info:
        read_visdrone_vid(tmp_path)
    assert info.value.line == 3
    assert info.value.path == tmp_path / "annotations" / "seq.txt"


def test_sequence_without_annotation_file(root: Path) -> None:
    (root / "annotations" / "uav_a.txt").unlink()
    with pytest.raises(DatasetFormatError, match=r"uav_a: sequence folder has no annotation"):
        read_visdrone_vid(root)


def test_annotation_file_without_sequence(root: Path) -> None:
    (root / "annotations" / "uav_c.txt").write_text(LINES[0] + "\n")
    with pytest.raises(DatasetFormatError, match=r"uav_c\.txt: annotation file has no sequence"):
        read_visdrone_vid(root)


def test_gap_in_frame_images(root: Path) -> None:
    (root / "sequences" / "uav_b" / "0000002.jpg").unlink()
    with pytest.raises(DatasetFormatError, match=r"uav_b/0000002\.jpg: frame image is missing"):
        read_visdrone_vid(root)


def test_unexpected_file_in_sequence_folder(root: Path) -> None:
    (root / "sequences" / "uav_b" / "frame1.png").write_bytes(b"")
    with pytest.raises(DatasetFormatError, match=r"frame1\.png: unexpected entry"):
        read_visdrone_vid(root)


def test_sequence_folder_without_frames(root: Path) -> None:
    (root / "sequences" / "uav_c").mkdir()
    (root / "annotations" / "uav_c.txt").write_text("")
    with pytest.raises(DatasetFormatError, match=r"uav_c: sequence folder has no frame images"):
        read_visdrone_vid(root)


def test_missing_split_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"sequences: folder is missing"):
        read_visdrone_vid(tmp_path)


def test_unknown_sequence_name(root: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"uav_z: no such sequence"):
        read_visdrone_vid(root, sequences=["uav_a", "uav_z"])


def test_corrupt_image_is_reported_when_read(root: Path) -> None:
    (root / "sequences" / "uav_b" / "0000002.jpg").write_bytes(b"not a jpeg")
    video = read_visdrone_vid(root, sequences=["uav_b"])[0]
    with pytest.raises(DatasetFormatError, match=r"0000002\.jpg: cannot decode image"):
        video.frames.read(1)


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
        read_visdrone_vid(root, class_names=class_names, others=others)


rows_strategy = st.lists(
    st.builds(
        VisDroneRow,
        frame_index=st.integers(1, 12),
        target_id=st.integers(0, 10**6),
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
@given(rows=rows_strategy)
def test_rows_round_trip_through_writer_and_parser(rows: list[VisDroneRow]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seq.txt"
        write_visdrone_vid_annotations(path, rows)
        assert read_visdrone_vid_rows(path) == rows


@settings(max_examples=50, deadline=None)
@given(
    rows=rows_strategy,
    class_names=st.lists(st.sampled_from(VISDRONE_CLASS_NAMES), min_size=1, unique=True),
    others_is_class=st.booleans(),
)
def test_annotations_match_reference_semantics(
    rows: list[VisDroneRow], class_names: list[str], others_is_class: bool
) -> None:
    if others_is_class:
        class_names = [*class_names, "others"]
    expected_objects: list[list[tuple]] = [[] for _ in range(12)]
    expected_ignored: list[list[tuple]] = [[] for _ in range(12)]
    for row in rows:
        box = (
            row.bbox_left,
            row.bbox_top,
            row.bbox_left + row.bbox_width,
            row.bbox_top + row.bbox_height,
        )
        name = VISDRONE_CATEGORIES[row.object_category]
        if row.score == 1 and name in class_names:
            label = class_names.index(name) + 1
            expected_objects[row.frame_index - 1].append((box, label, row.target_id))
        else:
            expected_ignored[row.frame_index - 1].append(box)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seq.txt"
        write_visdrone_vid_annotations(path, rows)
        frames = parse_visdrone_vid_annotations(
            path,
            num_frames=12,
            class_names=class_names,
            others="class" if others_is_class else "ignore",
        )
    for frame, objects, ignored in zip(frames, expected_objects, expected_ignored, strict=True):
        np.testing.assert_array_equal(frame.boxes, boxes(*(box for box, _, _ in objects)))
        np.testing.assert_array_equal(frame.labels, [label for _, label, _ in objects])
        np.testing.assert_array_equal(frame.track_ids, [track for _, _, track in objects])
        np.testing.assert_array_equal(frame.ignore_boxes, boxes(*ignored))


FIELD_NAMES = [f.name for f in fields(VisDroneRow)]
not_an_integer = st.text(alphabet="0123456789-+.eax _", max_size=6).filter(
    lambda text: not re.fullmatch(r"-?[0-9]+", text.strip())
)


@settings(max_examples=50, deadline=None)
@given(data=st.data(), rows=rows_strategy.filter(bool), bad=not_an_integer)
def test_non_integer_field_is_reported_on_its_line(
    data: st.DataObject, rows: list[VisDroneRow], bad: str
) -> None:
    line_index = data.draw(st.integers(0, len(rows) - 1), label="line index")
    field_index = data.draw(st.integers(0, len(FIELD_NAMES) - 1), label="field index")
    lines = [[str(value) for value in astuple(row)] for row in rows]
    lines[line_index][field_index] = bad
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seq.txt"
        path.write_text("".join(",".join(line) + "\n" for line in lines))
        expected = f"seq.txt:{line_index + 1}: {FIELD_NAMES[field_index]} is not an integer"
        with pytest.raises(DatasetFormatError, match=re.escape(expected)):
            read_visdrone_vid_rows(path)
