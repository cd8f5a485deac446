"""The methods the Clownfish paper compares and the knobs they share, checked once.

A *method* fixes what the edge runs and shows (:data:`METHODS`):

=================  ==========================  ===============  ===========================
method             edge worker                 windows sent     what is shown for window t
=================  ==========================  ===============  ===========================
clownfish_siminet  local model + SimiNet       policy.filter    fused, rho = SimiNet
clownfish_cosine   local model                 policy.filter    fused, rho = cosine of p_l
clownfish_fixma    local model                 policy.filter    fused, rho = 0.5 (FixMA)
clownfish_optsim   local model                 policy.filter    fused, rho = ground truth
edge_only          local model                 none             argmax p_l(t)
edge_fixma         local model                 none             FixMA over p_l (Table III)
cloud_only         none (streams every window) every window     argmax p_r(t)
cloud_fixma        none (streams every window) every window     FixMA over p_r (Table III)
filtering          relevance model             relevant ones    p_r(t) if relevant, else
                                                                background (section VI-G)
=================  ==========================  ===============  ===========================

The four ``clownfish_*`` methods differ only in the similarity ``rho`` (paper Fig. 7); their
Filter is ``policy.filter``: ``periodic`` (every ``interval``-th processed window) or
``context_aware`` (periodic, plus a send at every context transition ``rho_t - rho_{t-1} >=
transition_jump``, which restarts the timer; section III-D), each method detecting transitions
with its own ``rho``.

Similarity between two *processed* windows ``p < t`` (the edge skips windows when its model is
slower than the stride, see :mod:`edgecloud.sim.clownfish.device`): for adjacent windows it is
the per-window score (SimiNet's recorded ``rho_t``, :func:`~edgecloud.fusion.clownfish.
cosine_similarity_scores`, :func:`~edgecloud.fusion.clownfish.oracle_similarity`, or the
constant); across a gap, cosine and the oracle are computed between the two windows directly,
and SimiNet (whose network is not replayed) takes the lowest recorded score in the gap,
``min(rho_{p+1..t})``, so a context change anywhere in between still reads as one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from edgecloud.fusion.clownfish import (
    cosine_similarity_scores,
    fixed_similarity,
    oracle_similarity,
)

Similarity = Literal["siminet", "cosine", "fixed", "oracle"]
Worker = Literal["local", "relevance", "none"]
Sending = Literal["filter", "none", "all", "relevant"]
Display = Literal["fused", "local", "remote", "relevant_remote"]
FILTERS = ("periodic", "context_aware")
SIMILARITIES = ("siminet", "cosine", "fixed", "oracle")


@dataclass(frozen=True)
class MethodSpec:
    """What a method runs and shows (see the module docstring's table).

    ``similarity`` is the ``rho`` of the fusion (``None``: no fusion); ``smooth`` means the
    shown source (local or remote) is smoothed with FixMA instead of shown raw; ``worker`` is
    what the edge's serial worker runs on each window it takes; ``sending`` which windows go
    to the cloud; ``display`` what is shown."""

    name: str
    worker: Worker
    sending: Sending
    display: Display
    similarity: Similarity | None = None
    smooth: bool = False

    @property
    def fuses(self) -> bool:
        """Whether the Clownfish fusion runs (with remote results)."""
        return self.display == "fused"

    @property
    def uses_remote(self) -> bool:
        return self.sending != "none"

    @property
    def runs_siminet(self) -> bool:
        return self.similarity == "siminet"


METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec("clownfish_siminet", "local", "filter", "fused", "siminet"),
        MethodSpec("clownfish_cosine", "local", "filter", "fused", "cosine"),
        MethodSpec("clownfish_fixma", "local", "filter", "fused", "fixed"),
        MethodSpec("clownfish_optsim", "local", "filter", "fused", "oracle"),
        MethodSpec("edge_only", "local", "none", "local"),
        MethodSpec("edge_fixma", "local", "none", "local", "fixed", smooth=True),
        MethodSpec("cloud_only", "none", "all", "remote"),
        MethodSpec("cloud_fixma", "none", "all", "remote", "fixed", smooth=True),
        MethodSpec("filtering", "relevance", "relevant", "relevant_remote"),
    )
}


def method_spec(name: str) -> MethodSpec:
    """The :class:`MethodSpec` called ``name``; a ValueError listing the known ones."""
    if name not in METHODS:
        raise ValueError(f"unknown Clownfish method {name!r}; known: {sorted(METHODS)}")
    return METHODS[name]


@dataclass(frozen=True, kw_only=True)
class ClownfishPolicy:
    """Clownfish's parameters (paper sections III-IV, VI-A) and the choices left open.

    - ``filter``: the Clownfish methods' Filter, ``periodic`` or ``context_aware``.
    - ``interval`` (n_w): a window is sent when ``interval`` processed windows have passed
      since the last one sent (6 in the paper); the first processed window is always sent.
    - ``transition_jump`` / ``transition_direction``: a context transition is
      ``rho_t - rho_{t-1} >= jump`` (``rise``, the paper's sign) or the opposite (``drop``).
    - ``relevance_cutoff``: the filtering baseline sends windows whose relevance score is at
      least this (0.5 in the paper).
    - ``threshold`` (theta), ``remote_weight`` (the remote share of g, 2/3),
      ``fallback_alpha`` (alpha while beta < theta), ``confidence_aware`` (beta = max of the
      aggregate, section IV-C): the fusion's parameters.
    - ``fixed_alpha``: FixMA's alpha (0.5).
    - ``max_in_flight``: not in the paper; when set, a selected window is not sent while this
      many requests await their results (bounds the lag on a link too slow for the Filter;
      cloud-only then skips windows). ``None``: every selected window is queued.
    """

    filter: Literal["periodic", "context_aware"] = "context_aware"
    interval: int = 6
    transition_jump: float = 0.5
    transition_direction: Literal["rise", "drop"] = "rise"
    relevance_cutoff: float = 0.5
    threshold: float = 0.5
    remote_weight: float = 2 / 3
    fallback_alpha: float = 0.5
    confidence_aware: bool = True
    fixed_alpha: float = 0.5
    max_in_flight: int | None = None

    def __post_init__(self) -> None:
        if self.filter not in FILTERS:
            raise ValueError(f"policy.filter must be one of {FILTERS}, got {self.filter!r}")
        if (
            isinstance(self.interval, bool)
            or not isinstance(self.interval, int)
            or self.interval < 1
        ):
            raise ValueError(f"policy.interval must be an integer >= 1, got {self.interval!r}")
        if self.max_in_flight is not None and (
            isinstance(self.max_in_flight, bool)
            or not isinstance(self.max_in_flight, int)
            or self.max_in_flight < 1
        ):
            raise ValueError(
                f"policy.max_in_flight must be an integer >= 1 or null, got {self.max_in_flight!r}"
            )
        if self.transition_direction not in ("rise", "drop"):
            raise ValueError(
                "policy.transition_direction must be 'rise' or 'drop', "
                f"got {self.transition_direction!r}"
            )
        if not (math.isfinite(self.transition_jump) and self.transition_jump > 0):
            raise ValueError(f"policy.transition_jump must be > 0, got {self.transition_jump!r}")
        for name in (
            "relevance_cutoff",
            "threshold",
            "remote_weight",
            "fallback_alpha",
            "fixed_alpha",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ValueError(f"policy.{name} must lie in [0, 1], got {value!r}")

    @property
    def fusion_parameters(self) -> dict[str, float | bool]:
        """Keyword arguments of :func:`~edgecloud.fusion.clownfish.clownfish_fuse_batch`."""
        return {
            "threshold": self.threshold,
            "remote_weight": self.remote_weight,
            "fallback_alpha": self.fallback_alpha,
            "confidence_aware": self.confidence_aware,
        }

    def smoothing_parameters(self) -> dict[str, float | bool]:
        """FixMA's fusion arguments: ``alpha_t = fixed_alpha`` whatever beta is (threshold 0
        makes Algorithm 1 always take rho; see :func:`~edgecloud.fusion.clownfish.
        fixed_similarity`)."""
        return {**self.fusion_parameters, "threshold": 0.0}


def adjacent_similarity(
    similarity: Similarity,
    *,
    local_probs: np.ndarray,
    siminet: np.ndarray | None,
    window_labels: np.ndarray,
    fixed_alpha: float,
) -> np.ndarray:
    """``(W,)`` rho between each window and the one before it (``rho_0 = 0``), per method."""
    if similarity == "siminet":
        if siminet is None:
            raise ValueError(
                "the recording has no SimiNet scores (similarity); clownfish_siminet needs "
                "them, the cosine, fixma and optsim methods do not"
            )
        rho = np.asarray(siminet, dtype=np.float64).copy()
        if len(rho):
            rho[0] = 0.0
        return rho
    if similarity == "cosine":
        return cosine_similarity_scores(local_probs)
    if similarity == "oracle":
        return oracle_similarity(window_labels)
    if similarity == "fixed":
        return fixed_similarity(len(window_labels), alpha=fixed_alpha)
    raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")


def gap_similarity(
    similarity: Similarity,
    *,
    adjacent: np.ndarray,
    local_probs: np.ndarray,
    window_labels: np.ndarray,
    previous: int,
    current: int,
) -> float:
    """rho between processed windows ``previous < current`` (module docstring): the adjacent
    score when they are neighbours, else the method's rule across the gap."""
    if current == previous + 1 or similarity == "fixed":
        return float(adjacent[current])
    if similarity == "siminet":
        return float(adjacent[previous + 1 : current + 1].min())
    if similarity == "oracle":
        return float(window_labels[previous] == window_labels[current])
    pair = cosine_similarity_scores(local_probs[[previous, current]])
    return float(pair[1])


class OnlineFilter:
    """The Filter's decisions, made one processed window at a time as the device makes them.

    Fed the processed windows in order (position ``k`` = k-th processed window), it sends what
    :func:`~edgecloud.fusion.clownfish_filter.periodic_windows` /
    :func:`~edgecloud.fusion.clownfish_filter.context_aware_periodic_windows` /
    :func:`~edgecloud.fusion.clownfish_filter.relevance_windows` would select on the sequence
    of processed windows (tested), but only from what is known at the time."""

    def __init__(
        self,
        *,
        kind: Literal["periodic", "context_aware", "relevance"],
        interval: int = 1,
        jump: float = 0.5,
        direction: Literal["rise", "drop"] = "rise",
        cutoff: float = 0.5,
    ) -> None:
        self.kind = kind
        self.interval = interval
        self.jump = jump
        self.direction = direction
        self.cutoff = cutoff
        self._last_sent: int | None = None
        self._previous_rho = 0.0

    @property
    def decides_at_start(self) -> bool:
        """Periodic needs nothing but the window's position, so it decides when the worker
        takes the window; the others need the worker's output (rho, relevance)."""
        return self.kind == "periodic"

    def decide(self, *, position: int, rho: float = 0.0, relevance: float = 0.0) -> bool:
        """Whether processed window number ``position`` is sent (positions come in order)."""
        if self.kind == "relevance":
            return relevance >= self.cutoff
        change = rho - self._previous_rho if self.direction == "rise" else self._previous_rho - rho
        transition = self.kind == "context_aware" and position >= 2 and change >= self.jump
        self._previous_rho = rho
        if self._last_sent is None or position - self._last_sent >= self.interval or transition:
            self._last_sent = position
            return True
        return False
