"""Writers of tiny on-disk fixtures: solid-colour JPEG frames and mp4 videos."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

WIDTH, HEIGHT = 64, 48

RGB = tuple[int, int, int]


def _write_jpeg(path: Path, rgb: RGB) -> None:
    """A WIDTH x HEIGHT JPEG filled with one RGB colour."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full((HEIGHT, WIDTH, 3), rgb, dtype=np.uint8)
    assert cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def _write_mp4(path: Path, colours: Sequence[RGB]) -> None:
    """A WIDTH x HEIGHT mpeg4 video with one solid-colour frame per entry of ``colours``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for rgb in colours:
            image = np.full((HEIGHT, WIDTH, 3), rgb, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def _assert_colour(frame: np.ndarray, rgb: RGB) -> None:
    """A decoded frame has the fixture size and, up to compression, the colour written."""
    assert frame.shape == (HEIGHT, WIDTH, 3)
    assert frame.dtype == np.uint8
    assert np.abs(frame.reshape(-1, 3).mean(axis=0) - np.array(rgb)).max() < 12


@pytest.fixture
def write_jpeg() -> Callable[[Path, RGB], None]:
    return _write_jpeg


@pytest.fixture
def write_mp4() -> Callable[[Path, Sequence[RGB]], None]:
    return _write_mp4


@pytest.fixture
def assert_colour() -> Callable[[np.ndarray, RGB], None]:
    return _assert_colour
