"""Clownfish's window manager: cut a frame stream into overlapping fixed-size windows.

Clownfish (section III-B) packages the frames of a stream into a sliding window of
``window_size`` consecutive frames and emits a new window every ``window_stride`` frames; the
paper uses 16 and 4 (75 % overlap). Window ``t`` of a video covers frames
``starts[t] <= f < starts[t] + window_size`` with ``starts[t] = t * window_stride``; only windows
that lie fully inside the video exist, so a video shorter than one window has none.

A window's ground truth is the action that covers at least half of its frames, else the
background (:func:`edgecloud.metrics.action.window_labels`, which the simulator's scoring
shares): the paper assumes "the result of the window is influenced by
the majority of the frames in the window", and skips the first frames of every context in its
accuracy for the same reason.

Frames are read lazily: :class:`WindowClips` is a sequence of ``(window_size, H, W, 3)`` uint8
clips over a :class:`~edgecloud.data.frames.FrameSource`, and :class:`FrameCache` keeps the
frames that consecutive windows share so each frame is decoded once when windows are read in
order (which also keeps :class:`~edgecloud.data.frames.VideoFileFrames` decoding forwards).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence

import numpy as np

from edgecloud.data.frames import FrameSource


def _check_window(window_size: int, window_stride: int) -> None:
    if window_size < 1:
        raise ValueError(f"window_size must be >= 1, got {window_size}")
    if window_stride < 1:
        raise ValueError(f"window_stride must be >= 1, got {window_stride}")


def window_starts(num_frames: int, *, window_size: int = 16, window_stride: int = 4) -> np.ndarray:
    """``(T,)`` int64 first frame of every window that lies fully inside ``num_frames`` frames.

    ``T = (num_frames - window_size) // window_stride + 1``, or 0 when the video is shorter than
    one window. Trailing frames that do not fill a whole window belong to no window, as in a
    stream where the slot never fills again.
    """
    _check_window(window_size, window_stride)
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames}")
    if num_frames < window_size:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, num_frames - window_size + 1, window_stride, dtype=np.int64)


class FrameCache:
    """The most recently read frames of one :class:`FrameSource`, at most ``capacity`` of them.

    Consecutive windows share ``window_size - window_stride`` frames; with a capacity of at
    least ``window_size`` the shared frames come from here and only the new ones are decoded.
    The cache follows one source at a time and empties when asked for another, so it never
    holds more than ``capacity`` frames (one video's frames can be megabytes each).
    """

    def __init__(self, *, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._source: FrameSource | None = None
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()

    def clear(self) -> None:
        self._source = None
        self._frames.clear()

    def read(self, frames: FrameSource, index: int) -> np.ndarray:
        """Frame ``index`` of ``frames``, from the cache when it was read recently."""
        if frames is not self._source:
            self.clear()
            self._source = frames
        frame = self._frames.get(index)
        if frame is not None:
            self._frames.move_to_end(index)
            return frame
        frame = frames.read(index)
        self._frames[index] = frame
        if len(self._frames) > self.capacity:
            self._frames.popitem(last=False)
        return frame

    def __getstate__(self) -> dict:
        # Each DataLoader worker starts with an empty cache rather than a pickled copy.
        state = self.__dict__.copy()
        state.update(_source=None, _frames=OrderedDict())
        return state


def read_frames(
    frames: FrameSource, indices: Sequence[int] | np.ndarray, *, cache: FrameCache | None = None
) -> np.ndarray:
    """``(len(indices), H, W, 3)`` uint8 frames at ``indices`` (repeats allowed).

    Each distinct frame is read once, in increasing order (sequential decoders stay forward).
    """
    indices = np.asarray(indices, dtype=np.int64)
    if indices.ndim != 1 or not len(indices):
        raise ValueError(f"indices must be a non-empty 1-D sequence, got shape {indices.shape}")
    unique, inverse = np.unique(indices, return_inverse=True)
    if unique[0] < 0 or unique[-1] >= len(frames):
        raise IndexError(
            f"{frames.location}: frames {unique[0]}..{unique[-1]} out of range 0..{len(frames) - 1}"
        )
    read = cache.read if cache is not None else lambda source, i: source.read(i)
    decoded = [read(frames, int(i)) for i in unique]
    return np.stack(decoded)[inverse.reshape(-1)]


class WindowClips(Sequence[np.ndarray]):
    """The windows of one video as a lazy ``(T, window_size, H, W, 3)`` uint8 sequence.

    ``clips[t]`` reads window ``t`` (frames ``starts[t] .. starts[t] + window_size - 1``);
    iterating reads every frame of the video once. Nothing is decoded before it is asked for.
    """

    def __init__(
        self, frames: FrameSource, *, window_size: int = 16, window_stride: int = 4
    ) -> None:
        self.frames = frames
        self.window_size = window_size
        self.window_stride = window_stride
        self.starts = window_starts(
            len(frames), window_size=window_size, window_stride=window_stride
        )
        self._cache = FrameCache(capacity=window_size + window_stride)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if not -len(self) <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        start = int(self.starts[index])
        return read_frames(
            self.frames, np.arange(start, start + self.window_size), cache=self._cache
        )

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(len(self)):
            yield self[index]


def window_clips(
    frames: FrameSource, *, window_size: int = 16, window_stride: int = 4
) -> WindowClips:
    """The windows of ``frames`` as a lazy sequence of clips (see :class:`WindowClips`)."""
    return WindowClips(frames, window_size=window_size, window_stride=window_stride)
