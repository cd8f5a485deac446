"""Uplink traffic of a selection of windows: each frame is uploaded once, with its real size.

The edge uploads a selected window's frames that the cloud has not received yet (the paper's
prototype processes overlapping frames once): with windows sent in increasing order, window
``t`` adds frames ``max(t * stride, end of the previous sent window) .. t * stride + size - 1``.
Every request also carries a fixed header. :func:`edgecloud.fusion.clownfish_filter.frames_sent`
counts the same frames; these functions weigh them with their encoded sizes.
"""

from __future__ import annotations

import numpy as np


def new_frame_ranges(
    selected_windows: np.ndarray, *, window_size: int, window_stride: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(first, stop)`` int64 arrays: the half-open range of frames each of the sorted, distinct
    ``selected_windows`` adds to the upload."""
    windows = np.asarray(selected_windows, dtype=np.int64).reshape(-1)
    if len(windows) > 1 and np.any(np.diff(windows) <= 0):
        raise ValueError("selected windows must be sorted and distinct")
    starts = windows * window_stride
    stops = starts + window_size
    previous_stop = np.concatenate([[0], stops[:-1]]) if len(stops) else stops
    return np.maximum(starts, previous_stop), stops


def upload_bytes(
    selected_windows: np.ndarray,
    *,
    frame_bytes: np.ndarray,
    window_size: int,
    window_stride: int,
    header_bytes: int,
) -> np.ndarray:
    """``(len(selected_windows),)`` int64 bytes of each request: its new frames' encoded sizes
    plus ``header_bytes``."""
    first, stop = new_frame_ranges(
        selected_windows, window_size=window_size, window_stride=window_stride
    )
    cumulative = np.concatenate([[0], np.cumsum(np.asarray(frame_bytes, dtype=np.int64))])
    return cumulative[stop] - cumulative[first] + int(header_bytes)


def frames_uploaded(selected_windows: np.ndarray, *, window_size: int, window_stride: int) -> int:
    """Distinct frames uploaded for ``selected_windows`` (sorted, distinct)."""
    first, stop = new_frame_ranges(
        selected_windows, window_size=window_size, window_stride=window_stride
    )
    return int((stop - first).sum())
