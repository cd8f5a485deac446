"""PKU-MMD reader: the distributed split and label formats, strict errors, round trips, video."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgecloud.data.action_video import ActionSegment
from edgecloud.data.errors import DatasetFormatError
from edgecloud.data.formats.pku_mmd import (
    PkuMmdLabel,
    frame_filename,
    parse_video_name,
    read_labels,
    read_pku_mmd,
    read_split,
    split_path,
    video_name,
    write_labels,
    write_split,
)
from edgecloud.data.frames import ImageFolderFrames, VideoFileFrames

REAL_SPLIT = (
    "Training videos: \n"
    "0002-L, 0002-M, 0002-R, 0003-L, 0003-M, 0003-R, 0004-L, \n"
    "Validataion videos: \n"
    "0291-L, 0291-M, 0291-R\n"
)
"""A cut-down copy of ``Split/cross-subject.txt`` as distributed: header typo, trailing space
after each header, ", " separators and a trailing comma."""

COLOURS = [(250, 20, 20), (20, 250, 20), (20, 20, 250), (240, 240, 30), (30, 240, 240)]


def test_reads_the_distributed_split_format() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cross-subject.txt"
        path.write_text(REAL_SPLIT)
        train, val = read_split(path)
    assert train == ["0002-L", "0002-M", "0002-R", "0003-L", "0003-M", "0003-R", "0004-L"]
    assert val == ["0291-L", "0291-M", "0291-R"]


@pytest.mark.parametrize(
    "text",
    [
        REAL_SPLIT.replace("Validataion", "Validation"),
        REAL_SPLIT.replace("\n", "\r\n"),
        "Training videos: 0002-L, 0002-M,\n0002-R\n\nValidation videos:\n0003-L,\n",
    ],
    ids=["correct spelling", "crlf", "names on the header line and wrapped"],
)
def test_split_variants(tmp_path: Path, text: str) -> None:
    path = tmp_path / "split.txt"
    path.write_bytes(text.encode())
    train, val = read_split(path)
    assert train[:3] == ["0002-L", "0002-M", "0002-R"] and val[0] in ("0291-L", "0003-L")


def test_split_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "Split" / "cross-view.txt"
    write_split(path, ["0001-L", "0001-R"], ["0001-M"])
    assert path.read_text() == ("Training videos: \n0001-L, 0001-R\nValidataion videos: \n0001-M\n")
    assert read_split(path) == (["0001-L", "0001-R"], ["0001-M"])


def test_writer_refuses_bad_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a PKU-MMD video name"):
        write_split(tmp_path / "s.txt", ["0001-X"], [])


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("0001-L\nTraining videos: \n0002-L\n", 1, "video names before the 'Training videos:'"),
        ("Training videos: \n0002-L\n", None, "missing 'Validataion videos:' header"),
        ("Validataion videos: \n0002-L\n", None, "missing 'Training videos:' header"),
        ("Training videos: \n0002-L, 2-L\nValidataion videos: \n", 2, "not a PKU-MMD video"),
        (
            "Training videos: \n0002-L\nValidataion videos: \n0003-L, 0002-L\n",
            4,
            "video 0002-L is listed twice (first on line 2)",
        ),
        (
            "Training videos: \n0002-L\nTraining videos: \nValidataion videos: \n",
            3,
            "second Training videos header (first on line 1)",
        ),
    ],
)
def test_bad_split_file(tmp_path: Path, text: str, line: int | None, problem: str) -> None:
    path = tmp_path / "split.txt"
    path.write_text(text)
    where = f"split.txt:{line}: " if line is not None else "split.txt: "
    with pytest.raises(DatasetFormatError, match=re.escape(where + problem)) as info:
        read_split(path)
    assert info.value.line == line


def test_split_path_protocols_and_underscore_spelling(tmp_path: Path) -> None:
    assert split_path(tmp_path, "cross-view") == tmp_path / "Split" / "cross-view.txt"
    (tmp_path / "Split").mkdir()
    (tmp_path / "Split" / "cross_subject.txt").write_text(REAL_SPLIT)
    assert split_path(tmp_path, "cross-subject") == tmp_path / "Split" / "cross_subject.txt"
    with pytest.raises(ValueError, match="protocol must be one of"):
        split_path(tmp_path, "cross-scene")


def test_video_names() -> None:
    assert video_name(2, "L") == "0002-L"
    assert parse_video_name("0291-M") == (291, "M")
    assert frame_filename(1) == "000001.jpg"
    with pytest.raises(ValueError):
        parse_video_name("0291-C")


# --- label files ----------------------------------------------------------------------------


def test_labels_become_zero_based_half_open(tmp_path: Path) -> None:
    path = tmp_path / "0002-L.txt"
    path.write_text("41,49,169,2\n\n13, 200, 310 ,1\n7,311,311,2\n")
    assert read_labels(path) == [
        PkuMmdLabel(41, 48, 169, 2),
        PkuMmdLabel(13, 199, 310, 1),
        PkuMmdLabel(7, 310, 311, 2),
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("41,49,169", "expected 4 comma-separated fields"),
        ("41,49,169,2,0", "expected 4 comma-separated fields"),
        ("41,49.5,169,2", "start_frame is not an integer: '49.5'"),
        ("x,49,169,2", "action_id is not an integer: 'x'"),
        ("41,49,,2", "end_frame is not an integer: ''"),
        ("0,49,169,2", "action_id must be in 1..51, got 0"),
        ("52,49,169,2", "action_id must be in 1..51, got 52"),
        ("41,0,169,2", "start_frame must be >= 1 (frames are 1-based), got 0"),
        ("41,170,169,2", "start_frame 170 is after end_frame 169"),
        ("41,49,169,3", "confidence must be 1 or 2, got 3"),
        ("41,150,180,2", "frames 150..180 overlap frames 100..160 of line 1"),
        ("41,401,401,2", "end_frame 401 is past the video's last frame (400)"),
    ],
)
def test_bad_label_line_names_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "0002-L.txt"
    path.write_text(f"3,100,160,2\n\n{line}\n5,390,400,1\n")
    with pytest.raises(DatasetFormatError, match=re.escape(f"0002-L.txt:3: {problem}")) as info:
        read_labels(path, num_frames=400)
    assert info.value.line == 3 and info.value.path == path


def test_overlap_is_reported_on_the_later_line_even_out_of_order(tmp_path: Path) -> None:
    path = tmp_path / "0002-L.txt"
    path.write_text("3,150,180,2\n4,10,20,2\n5,100,160,1\n")
    with pytest.raises(DatasetFormatError, match=re.escape("txt:3: frames 100..160 overlap")):
        read_labels(path)


def test_missing_label_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"nope\.txt: label file is missing"):
        read_labels(tmp_path / "nope.txt")


@st.composite
def label_lists(draw: st.DrawFn) -> list[PkuMmdLabel]:
    """Valid, disjoint labels in random file order."""
    bounds = sorted(draw(st.lists(st.integers(0, 20_000), max_size=24, unique=True)))
    labels = [
        PkuMmdLabel(
            action_id=draw(st.integers(1, 51)),
            start=start,
            end=end,
            confidence=draw(st.sampled_from((1, 2))),
        )
        for start, end in zip(bounds[::2], bounds[1::2], strict=False)
    ]
    return draw(st.permutations(labels))


@settings(max_examples=60, deadline=None)
@given(labels=label_lists())
def test_labels_round_trip_through_writer_and_reader(labels: list[PkuMmdLabel]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "0001-M.txt"
        write_labels(path, labels)
        assert read_labels(path) == labels


FIELD_NAMES = ("action_id", "start_frame", "end_frame", "confidence")
not_an_integer = st.text(alphabet="0123456789-+.eax _", max_size=6).filter(
    lambda text: not re.fullmatch(r"-?[0-9]+", text.strip())
)


def _corrupt_field(fields: list[str], data: st.DataObject) -> str:
    index = data.draw(st.integers(0, 3), label="field index")
    fields[index] = data.draw(not_an_integer, label="bad text")
    return f"{FIELD_NAMES[index]} is not an integer"


def _drop_or_add_field(fields: list[str], data: st.DataObject) -> str:
    if data.draw(st.booleans(), label="drop a field"):
        fields.pop(data.draw(st.integers(0, 3), label="dropped field"))
    else:
        fields.append(data.draw(st.integers(0, 9).map(str), label="extra field"))
    return "expected 4 comma-separated fields"


def _bad_action_id(fields: list[str], data: st.DataObject) -> str:
    bad = data.draw(st.one_of(st.integers(-5, 0), st.integers(52, 999)), label="action id")
    fields[0] = str(bad)
    return f"action_id must be in 1..51, got {bad}"


def _reverse_range(fields: list[str], data: st.DataObject) -> str:
    first, last = int(fields[1]), int(fields[2])
    fields[1], fields[2] = str(last + 1), str(first)
    return f"start_frame {last + 1} is after end_frame {first}"


def _bad_confidence(fields: list[str], data: st.DataObject) -> str:
    bad = data.draw(st.integers(-3, 9).filter(lambda value: value not in (1, 2)), label="conf")
    fields[3] = str(bad)
    return f"confidence must be 1 or 2, got {bad}"


CORRUPTIONS = [_corrupt_field, _drop_or_add_field, _bad_action_id, _reverse_range, _bad_confidence]


@settings(max_examples=100, deadline=None)
@given(data=st.data(), labels=label_lists().filter(bool), corrupt=st.sampled_from(CORRUPTIONS))
def test_a_corrupted_line_is_reported_on_its_line(
    data: st.DataObject, labels: list[PkuMmdLabel], corrupt
) -> None:
    index = data.draw(st.integers(0, len(labels) - 1), label="line index")
    lines = [label.to_line().split(",") for label in labels]
    problem = corrupt(lines[index], data)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "0001-R.txt"
        path.write_text("".join(",".join(fields) + "\n" for fields in lines))
        with pytest.raises(DatasetFormatError, match=re.escape(f"txt:{index + 1}: {problem}")):
            read_labels(path)


# --- the dataset ----------------------------------------------------------------------------


def make_root(root: Path, write_jpeg, *, num_frames: int = 5) -> Path:
    """Three videos as frame folders: two labelled sessions' views, one split file."""
    for name in ("0002-L", "0002-R", "0003-M"):
        for number in range(1, num_frames + 1):
            write_jpeg(root / "RGB_FRAMES" / name / frame_filename(number), COLOURS[number - 1])
    (root / "Label").mkdir()
    (root / "Label" / "0002-L.txt").write_text("7,2,3,2\n11,4,5,1\n")
    (root / "Label" / "0002-R.txt").write_text("11,4,5,1\n7,2,3,2\n")
    (root / "Label" / "0003-M.txt").write_text("51,1,5,2\n")
    write_split(root / "Split" / "cross-view.txt", ["0002-L", "0002-R"], ["0003-M"])
    write_split(root / "Split" / "cross-subject.txt", ["0002-L", "0003-M"], ["0002-R"])
    return root


