"""Where a video's frames come from: a folder of images or an encoded video file.

Every source returns frames as RGB ``uint8`` arrays of shape ``(H, W, 3)`` and raises
:class:`~edgecloud.data.errors.DatasetFormatError` naming the file when a frame is missing or
cannot be decoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from edgecloud.data.errors import DatasetFormatError


@runtime_checkable
class FrameSource(Protocol):
    """Random access to the frames of one video."""

    @property
    def location(self) -> Path: ...

    def __len__(self) -> int: ...

    def read(self, index: int) -> np.ndarray: ...


def decode_image(path: Path) -> np.ndarray:
    """Read one image file as RGB uint8, or fail naming the file."""
    if not path.is_file():
        raise DatasetFormatError(path, "frame file is missing")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise DatasetFormatError(path, "cannot decode image (corrupt or not an image)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class ImageFolderFrames:
    """Frames stored one image file per frame, in the given order."""

    def __init__(self, paths: Sequence[Path], *, location: Path) -> None:
        self._paths = [Path(p) for p in paths]
        self._location = Path(location)

    @property
    def location(self) -> Path:
        return self._location

    @property
    def paths(self) -> list[Path]:
        return list(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def read(self, index: int) -> np.ndarray:
        return decode_image(self._paths[index])


class VideoFileFrames:
    """Frames decoded from a video file with PyAV.

    Decoding is sequential: reading frames in increasing order (evaluation, replay) costs one
    decode per frame; going backwards reopens the file. For random-access training on long
    videos, extract frames to a folder once and use :class:`ImageFolderFrames`.
    """

    def __init__(self, path: Path, *, num_frames: int | None = None) -> None:
        self._path = Path(path)
        if not self._path.is_file():
            raise DatasetFormatError(self._path, "video file is missing")
        self._num_frames = num_frames if num_frames is not None else self._count_frames()
        self._container = None
        self._decoder = None
        self._next_index = 0

    @property
    def location(self) -> Path:
        return self._path

    def __len__(self) -> int:
        return self._num_frames

    def _open(self):
        import av

        try:
            return av.open(str(self._path))
        except (av.error.FFmpegError, UnicodeDecodeError) as error:
            raise DatasetFormatError(self._path, f"cannot open video: {error}") from error

    def _count_frames(self) -> int:
        import av

        with self._open() as container:
            if not container.streams.video:
                raise DatasetFormatError(self._path, "file has no video stream")
            try:
                count = sum(1 for _ in container.decode(video=0))
            except av.error.FFmpegError as error:
                raise DatasetFormatError(self._path, f"corrupt video: {error}") from error
        if count == 0:
            raise DatasetFormatError(self._path, "video has no decodable frames")
        return count

    def read(self, index: int) -> np.ndarray:
        import av

        if not 0 <= index < self._num_frames:
            raise IndexError(f"{self._path}: frame {index} out of range 0..{self._num_frames - 1}")
        if self._decoder is None or index < self._next_index:
            self.close()
            self._container = self._open()
            self._decoder = self._container.decode(video=0)
            self._next_index = 0
        try:
            while True:
                frame = next(self._decoder)
                self._next_index += 1
                if self._next_index - 1 == index:
                    return frame.to_ndarray(format="rgb24")
        except StopIteration as error:
            raise DatasetFormatError(
                self._path, f"video ended before frame {index} (expected {self._num_frames})"
            ) from error
        except av.error.FFmpegError as error:
            raise DatasetFormatError(
                self._path, f"corrupt video at frame {index}: {error}"
            ) from error

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = None
        self._decoder = None

    def __getstate__(self) -> dict:
        # Decoder state cannot cross process boundaries (DataLoader workers); reopen lazily.
        state = self.__dict__.copy()
        state.update(_container=None, _decoder=None, _next_index=0)
        return state
