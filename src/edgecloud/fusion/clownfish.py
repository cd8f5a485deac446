"""Clownfish's edge-cloud fusion (section IV of Nigade et al., "Clownfish: Edge and Cloud Symbiosis
for Video Stream Analytics", SEC 2020). Which windows are sent to the cloud is in
edgecloud.fusion.clownfish_filter.

The edge classifies every window ``t`` locally (probability vector ``p_l(t)``); some windows are
also classified by the cloud (``p_r(i)``), whose result comes back ``d >= 0`` windows later. The
edge shows ``p_f(t)``, an exponential smoothing of the local results that remote results reinforce
retrospectively. Window indices are 0-based here (the paper counts from 1). At window ``t``:

1. REINFORCE, for every remote result that arrives at ``t`` (in increasing window order): the
   remote window ``i`` becomes ``p_f(i) = g(p_l(i), p_r(i)) = (1 - w) p_l(i) + w p_r(i)``
   (equation (3), ``w`` = ``remote_weight``, 2/3 in the paper) with ``beta_i = max(p_f(i))``
   (section IV-C, confidence-aware) or 1 (equation (4)); then windows ``i + 1 .. t - 1`` are
   recomputed from it with FUSE's rule below (equation (3), second case), ``alpha_j`` and
   ``beta_j`` included.
2. FUSE ``t`` (equations (1), (2) and Algorithm 1), unless a remote result for ``t`` itself
   arrived in step 1 (lag 0): ``p_f(0) = p_l(0)`` with ``beta_0 = 0``; later
   ``alpha_t = fallback_alpha`` if ``beta_{t-1} < threshold`` (no recent remote influence: plain
   moving average) else ``rho_t``; ``beta_t = beta_{t-1} * alpha_t``;
   ``p_f(t) = alpha_t p_f(t-1) + (1 - alpha_t) p_l(t)``.

The output row ``t`` is ``p_f(t)`` as it stood right after step 2, i.e. what the edge displayed
for window ``t``; retrospective updates change only the state that later windows are fused from.

Out-of-order results (the result for window 5 arrives before the one for window 3) are outside
the paper, whose equation (3) would recompute window 5 from window 3 by smoothing and so throw
window 5's remote result away. Here a window whose remote result has already arrived keeps it
(equation (4): ``beta`` is reset "if p_r(t) is available"), so recomputation stops there; for
in-order arrivals this is exactly equation (3), and the order of several arrivals in one window
does not matter.

The methods compared in the paper's Fig. 7 differ only in the similarity ``rho``: SimiNet (a
learnt score), ``Cosine`` (:func:`cosine_similarity_scores`), ``FixMA`` (:func:`fixed_similarity`)
and ``OptSim`` (:func:`oracle_similarity`). :func:`clownfish_fuse` is the readable reference;
:func:`clownfish_fuse_batch` runs the same recurrence compiled with numba over many videos and
configurations at once and agrees with it exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

__all__ = [
    "arrival_list",
    "clownfish_fuse",
    "clownfish_fuse_batch",
    "cosine_similarity_scores",
    "fixed_similarity",
    "lagged_arrival_windows",
    "oracle_similarity",
]

NO_ARRIVAL = -1
"""Arrival window of a window whose remote result never arrives (not sent, or too late)."""


def _check_parameters(*, threshold: float, remote_weight: float, fallback_alpha: float) -> None:
    for name, value in (
        ("threshold", threshold),
        ("remote_weight", remote_weight),
        ("fallback_alpha", fallback_alpha),
    ):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {value}")


def _check_similarity(similarity: np.ndarray, num_windows: int) -> None:
    if similarity.shape[-1] != num_windows:
        raise ValueError(
            f"similarity must have one score per window ({num_windows}), "
            f"got shape {similarity.shape}"
        )
    if num_windows > 1:
        used = similarity[..., 1:]
        if not np.all((used >= 0.0) & (used <= 1.0)):
            raise ValueError("similarity scores rho_1.. must lie in [0, 1] (they become alpha)")


def clownfish_fuse(
    local: np.ndarray,
    similarity: np.ndarray,
    remote_arrivals: Sequence[tuple[int, int, np.ndarray]],
    *,
    threshold: float = 0.5,
    remote_weight: float = 2 / 3,
    fallback_alpha: float = 0.5,
    confidence_aware: bool = True,
) -> np.ndarray:
    """Fused probabilities the edge displays for every window (see the module docstring).

    ``local`` is ``(T, C)``, one local probability vector per window; ``similarity`` is ``(T,)``,
    ``rho_t`` between windows ``t - 1`` and ``t`` (``rho_0`` is never used); each of
    ``remote_arrivals`` is ``(a, i, probs)``: the remote result ``probs`` (``(C,)``) for window
    ``i`` is first usable when window ``a >= i`` is fused (lag ``a - i``). A window has at most
    one remote result; results arriving after the last window must be left out. ``threshold``
    is Algorithm 1's ``theta``, ``remote_weight`` the remote share in ``g`` and
    ``fallback_alpha`` the moving-average ``alpha`` used while ``beta < theta``.

    Returns ``(T, C)`` float64: row ``t`` is ``p_f(t)`` right after window ``t`` was fused.
    """
    _check_parameters(
        threshold=threshold, remote_weight=remote_weight, fallback_alpha=fallback_alpha
    )
    local = np.asarray(local, dtype=np.float64)
    if local.ndim != 2:
        raise ValueError(f"local must be (T, C), got shape {local.shape}")
    num_windows, num_classes = local.shape
    similarity = np.asarray(similarity, dtype=np.float64)
    if similarity.ndim != 1:
        raise ValueError(f"similarity must be (T,), got shape {similarity.shape}")
    _check_similarity(similarity, num_windows)

    arriving: dict[int, list[tuple[int, np.ndarray]]] = {}
    seen: set[int] = set()
    for a, i, probs in remote_arrivals:
        a, i = int(a), int(i)
        if not 0 <= i < num_windows or not 0 <= a < num_windows:
            raise ValueError(
                f"remote arrival (a={a}, i={i}) out of range: both must lie in [0, {num_windows})"
            )
        if a < i:
            raise ValueError(f"remote result for window {i} cannot arrive earlier, at {a}")
        if i in seen:
            raise ValueError(f"window {i} has more than one remote result")
        seen.add(i)
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (num_classes,):
            raise ValueError(
                f"remote probs for window {i} must have shape ({num_classes},), got {probs.shape}"
            )
        arriving.setdefault(a, []).append((i, probs))

    fused = np.empty((num_windows, num_classes))
    state = np.empty((num_windows, num_classes))  # p_f as retrospectively updated
    beta = np.empty(num_windows)
    has_remote = np.zeros(num_windows, dtype=bool)

    def smooth(j: int) -> None:
        """Equation (1) with Algorithm 1's alpha for window j >= 1, from the state of j - 1."""
        alpha = fallback_alpha if beta[j - 1] < threshold else similarity[j]
        beta[j] = beta[j - 1] * alpha
        state[j] = alpha * state[j - 1] + (1.0 - alpha) * local[j]

    for t in range(num_windows):
        for i, probs in sorted(arriving.get(t, []), key=lambda item: item[0]):
            state[i] = (1.0 - remote_weight) * local[i] + remote_weight * probs
            beta[i] = state[i].max() if confidence_aware else 1.0
            has_remote[i] = True
            for j in range(i + 1, t):
                if has_remote[j]:  # out of order: j keeps its own remote result, and so on
                    break
                smooth(j)
        if not has_remote[t]:
            if t == 0:
                state[0] = local[0]
                beta[0] = 0.0
            else:
                smooth(t)
        fused[t] = state[t]
    return fused


