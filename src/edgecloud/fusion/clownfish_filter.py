"""Which windows Clownfish's edge sends to the cloud, and what that costs in frames (sections
III-D, VI-C and VI-G of Nigade et al., "Clownfish: Edge and Cloud Symbiosis for Video Stream
Analytics", SEC 2020). Fusing the results that come back is in edgecloud.fusion.clownfish.

Windows are those of the paper's Window Manager: window ``t`` (0-based) holds frames
``t * window_stride <= f < t * window_stride + window_size``, and a video of ``F`` frames has
``(F - window_size) // window_stride + 1`` windows (none if ``F < window_size``). A policy returns
the sorted int64 indices of the windows it sends.

Bandwidth: the edge uploads the frames of the selected windows, each frame at most once (the
paper's prototype processes overlapping frames once); cloud-only classifies every window, i.e.
uploads every frame that some window covers, once. With plain periodic sending every ``n_w``
windows, consecutive sent windows start ``n_w * stride`` frames apart, so each send adds
``min(window_size, n_w * stride)`` new frames against ``n_w * stride`` for cloud-only: in the
long-video limit the reduction is ``1 - window_size / (n_w * stride)`` when
``n_w * stride >= window_size`` and 0 otherwise. For the paper's 16-frame windows every 4 frames
that is 0 for ``n_w <= 4``, 33.3% for ``n_w = 6`` and 42.9% for ``n_w = 7`` (section VI-C).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = [
    "bandwidth_reduction",
    "context_aware_periodic_windows",
    "frames_sent",
    "num_windows",
    "periodic_bandwidth_reduction",
    "periodic_windows",
    "relevance_windows",
]


def _check_geometry(window_size: int, window_stride: int) -> None:
    if window_size < 1 or window_stride < 1:
        raise ValueError(
            f"window_size and window_stride must be >= 1, got {window_size} and {window_stride}"
        )


def num_windows(num_frames: int, *, window_size: int, window_stride: int) -> int:
    """How many full windows the Window Manager makes from ``num_frames`` frames."""
    _check_geometry(window_size, window_stride)
    if num_frames < window_size:
        return 0
    return (num_frames - window_size) // window_stride + 1


def periodic_windows(num_windows: int, *, interval: int) -> np.ndarray:
    """Plain periodic policy: windows ``0, n_w, 2 n_w, ...`` (``n_w`` = ``interval``).

    The first window is sent, then a window whenever ``n_w`` windows have passed since the last
    send (window ``t`` is sent when ``t - last_sent == n_w``). The paper calls ``n_w`` "the
    number of windows to skip before we send another window", but its bandwidth figures (33.3%
    at ``n_w = 6``, none for ``n_w <= 4``) need a period of ``n_w`` windows, i.e. ``n_w - 1``
    skipped; ``n_w = 1`` sends every window.
    """
    if interval < 1:
        raise ValueError(f"interval must be >= 1, got {interval}")
    return np.arange(0, max(num_windows, 0), interval, dtype=np.int64)


def context_aware_periodic_windows(
    similarity: np.ndarray,
    *,
    interval: int,
    jump: float = 0.5,
    direction: Literal["rise", "drop"] = "rise",
) -> np.ndarray:
    """Context-aware periodic policy (section III-D): periodic, plus a send at every context
    transition, which restarts the periodic timer.

    ``similarity`` is ``(T,)``, ``rho_t`` between windows ``t - 1`` and ``t`` (``rho_0`` unused).
    Window 0 is sent; window ``t`` is sent when ``t - last_sent == interval`` or when ``t`` is a
    transition; either way the timer restarts at ``t``. Transitions need two real scores, so
    they are looked for from ``t = 2`` on.

    The paper detects a transition as "the change in the similarity score is beyond a threshold,
    i.e., rho_t - rho_{t-1} >= 0.5": a *rise*. Similarity dips while the windows straddle the
    boundary between two contexts (Fig. 8; overlapping windows keep it low for a few windows)
    and rises again at the first window that resembles its predecessor, i.e. once the windows
    lie in the new context. Sending that window gives the cloud a window of the new context
    rather than a mixed one, and its result then propagates with high ``alpha`` through the
    context; so the paper's sign is kept as the default (``direction="rise"``:
    ``rho_t - rho_{t-1} >= jump``). ``direction="drop"`` (``rho_{t-1} - rho_t >= jump``) sends at
    the start of the dip instead, for comparison.
    """
    if interval < 1:
        raise ValueError(f"interval must be >= 1, got {interval}")
    if direction not in ("rise", "drop"):
        raise ValueError(f"direction must be 'rise' or 'drop', got {direction!r}")
    rho = np.asarray(similarity, dtype=np.float64)
    if rho.ndim != 1:
        raise ValueError(f"similarity must be (T,), got shape {rho.shape}")
    change = np.zeros(len(rho))
    change[2:] = np.diff(rho)[1:]
    if direction == "drop":
        change = -change
    transition = change >= jump
    transition[:2] = False
    sent = []
    last = None
    for t in range(len(rho)):
        if last is None or t - last >= interval or transition[t]:
            sent.append(t)
            last = t
    return np.asarray(sent, dtype=np.int64)


def relevance_windows(scores: np.ndarray, *, cutoff: float = 0.5) -> np.ndarray:
    """Filtering baseline of section VI-G (EarlyDiscard/FilterForward adapted to windows): send
    the windows whose relevance score (a binary classifier's "contains an action"
    probability) is at least ``cutoff`` (0.5 in the paper)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be (T,), got shape {scores.shape}")
    return np.flatnonzero(scores >= cutoff).astype(np.int64)


def frames_sent(
    selected_windows: np.ndarray, *, window_size: int, window_stride: int, num_frames: int
) -> int:
    """Distinct frames uploaded when only ``selected_windows`` are sent and a frame already
    uploaded (in an earlier, overlapping window) is not uploaded again."""
    total = num_windows(num_frames, window_size=window_size, window_stride=window_stride)
    windows = np.unique(np.asarray(selected_windows, dtype=np.int64).reshape(-1))
    if len(windows) and (windows[0] < 0 or windows[-1] >= total):
        raise ValueError(f"selected windows must lie in [0, {total})")
    if not len(windows):
        return 0
    starts = windows * window_stride
    # Each window adds its frames not covered by the previous selected window (starts ascend).
    new = np.minimum(np.diff(starts), window_size)
    return int(new.sum() + window_size)


def bandwidth_reduction(
    selected_windows: np.ndarray, *, window_size: int, window_stride: int, num_frames: int
) -> float:
    """Fraction of cloud-only's upload saved by sending only ``selected_windows``.

    Cloud-only at the same throughput classifies every window, uploading every frame covered by
    a window exactly once; both count distinct frames (:func:`frames_sent`). NaN for a video
    without windows.
    """
    geometry = {"window_size": window_size, "window_stride": window_stride}
    total = num_windows(num_frames, **geometry)
    if total == 0:
        return float("nan")
    everything = frames_sent(np.arange(total), num_frames=num_frames, **geometry)
    sent = frames_sent(selected_windows, num_frames=num_frames, **geometry)
    return 1.0 - sent / everything


def periodic_bandwidth_reduction(interval: int, *, window_size: int, window_stride: int) -> float:
    """Long-video limit of :func:`bandwidth_reduction` for :func:`periodic_windows`:
    ``max(0, 1 - window_size / (interval * window_stride))`` (see the module docstring)."""
    if interval < 1:
        raise ValueError(f"interval must be >= 1, got {interval}")
    _check_geometry(window_size, window_stride)
    return max(0.0, 1.0 - window_size / (interval * window_stride))