@pytest.fixture
def root(tmp_path: Path, write_jpeg) -> Path:
    return make_root(tmp_path, write_jpeg)


def test_reads_videos_segments_and_frames(root: Path, assert_colour) -> None:
    videos = read_pku_mmd(root=root, protocol="cross-view", subset="train")
    assert [video.name for video in videos] == ["0002-L", "0002-R"]
    for video in videos:
        assert video.fps == 30.0 and video.num_frames == 5
        assert isinstance(video.frames, ImageFolderFrames)
        assert video.segments == (ActionSegment(7, 1, 3), ActionSegment(11, 3, 5))
        np.testing.assert_array_equal(video.frame_labels(), [0, 7, 7, 11, 11])
    for index in range(5):
        assert_colour(videos[0].frames.read(index), COLOURS[index])
    (val,) = read_pku_mmd(root=root, protocol="cross-view", subset="val", fps=25)
    assert val.name == "0003-M" and val.fps == 25 and val.segments == (ActionSegment(51, 0, 5),)


def test_class_ids_pick_and_renumber_actions(root: Path) -> None:
    videos = read_pku_mmd(root=root, protocol="cross-subject", class_ids=[11, 51])
    np.testing.assert_array_equal(videos[0].frame_labels(), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(videos[1].frame_labels(), [2, 2, 2, 2, 2])


def test_unselected_actions_can_be_refused(root: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"0002-L\.txt:1: action_id 7 is not in"):
        read_pku_mmd(root=root, class_ids=[11, 51], others="error")


def test_explicit_split_file(root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    split_file = tmp_path_factory.mktemp("elsewhere") / "mine.txt"
    write_split(split_file, ["0003-M"], [])
    assert [v.name for v in read_pku_mmd(root=root, split_file=split_file)] == ["0003-M"]
    assert read_pku_mmd(root=root, split_file=split_file, subset="val") == []


def test_split_name_without_label_file(root: Path) -> None:
    (root / "Label" / "0003-M.txt").unlink()
    with pytest.raises(
        DatasetFormatError, match=r"cross-view\.txt:4: video 0003-M has no label file"
    ):
        read_pku_mmd(root=root, protocol="cross-view", subset="val")


def test_missing_video(root: Path) -> None:
    (root / "Split" / "cross-view.txt").write_text(
        "Training videos: \n0004-L\nValidataion videos: \n\n"
    )
    (root / "Label" / "0004-L.txt").write_text("")
    with pytest.raises(DatasetFormatError, match=r"0004-L\.avi: video file is missing"):
        read_pku_mmd(root=root, protocol="cross-view")
    with pytest.raises(DatasetFormatError, match=r"RGB_FRAMES/0004-L: frame folder is missing"):
        read_pku_mmd(root=root, protocol="cross-view", source="frames")


def test_gap_in_frame_folder(root: Path) -> None:
    (root / "RGB_FRAMES" / "0002-L" / "000003.jpg").unlink()
    with pytest.raises(DatasetFormatError, match=r"0002-L/000003\.jpg: frame image is missing"):
        read_pku_mmd(root=root, protocol="cross-view")


def test_segment_past_the_last_frame(root: Path) -> None:
    (root / "Label" / "0003-M.txt").write_text("51,1,6,2\n")
    with pytest.raises(DatasetFormatError, match=r"0003-M\.txt:1: end_frame 6 is past"):
        read_pku_mmd(root=root, protocol="cross-view", subset="val")


def test_video_file_read_back_through_pyav(root: Path, write_mp4, assert_colour) -> None:
    write_mp4(root / "RGB_VIDEO" / "0003-M.avi", COLOURS)
    (val,) = read_pku_mmd(root=root, protocol="cross-view", subset="val", source="video")
    assert isinstance(val.frames, VideoFileFrames)
    assert val.frames.location == root / "RGB_VIDEO" / "0003-M.avi"
    assert val.num_frames == 5 and val.segments == (ActionSegment(51, 0, 5),)
    for index in range(5):
        assert_colour(val.frames.read(index), COLOURS[index])
    shutil.rmtree(root / "RGB_FRAMES" / "0003-M")
    (auto,) = read_pku_mmd(root=root, protocol="cross-view", subset="val")
    assert isinstance(auto.frames, VideoFileFrames)


def test_unreadable_video_file(root: Path) -> None:
    (root / "RGB_VIDEO").mkdir()
    (root / "RGB_VIDEO" / "0003-M.avi").write_bytes(b"not a video")
    with pytest.raises(DatasetFormatError, match=r"0003-M\.avi: cannot open video"):
        read_pku_mmd(root=root, protocol="cross-view", subset="val", source="video")


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"class_ids": []}, "class_ids is empty"),
        ({"class_ids": [3, 3]}, "duplicates"),
        ({"class_ids": [3, 52]}, "52 is not a PKU-MMD action id"),
        ({"others": "drop"}, "others must be 'background' or 'error'"),
        ({"subset": "test"}, "subset must be 'train' or 'val'"),
        ({"source": "jpeg"}, "source must be 'auto', 'frames' or 'video'"),
        ({"protocol": "cross-setup"}, "protocol must be one of"),
    ],
)
def test_bad_options(root: Path, options: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        read_pku_mmd(root=root, **options)