def cosine_similarity_scores(local: np.ndarray) -> np.ndarray:
    """The ``Cosine`` method's ``rho``: cosine similarity of consecutive local vectors.

    ``(T,)`` float64 with ``rho_0 = 0`` (no previous window); a zero vector's cosine is taken
    as 0. Values are clipped to [0, 1] (they become ``alpha``; probability vectors are
    non-negative, so this only removes rounding).
    """
    local = np.asarray(local, dtype=np.float64)
    if local.ndim != 2:
        raise ValueError(f"local must be (T, C), got shape {local.shape}")
    rho = np.zeros(len(local))
    if len(local) > 1:
        norms = np.linalg.norm(local, axis=1)
        dots = np.einsum("tc,tc->t", local[1:], local[:-1])
        denominator = norms[1:] * norms[:-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            rho[1:] = np.where(denominator > 0.0, dots / denominator, 0.0)
    return np.clip(rho, 0.0, 1.0)


def fixed_similarity(num_windows: int, *, alpha: float = 0.5) -> np.ndarray:
    """The ``FixMA`` method's ``rho``: every score equals ``alpha``.

    With ``fallback_alpha == alpha`` (the default 0.5 for both) both branches of Algorithm 1
    give ``alpha``, so every FUSE and every retrospective step uses ``alpha_t = alpha`` whatever
    ``beta`` is; for an ``alpha`` other than ``fallback_alpha`` pass ``threshold=0.0`` instead
    (``beta >= 0`` is never below it, so ``alpha_t = rho_t``).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    return np.full(num_windows, float(alpha))


def oracle_similarity(window_labels: np.ndarray) -> np.ndarray:
    """The ``OptSim`` method's ``rho``: 1 where window ``t`` has the ground-truth label of window
    ``t - 1``, else 0 (``rho_0 = 0``). Window labels come from
    :func:`edgecloud.metrics.action.window_labels`."""
    labels = np.asarray(window_labels)
    if labels.ndim != 1:
        raise ValueError(f"window_labels must be (T,), got shape {labels.shape}")
    rho = np.zeros(len(labels))
    rho[1:] = labels[1:] == labels[:-1]
    return rho


def lagged_arrival_windows(sent_windows: np.ndarray, *, lag: int, num_windows: int) -> np.ndarray:
    """``(num_windows,)`` int64: the window at which each window's remote result arrives, for
    results that come back ``lag`` windows after they were sent; :data:`NO_ARRIVAL` (-1) for
    windows not sent and for results that would arrive after the last window."""
    if lag < 0:
        raise ValueError(f"lag must be >= 0, got {lag}")
    sent = np.asarray(sent_windows, dtype=np.int64).reshape(-1)
    if len(sent) and (sent.min() < 0 or sent.max() >= num_windows):
        raise ValueError(f"sent windows must lie in [0, {num_windows})")
    arrival = np.full(num_windows, NO_ARRIVAL, dtype=np.int64)
    arrive_at = sent + lag
    in_time = arrive_at < num_windows
    arrival[sent[in_time]] = arrive_at[in_time]
    return arrival


def arrival_list(
    arrival_windows: np.ndarray, remote: np.ndarray
) -> list[tuple[int, int, np.ndarray]]:
    """:func:`clownfish_fuse`'s ``remote_arrivals`` from one arrival window per window (as made
    by :func:`lagged_arrival_windows`) and the ``(T, C)`` remote results of every window."""
    arrival_windows = np.asarray(arrival_windows, dtype=np.int64)
    return [
        (int(arrival_windows[i]), int(i), remote[i]) for i in np.flatnonzero(arrival_windows >= 0)
    ]


@numba.njit(cache=True, nogil=True)
def _fuse_one(
    local,
    remote,
    similarity,
    arrival,
    start,
    stop,
    threshold,
    remote_weight,
    fallback_alpha,
    confidence_aware,
    state,
    beta,
    has_remote,
    counts,
    order,
    out_probs,
    out_labels,
):
    """The reference recurrence over windows ``start:stop`` of one configuration. Arithmetic is
    written exactly as in :func:`clownfish_fuse` (same operations, same order, no fastmath), so
    results agree bit for bit."""
    num_windows = stop - start
    num_classes = local.shape[1]
    # Arrivals grouped by arrival window (a counting sort; within a group, increasing i).
    counts[: num_windows + 1] = 0
    for i in range(num_windows):
        a = arrival[start + i]
        if a >= 0:
            counts[a + 1] += 1
    for t in range(num_windows):
        counts[t + 1] += counts[t]
    for i in range(num_windows):
        a = arrival[start + i]
        if a >= 0:
            order[counts[a]] = i
            counts[a] += 1
    # counts[t] is now the end of group t; group t starts at counts[t - 1] (0 for t = 0).
    has_remote[:num_windows] = False
    first = 0
    for t in range(num_windows):
        last = counts[t]
        for k in range(first, last):
            i = order[k]
            row = start + i
            peak = -np.inf
            for c in range(num_classes):
                value = (1.0 - remote_weight) * local[row, c] + remote_weight * remote[row, c]
                state[i, c] = value
                if value > peak:
                    peak = value
            beta[i] = peak if confidence_aware else 1.0
            has_remote[i] = True
            for j in range(i + 1, t):
                if has_remote[j]:
                    break
                alpha = fallback_alpha if beta[j - 1] < threshold else similarity[start + j]
                beta[j] = beta[j - 1] * alpha
                for c in range(num_classes):
                    state[j, c] = alpha * state[j - 1, c] + (1.0 - alpha) * local[start + j, c]
        first = last
        if not has_remote[t]:
            if t == 0:
                for c in range(num_classes):
                    state[0, c] = local[start, c]
                beta[0] = 0.0
            else:
                alpha = fallback_alpha if beta[t - 1] < threshold else similarity[start + t]
                beta[t] = beta[t - 1] * alpha
                for c in range(num_classes):
                    state[t, c] = alpha * state[t - 1, c] + (1.0 - alpha) * local[start + t, c]
        best = 0
        for c in range(num_classes):
            if state[t, c] > state[t, best]:
                best = c
        out_labels[start + t] = best
        if out_probs.shape[0] > 0:
            for c in range(num_classes):
                out_probs[start + t, c] = state[t, c]


@numba.njit(cache=True, nogil=True)
def _fuse_batch(
    local,
    remote,
    similarity,
    arrival,
    offsets,
    threshold,
    remote_weight,
    fallback_alpha,
    confidence_aware,
    out_probs,
    out_labels,
):
    num_configs = out_labels.shape[0]
    num_classes = local.shape[1]
    longest = 0
    for v in range(len(offsets) - 1):
        longest = max(longest, offsets[v + 1] - offsets[v])
    state = np.empty((longest, num_classes))
    beta = np.empty(longest)
    has_remote = np.empty(longest, dtype=np.bool_)
    counts = np.empty(longest + 1, dtype=np.int64)
    order = np.empty(longest, dtype=np.int64)
    for k in range(num_configs):
        ks = k if similarity.shape[0] > 1 else 0
        ka = k if arrival.shape[0] > 1 else 0
        kp = k if out_probs.shape[0] > 1 else 0
        for v in range(len(offsets) - 1):
            _fuse_one(
                local,
                remote,
                similarity[ks],
                arrival[ka],
                offsets[v],
                offsets[v + 1],
                threshold,
                remote_weight,
                fallback_alpha,
                confidence_aware,
                state,
                beta,
                has_remote,
                counts,
                order,
                out_probs[kp],
                out_labels[k],
            )


def clownfish_fuse_batch(
    local: np.ndarray,
    remote: np.ndarray,
    similarity: np.ndarray,
    arrival_windows: np.ndarray,
    *,
    video_lengths: Sequence[int],
    threshold: float = 0.5,
    remote_weight: float = 2 / 3,
    fallback_alpha: float = 0.5,
    confidence_aware: bool = True,
    return_probs: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`clownfish_fuse` over many videos and configurations at once (compiled with numba).

    Videos are concatenated along the window axis: ``local`` and ``remote`` are ``(N, C)`` with
    ``N = sum(video_lengths)``; ``remote`` holds the cloud's result for every window (only the
    rows of windows whose result arrives are read). Window indices in ``arrival_windows`` are
    local to each video. A configuration is one ``similarity`` row (``(N,)`` or ``(K, N)``, a
    fusion method) and one ``arrival_windows`` row (``(N,)`` or ``(K, N)``, a filter interval
    and lag; see :func:`lagged_arrival_windows`, -1 = no result); a 1-D (or single-row) argument
    is shared by all ``K`` configurations.

    Returns ``(labels, probs)``: ``labels`` is ``(K, N)`` int32, the argmax (first maximum, like
    ``np.argmax``) of each displayed row, and ``probs`` the ``(K, N, C)`` float64 displayed rows
    if ``return_probs`` else None. 1-D ``similarity`` and ``arrival_windows`` give ``K = 1``
    (the leading axis is kept). For the metrics only ``labels`` is needed, which keeps a whole
    grid of configurations in memory.
    """
    _check_parameters(
        threshold=threshold, remote_weight=remote_weight, fallback_alpha=fallback_alpha
    )
    local = np.ascontiguousarray(local, dtype=np.float64)
    remote = np.ascontiguousarray(remote, dtype=np.float64)
    if local.ndim != 2 or remote.shape != local.shape:
        raise ValueError(
            f"local and remote must both be (N, C), got {local.shape} and {remote.shape}"
        )
    total, num_classes = local.shape
    lengths = np.asarray(video_lengths, dtype=np.int64).reshape(-1)
    if np.any(lengths < 0) or lengths.sum() != total:
        raise ValueError(
            f"video_lengths must be non-negative and sum to the {total} windows, "
            f"got a sum of {lengths.sum()}"
        )
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    similarity = np.ascontiguousarray(np.atleast_2d(similarity), dtype=np.float64)
    arrival = np.ascontiguousarray(np.atleast_2d(arrival_windows), dtype=np.int64)
    if similarity.ndim != 2 or arrival.ndim != 2:
        raise ValueError("similarity and arrival_windows must be (N,) or (K, N)")
    if similarity.shape[1] != total:
        raise ValueError(
            f"similarity must have one score per window ({total}), got {similarity.shape}"
        )
    if arrival.shape[1] != total:
        raise ValueError(
            f"arrival_windows must have one entry per window ({total}), got {arrival.shape}"
        )
    sizes = {similarity.shape[0], arrival.shape[0]} - {1}
    if len(sizes) > 1:
        raise ValueError(
            f"similarity has {similarity.shape[0]} rows and arrival_windows "
            f"{arrival.shape[0]}: they must match or be 1"
        )
    num_configs = sizes.pop() if sizes else 1

    index = np.arange(total) - np.repeat(offsets[:-1], lengths)  # window index within its video
    length_of = np.repeat(lengths, lengths)
    used = similarity[:, index > 0]  # rho_0 of every video is never used
    if not np.all((used >= 0.0) & (used <= 1.0)):
        raise ValueError("similarity scores rho_1.. must lie in [0, 1] (they become alpha)")
    late = (arrival != NO_ARRIVAL) & ((arrival < index) | (arrival >= length_of))
    if np.any(late) or np.any(arrival < NO_ARRIVAL):
        k, n = np.argwhere(late | (arrival < NO_ARRIVAL))[0]
        raise ValueError(
            f"arrival window {arrival[k, n]} of window {index[n]} (configuration {k}) must be "
            f"-1 or lie between the window and the end of its video ({length_of[n]} windows)"
        )

    labels = np.empty((num_configs, total), dtype=np.int32)
    probs = np.empty((num_configs if return_probs else 0, total, num_classes))
    if total:
        out_probs = probs if return_probs else np.empty((1, 0, num_classes))
        _fuse_batch(
            local,
            remote,
            similarity,
            arrival,
            offsets,
            float(threshold),
            float(remote_weight),
            float(fallback_alpha),
            bool(confidence_aware),
            out_probs,
            labels,
        )
    return labels, (probs if return_probs else None)
