"""D2-City reader: exact semantics, XML line numbers in errors, writer round trips."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgecloud.data.errors import DatasetFormatError
from edgecloud.data.formats.d2city import (
    D2CITY_CLASS_NAMES,
    D2CityBox,
    D2CityTrack,
    parse_d2city_xml,
    read_d2city,
    write_d2city_xml,
)

COLOURS = [(240, 30, 30), (30, 240, 30), (30, 30, 240), (200, 200, 40)]

TRACKS = [
    D2CityTrack(
        0,
        "car",
        (
            D2CityBox(0, 10.5, 20.0, 110.0, 90.25),
            D2CityBox(1, 11.0, 20.0, 111.0, 90.0, outside=True),
            D2CityBox(2, 12.0, 21.0, 112.0, 91.0, keyframe=False),
        ),
    ),
    D2CityTrack(5, "person", (D2CityBox(0, 1.0, 2.0, 3.0, 4.0, occluded=True),)),
    D2CityTrack(7, "forklift", (D2CityBox(3, 5.0, 6.0, 7.0, 8.0),)),
]


def boxes(*rows) -> np.ndarray:
    return np.array(rows, dtype=np.float32).reshape(-1, 4)


@pytest.fixture
def video_dir(tmp_path: Path, write_mp4) -> Path:
    write_mp4(tmp_path / "clip_b.mp4", COLOURS)
    write_d2city_xml(tmp_path / "clip_b.xml", TRACKS, num_frames=4, width=64, height=48)
    write_mp4(tmp_path / "clip_a.mp4", COLOURS[:2])
    write_d2city_xml(tmp_path / "clip_a.xml", [], num_frames=2, width=64, height=48)
    return tmp_path


def test_reads_tracks_into_frames(video_dir: Path) -> None:
    videos = read_d2city(video_dir)
    assert [video.name for video in videos] == ["clip_a", "clip_b"]
    assert [len(video) for video in videos] == [2, 4]
    assert videos[1].fps == 25.0
    frame0, frame1, frame2, frame3 = videos[1].annotations
    np.testing.assert_array_equal(frame0.boxes, boxes((10.5, 20, 110, 90.25), (1, 2, 3, 4)))
    np.testing.assert_array_equal(frame0.labels, [1, 5])
    np.testing.assert_array_equal(frame0.track_ids, [0, 5])
    assert frame1.boxes.shape == (0, 4), "outside=1 is not an annotation of the frame"
    np.testing.assert_array_equal(frame2.boxes, boxes((12, 21, 112, 91)))
    np.testing.assert_array_equal(frame3.labels, [10])
    np.testing.assert_array_equal(frame3.track_ids, [7])
    assert all(frame.ignore_boxes.shape == (0, 4) for frame in videos[1].annotations)


def test_frames_decode_in_order(video_dir: Path, assert_colour) -> None:
    video = read_d2city(video_dir, videos=["clip_b"])[0]
    assert video.frames.location == video_dir / "clip_b.mp4"
    for index, colour in enumerate(COLOURS):
        assert_colour(video.frames.read(index), colour)


def test_excluded_classes_become_ignore_regions(video_dir: Path) -> None:
    frames = read_d2city(video_dir, class_names=("person", "car"), videos=["clip_b"])[0].annotations
    np.testing.assert_array_equal(frames[0].labels, [2, 1])
    np.testing.assert_array_equal(frames[3].boxes, boxes())
    np.testing.assert_array_equal(frames[3].ignore_boxes, boxes((5, 6, 7, 8)))


def test_separate_annotation_dir(tmp_path: Path, write_mp4) -> None:
    write_mp4(tmp_path / "videos" / "c.mp4", COLOURS[:1])
    write_d2city_xml(tmp_path / "xml" / "c.xml", [], num_frames=1, width=64, height=48)
    videos = read_d2city(tmp_path / "videos", annotation_dir=tmp_path / "xml")
    assert [video.name for video in videos] == ["c"]


def test_video_without_xml(video_dir: Path) -> None:
    (video_dir / "clip_a.xml").unlink()
    with pytest.raises(DatasetFormatError, match=r"clip_a\.mp4: video has no annotation file"):
        read_d2city(video_dir)


def test_xml_without_video(video_dir: Path) -> None:
    (video_dir / "clip_a.mp4").unlink()
    with pytest.raises(DatasetFormatError, match=r"clip_a\.xml: annotation file has no video"):
        read_d2city(video_dir)


def test_unknown_video_name(video_dir: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"clip_z\.mp4: no such video"):
        read_d2city(video_dir, videos=["clip_z"])


def test_size_disagreeing_with_video(video_dir: Path) -> None:
    write_d2city_xml(video_dir / "clip_a.xml", [], num_frames=3, width=64, height=48)
    with pytest.raises(
        DatasetFormatError, match=r"clip_a\.xml:6: <size> says 3 frames but the video has 2"
    ):
        read_d2city(video_dir)


def test_box_past_the_decoded_frames(video_dir: Path) -> None:
    track = D2CityTrack(1, "bus", (D2CityBox(0, 1, 1, 2, 2), D2CityBox(2, 1, 1, 2, 2)))
    (video_dir / "clip_a.xml").write_text(
        xml_document(track_lines(track), size="").replace("<size></size>", "")
    )
    with pytest.raises(DatasetFormatError, match=r"clip_a\.xml:7: frame 2 is past .* \(1\)"):
        read_d2city(video_dir)


def test_corrupt_video(video_dir: Path) -> None:
    (video_dir / "clip_a.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(DatasetFormatError, match=r"clip_a\.mp4: "):
        read_d2city(video_dir)


def test_bad_class_configuration(video_dir: Path) -> None:
    with pytest.raises(ValueError, match="'tank' is not a D2-City class"):
        read_d2city(video_dir, class_names=("car", "tank"))


def track_lines(track: D2CityTrack) -> list[str]:
    lines = [f'  <track id="{track.track_id}" label="{track.label}">']
    for box in track.boxes:
        lines.append(
            f'    <box frame="{box.frame}" outside="{int(box.outside)}" occluded="0" '
            f'keyframe="1" xtl="{box.xtl}" ytl="{box.ytl}" xbr="{box.xbr}" ybr="{box.ybr}"/>'
        )
    return [*lines, "  </track>"]


def xml_document(body: list[str], *, size: str = "4") -> str:
    """An XML whose line 5 is the first line of ``body``."""
    head = [
        '<?xml version="1.0" encoding="utf-8"?>',
        "<annotations>",
        "  <version>1.1</version>",
        f"  <meta><task><size>{size}</size></task></meta>",
    ]
    return "\n".join([*head, *body, "</annotations>"]) + "\n"


GOOD_BOX = (
    '<box frame="0" outside="0" occluded="0" keyframe="1" xtl="1" ytl="2" xbr="30" ybr="40"/>'
)


def bad_box(**changes: str | None) -> str:
    attributes = dict(
        frame="1", outside="0", occluded="0", keyframe="1", xtl="1", ytl="2", xbr="30", ybr="40"
    )
    attributes.update(changes)
    text = " ".join(f'{key}="{value}"' for key, value in attributes.items() if value is not None)
    return f"<box {text}/>"


@pytest.mark.parametrize(
    ("line7", "problem"),
    [
        (bad_box(xtl="abc"), "xtl is not a finite number: 'abc'"),
        (bad_box(ybr="nan"), "ybr is not a finite number: 'nan'"),
        (bad_box(xbr="inf"), "xbr is not a finite number: 'inf'"),
        (bad_box(xbr="1"), "empty box: xtl=1.0 ytl=2.0 xbr=1.0 ybr=40.0"),
        (bad_box(xtl="50"), "empty box"),
        (bad_box(ybr="-2"), "empty box"),
        (bad_box(frame="-1"), "negative frame -1"),
        (bad_box(frame="4"), "frame 4 is past the video's last frame (3)"),
        (bad_box(frame="1.0"), "frame is not an integer: '1.0'"),
        (bad_box(frame=None), "<box> has no 'frame' attribute"),
        (bad_box(ytl=None), "<box> has no 'ytl' attribute"),
        (bad_box(outside="2"), "outside must be 0 or 1, got '2'"),
        (bad_box(frame="0"), "track 3 has a second box for frame 0 (first on line 6)"),
        ('<polygon frame="1" points="0,0;1,1"/>', "unsupported shape <polygon>"),
    ],
)
def test_bad_box_names_file_and_line(tmp_path: Path, line7: str, problem: str) -> None:
    path = tmp_path / "clip.xml"
    body = ['  <track id="3" label="car">', f"    {GOOD_BOX}", f"    {line7}", "  </track>"]
    path.write_text(xml_document(body))
    with pytest.raises(DatasetFormatError, match=re.escape(f"clip.xml:7: {problem}")) as info:
        parse_d2city_xml(path, num_frames=4)
    assert info.value.line == 7


@pytest.mark.parametrize(
    ("line7", "problem"),
    [
        ('<track id="3" label="tank">', "unknown label 'tank'"),
        ('<track id="3">', "<track> has no 'label' attribute"),
        ('<track id="x3" label="car">', "id is not an integer: 'x3'"),
        ('<track id="0" label="car">', "duplicate track id 0 (first on line 5)"),
        ('<image id="0" name="a.jpg">', "unexpected element <image> in <annotations>"),
    ],
)
def test_bad_track_names_file_and_line(tmp_path: Path, line7: str, problem: str) -> None:
    path = tmp_path / "clip.xml"
    body = [f"  {line7}", f"    {GOOD_BOX}", f"  </{line7[1:6]}>"]
    path.write_text(xml_document([*track_lines(D2CityTrack(0, "car", ())), *body]))
    with pytest.raises(DatasetFormatError, match=re.escape(f"clip.xml:7: {problem}")):
        parse_d2city_xml(path, num_frames=4)


@pytest.mark.parametrize(
    ("size", "problem"),
    [("3", "<size> says 3 frames but the video has 4"), ("many", "<size> is not an integer")],
)
def test_bad_size(tmp_path: Path, size: str, problem: str) -> None:
    path = tmp_path / "clip.xml"
    path.write_text(xml_document([], size=size))
    with pytest.raises(DatasetFormatError, match=re.escape(f"clip.xml:4: {problem}")):
        parse_d2city_xml(path, num_frames=4)


def test_malformed_xml_reports_parser_line(tmp_path: Path) -> None:
    path = tmp_path / "clip.xml"
    path.write_text(xml_document(['  <track id="0" label="car">', f"    {GOOD_BOX}", "  </trak>"]))
    with pytest.raises(DatasetFormatError, match=r"clip\.xml:7: malformed XML: mismatched tag"):
        parse_d2city_xml(path, num_frames=4)


def test_wrong_root_element(tmp_path: Path) -> None:
    path = tmp_path / "clip.xml"
    path.write_text("<?xml version='1.0'?>\n\n<tracks></tracks>\n")
    with pytest.raises(DatasetFormatError, match=r"clip\.xml:3: root element is <tracks>"):
        parse_d2city_xml(path, num_frames=4)


def test_missing_xml(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"clip\.xml: annotation file is missing"):
        parse_d2city_xml(tmp_path / "clip.xml", num_frames=4)


coordinate = st.floats(-5000, 5000, allow_nan=False)
extent = st.floats(0.01, 2000)
NUM_FRAMES = 10


@st.composite
def box_strategy(draw: st.DrawFn, frame: int) -> D2CityBox:
    xtl, ytl = draw(coordinate), draw(coordinate)
    return D2CityBox(
        frame=frame,
        xtl=xtl,
        ytl=ytl,
        xbr=xtl + draw(extent),
        ybr=ytl + draw(extent),
        outside=draw(st.booleans()),
        occluded=draw(st.booleans()),
        keyframe=draw(st.booleans()),
    )


@st.composite
def tracks_strategy(draw: st.DrawFn) -> list[D2CityTrack]:
    ids = draw(st.lists(st.integers(0, 10**6), unique=True, max_size=6))
    tracks = []
    for track_id in ids:
        frames = draw(st.lists(st.integers(0, NUM_FRAMES - 1), unique=True, max_size=NUM_FRAMES))
        label = draw(st.sampled_from(D2CITY_CLASS_NAMES))
        tracks.append(
            D2CityTrack(track_id, label, tuple(draw(box_strategy(frame)) for frame in frames))
        )
    return tracks


@settings(max_examples=50, deadline=None)
@given(
    tracks=tracks_strategy(),
    class_names=st.lists(st.sampled_from(D2CITY_CLASS_NAMES), min_size=1, unique=True),
)
def test_random_tracks_round_trip(tracks: list[D2CityTrack], class_names: list[str]) -> None:
    objects: list[list[tuple]] = [[] for _ in range(NUM_FRAMES)]
    ignored: list[list[tuple]] = [[] for _ in range(NUM_FRAMES)]
    for track in tracks:
        for box in track.boxes:
            xyxy = (box.xtl, box.ytl, box.xbr, box.ybr)
            if box.outside:
                continue
            if track.label in class_names:
                label = class_names.index(track.label) + 1
                objects[box.frame].append((xyxy, label, track.track_id))
            else:
                ignored[box.frame].append(xyxy)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.xml"
        write_d2city_xml(path, tracks, num_frames=NUM_FRAMES, width=1280, height=720)
        frames = parse_d2city_xml(path, num_frames=NUM_FRAMES, class_names=class_names)
    for frame, frame_objects, frame_ignored in zip(frames, objects, ignored, strict=True):
        np.testing.assert_array_equal(frame.boxes, boxes(*(xyxy for xyxy, _, _ in frame_objects)))
        np.testing.assert_array_equal(frame.labels, [label for _, label, _ in frame_objects])
        np.testing.assert_array_equal(frame.track_ids, [track for _, _, track in frame_objects])
        np.testing.assert_array_equal(frame.ignore_boxes, boxes(*frame_ignored))
