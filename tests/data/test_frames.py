"""Frame sources: RGB order, errors that name the file, sequential video decoding, pickling."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgecloud.data.errors import DatasetFormatError
from edgecloud.data.frames import FrameSource, ImageFolderFrames, VideoFileFrames

COLOURS = [
    (240, 20, 20),
    (20, 240, 20),
    (20, 20, 240),
    (230, 230, 30),
    (30, 230, 230),
    (230, 30, 230),
    (128, 128, 128),
    (250, 250, 250),
]
"""Eight well-separated RGB colours, one per video frame."""


def write_png_bgr(path: Path, rgb: tuple[int, int, int]) -> None:
    """A 64x48 PNG of one colour, written the way OpenCV stores pixels: in BGR order."""
    bgr = np.full((48, 64, 3), rgb[::-1], dtype=np.uint8)
    assert cv2.imwrite(str(path), bgr)


@pytest.fixture
def video(tmp_path: Path, write_mp4) -> Path:
    path = tmp_path / "clip.mp4"
    write_mp4(path, COLOURS)
    return path


# --- ImageFolderFrames -------------------------------------------------------------------


def test_png_reads_back_as_exact_rgb(tmp_path: Path) -> None:
    path = tmp_path / "0.png"
    write_png_bgr(path, (200, 30, 90))
    frame = ImageFolderFrames([path], location=tmp_path).read(0)
    assert frame.shape == (48, 64, 3)
    assert frame.dtype == np.uint8
    np.testing.assert_array_equal(frame[0, 0], [200, 30, 90])
    assert (frame == frame[0, 0]).all()


def test_jpeg_frames_read_in_the_given_order(tmp_path: Path, write_jpeg, assert_colour) -> None:
    paths = [tmp_path / "b.jpg", tmp_path / "a.jpg"]
    write_jpeg(paths[0], (240, 20, 20))
    write_jpeg(paths[1], (20, 20, 240))
    frames = ImageFolderFrames(paths, location=tmp_path)
    assert isinstance(frames, FrameSource)
    assert len(frames) == 2
    assert frames.location == tmp_path
    assert frames.paths == paths
    assert_colour(frames.read(0), (240, 20, 20))
    assert_colour(frames.read(1), (20, 20, 240))


def test_missing_image_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "seq" / "0000001.jpg"
    frames = ImageFolderFrames([path], location=tmp_path)
    with pytest.raises(DatasetFormatError, match="frame file is missing") as error:
        frames.read(0)
    assert error.value.path == path
    assert str(error.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    "content",
    [np.random.default_rng(0).bytes(2000), b""],
    ids=["random-bytes", "empty"],
)
def test_corrupt_image_names_the_path(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "0000001.jpg"
    path.write_bytes(content)
    frames = ImageFolderFrames([path], location=tmp_path)
    with pytest.raises(DatasetFormatError, match="cannot decode image") as error:
        frames.read(0)
    assert error.value.path == path
    assert str(error.value).startswith(f"{path}: ")


# --- VideoFileFrames ---------------------------------------------------------------------


def test_video_length_counts_decoded_frames(video: Path) -> None:
    frames = VideoFileFrames(video)
    assert isinstance(frames, FrameSource)
    assert len(frames) == 8
    assert frames.location == video


def test_video_reads_forward(video: Path, assert_colour) -> None:
    frames = VideoFileFrames(video)
    for index, rgb in enumerate(COLOURS):
        assert_colour(frames.read(index), rgb)
    frames.close()


def test_video_reads_backwards_by_reopening(video: Path, assert_colour, monkeypatch) -> None:
    frames = VideoFileFrames(video)
    opened = []
    open_file = frames._open

    def counting_open():
        opened.append(True)
        return open_file()

    monkeypatch.setattr(frames, "_open", counting_open)
    assert_colour(frames.read(6), COLOURS[6])
    assert_colour(frames.read(7), COLOURS[7])
    assert len(opened) == 1
    assert_colour(frames.read(2), COLOURS[2])
    assert len(opened) == 2
    assert_colour(frames.read(0), COLOURS[0])
    assert len(opened) == 3
    frames.close()


@pytest.mark.parametrize("index", [-1, 8, 100])
def test_video_index_out_of_range(video: Path, index: int) -> None:
    frames = VideoFileFrames(video)
    with pytest.raises(IndexError, match=rf"frame {index} out of range 0\.\.7"):
        frames.read(index)


def test_video_shorter_than_stated_names_the_file(video: Path) -> None:
    frames = VideoFileFrames(video, num_frames=10)
    assert len(frames) == 10
    with pytest.raises(
        DatasetFormatError, match=r"video ended before frame 9 \(expected 10\)"
    ) as error:
        frames.read(9)
    assert error.value.path == video


def test_missing_video_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.mp4"
    with pytest.raises(DatasetFormatError, match="video file is missing") as error:
        VideoFileFrames(path)
    assert error.value.path == path


@pytest.mark.parametrize("keep", [0.5, 0.0], ids=["truncated", "empty"])
def test_truncated_video_names_the_file(video: Path, keep: float) -> None:
    data = video.read_bytes()
    broken = video.with_name("broken.mp4")
    broken.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DatasetFormatError) as error:
        VideoFileFrames(broken)
    assert error.value.path == broken
    assert str(error.value).startswith(f"{broken}: ")


def test_random_bytes_video_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(1).bytes(4000))
    with pytest.raises(DatasetFormatError) as error:
        VideoFileFrames(path)
    assert error.value.path == path


def test_pickled_after_reading_reads_from_the_copy(video: Path, assert_colour) -> None:
    frames = VideoFileFrames(video)
    assert_colour(frames.read(3), COLOURS[3])
    copy = pickle.loads(pickle.dumps(frames))
    assert len(copy) == 8
    assert copy.location == video
    assert_colour(copy.read(5), COLOURS[5])
    assert_colour(copy.read(1), COLOURS[1])
    # The original keeps its own decoder: the copy shares no state with it.
    assert_colour(frames.read(4), COLOURS[4])
    frames.close()
    copy.close()
