"""The edge's bandwidth estimate, from which the Runespoor controllers pick each frame's
configuration (``edge.bandwidth_estimator``).

- ``configured`` (:class:`ConfiguredRate`): an oracle, the rate the uplink is *configured* to
  ``delay_s`` earlier. Only constant and piecewise-rate links have a configured rate, so a
  trace uplink is refused. It isolates the controllers from estimation error (the paper's
  ``tc`` setting, where the rate is what the experimenter set).
- ``throughput`` (:class:`HarmonicThroughput`): what the edge can measure about its own past
  uplink messages, for any link (Mahimahi traces included).

Throughput estimate, precisely. Message ``m`` (a frame, or an AWStream profiling round) of
``b_m`` bytes is handed to the uplink at ``s_m`` and its last byte reaches the server at
``a_m``; the server writes ``a_m`` into its response (one simulated clock; a deployment needs
the edge and server clocks synchronised to well under a transmission time). Its transmission
time is ``a_m - max(s_m + D, a_prev)``: ``a_prev`` is the latest delivery of the edge's
earlier messages, so waiting behind its own earlier messages is not counted, and ``D`` is the
uplink's one-way propagation delay as the edge knows it (``uplink_delay_s``: half the minimum
RTT of its connection, as BBR's min_rtt or LEDBAT's base delay), so the flight of a message
sent on an idle link is not counted either. Its goodput is ``8 b_m`` bits over that time. A
message whose transmission time is not positive (it overtook an earlier one under jitter, a
trace delivered it at its send instant, or ``D`` is overstated) or that carries no bytes says
nothing about the rate and is skipped. The edge learns ``a_m`` when the response
(or round result) to message ``m`` arrives, and feedback arrives in order (one connection),
so a sample is usable once its own and every earlier message's feedback has arrived. The
estimate at ``t`` is the harmonic mean of the goodputs of the last ``window`` samples usable
by ``t``, and ``initial_bps`` before any.

The harmonic mean is the throughput predictor of FESTIVE (Jiang et al., CoNEXT 2012) and of
MPC (Yin et al., SIGCOMM 2015) for adaptive video streaming: one fast sample barely moves it
and slow samples pull it down, so it errs on the conservative side, which is what a
controller that must not overrun the uplink wants. Without ``D`` (``uplink_delay_s = 0``,
plain goodput) small messages bias it low: ``b`` bytes on an idle link of capacity ``C`` and
delay ``d`` measure ``b / (b / C + d)``, so a 2.8 kB frame over 20 ms cannot measure more
than 1.1 Mbps, and an edge sending such frames never sees the rate a larger configuration
needs. An overloaded server delays the feedback, and with it the estimate, as it delays the
tail-frame signal.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

from edgecloud.sim.network.base import LinkSpec, finite_seconds
from edgecloud.sim.network.constant import ConstantRateLinkSpec
from edgecloud.sim.network.piecewise import PiecewiseRateLinkSpec

ESTIMATORS = ("configured", "throughput")


class BandwidthEstimator(Protocol):
    """One edge's bandwidth estimate; calls come in non-decreasing simulated time."""

    def observe(
        self, *, sent_s: float, delivered_s: float, num_bytes: int, feedback_s: float
    ) -> None:
        """Record an uplink message of ``num_bytes``, sent at ``sent_s``, delivered at
        ``delivered_s``; the edge learns the delivery at ``feedback_s``. Messages are
        observed in send order."""
        ...

    def estimate_bps(self, time_s: float) -> float:
        """The estimate (bits per second) the edge has at ``time_s``."""
        ...


def configured_rate_mbps(spec: LinkSpec, time_s: float, *, unlimited_mbps: float) -> float:
    """The rate a constant or piecewise-rate link is configured to at ``time_s``
    (``unlimited_mbps`` for an unlimited one)."""
    if isinstance(spec, PiecewiseRateLinkSpec):
        rate = spec.segments[spec.segment_index(time_s)].rate_mbps
    elif isinstance(spec, ConstantRateLinkSpec):
        rate = spec.rate_mbps
    else:
        raise ValueError(
            f"the configured bandwidth estimate is the uplink's configured rate; use a constant "
            f"or piecewise-rate uplink, or edge.bandwidth_estimator=throughput, "
            f"got {type(spec).__name__}"
        )
    return unlimited_mbps if rate is None else rate


class ConfiguredRate:
    """The uplink's configured rate ``delay_s`` earlier (module docstring); observes nothing."""

    def __init__(self, *, spec: LinkSpec, delay_s: float, unlimited_mbps: float) -> None:
        configured_rate_mbps(spec, 0.0, unlimited_mbps=unlimited_mbps)  # refuse a trace now
        self.spec = spec
        self.delay_s = delay_s
        self.unlimited_mbps = unlimited_mbps

    def observe(
        self, *, sent_s: float, delivered_s: float, num_bytes: int, feedback_s: float
    ) -> None:
        """The oracle needs no measurement."""

    def estimate_bps(self, time_s: float) -> float:
        seen_at = max(0.0, time_s - self.delay_s)
        return configured_rate_mbps(self.spec, seen_at, unlimited_mbps=self.unlimited_mbps) * 1e6


class HarmonicThroughput:
    """Harmonic mean of the goodput of the edge's last ``window`` usable uplink messages,
    ``initial_bps`` before any; ``uplink_delay_s`` is the known propagation delay ``D``
    (module docstring)."""

    def __init__(self, *, window: int, initial_bps: float, uplink_delay_s: float) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        if not (math.isfinite(initial_bps) and initial_bps > 0):
            raise ValueError(f"initial_bps must be positive, got {initial_bps!r}")
        self.window = window
        self.initial_bps = initial_bps
        self.uplink_delay_s = finite_seconds("uplink_delay_s", uplink_delay_s)
        # (usable from, goodput bps) in send order, not yet usable at the latest query
        self._pending: deque[tuple[float, float]] = deque()
        self._recent: deque[float] = deque(maxlen=window)
        self._delivered_s = 0.0  # latest delivery of the messages observed so far
        self._feedback_s = 0.0  # when the latest observed message's feedback is in
        self._now_s = 0.0

    def observe(
        self, *, sent_s: float, delivered_s: float, num_bytes: int, feedback_s: float
    ) -> None:
        start_s = max(sent_s + self.uplink_delay_s, self._delivered_s)
        self._delivered_s = max(self._delivered_s, delivered_s)
        self._feedback_s = max(self._feedback_s, feedback_s)
        if num_bytes > 0 and delivered_s > start_s:
            self._pending.append((self._feedback_s, 8.0 * num_bytes / (delivered_s - start_s)))

    def estimate_bps(self, time_s: float) -> float:
        if time_s < self._now_s:
            raise ValueError(
                f"estimate_bps at {time_s!r} s after a query at {self._now_s!r} s; "
                "queries come in time order"
            )
        self._now_s = time_s
        while self._pending and self._pending[0][0] <= time_s:
            self._recent.append(self._pending.popleft()[1])
        if not self._recent:
            return self.initial_bps
        return len(self._recent) / sum(1.0 / goodput for goodput in self._recent)
