"""Fixed-rate and ideal links: what ``tc``/``netem`` shaping emulates, and a zero-latency bound."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from edgecloud.sim.network.base import SendClock, finite_seconds


class ConstantRateLinkSpec:
    """A ``tc``/``netem`` style link: a FIFO serializer at ``rate_mbps`` (``None``: unlimited),
    then a one-way ``delay_s`` plus jitter drawn uniformly from ``[-jitter_s, +jitter_s]`` per
    message (netem's default when no distribution is given). ``jitter_s`` may not exceed
    ``delay_s``, so no message arrives before it was serialized.
    """

    def __init__(self, *, rate_mbps: float | None, delay_s: float, jitter_s: float = 0.0) -> None:
        if rate_mbps is not None and (
            isinstance(rate_mbps, bool)
            or not isinstance(rate_mbps, Real)
            or not (math.isfinite(rate_mbps) and rate_mbps > 0)
        ):
            raise ValueError(
                f"rate_mbps must be a positive finite number or null (unlimited), got {rate_mbps!r}"
            )
        self.rate_mbps = None if rate_mbps is None else float(rate_mbps)
        self.delay_s = finite_seconds("delay_s", delay_s)
        self.jitter_s = finite_seconds("jitter_s", jitter_s)
        if self.jitter_s > self.delay_s:
            raise ValueError(
                f"jitter_s ({jitter_s!r}) may not exceed delay_s ({delay_s!r}): a message would "
                "arrive before its last bit was sent"
            )

    def build(self, *, rng: np.random.Generator) -> ConstantRateLink:
        return ConstantRateLink(
            rate_mbps=self.rate_mbps, delay_s=self.delay_s, jitter_s=self.jitter_s, rng=rng
        )

    def __repr__(self) -> str:
        return (
            f"ConstantRateLinkSpec(rate_mbps={self.rate_mbps!r}, delay_s={self.delay_s!r}, "
            f"jitter_s={self.jitter_s!r})"
        )


class ConstantRateLink:
    """One device's queue on a constant-rate link.

    A message starts serializing when it is handed over or when the previous one is done,
    whichever is later, and takes ``num_bytes * 8 / rate`` seconds; it arrives ``delay_s`` plus
    its jitter after its last bit left. With jitter, arrivals can come out of send order, as
    they do under netem; the serializer itself is FIFO.
    """

    def __init__(
        self,
        *,
        rate_mbps: float | None,
        delay_s: float,
        jitter_s: float,
        rng: np.random.Generator,
    ) -> None:
        self._bits_per_s = None if rate_mbps is None else rate_mbps * 1e6
        self._delay_s = delay_s
        self._jitter_s = jitter_s
        self._rng = rng
        self._free_at_s = 0.0
        rate = "unlimited" if rate_mbps is None else f"{rate_mbps:g} Mbps"
        self._clock = SendClock(link_name=f"constant-rate link ({rate})")

    def transmit(self, *, send_time_s: float, num_bytes: int) -> float:
        self._clock.check(send_time_s=send_time_s, num_bytes=num_bytes)
        start = max(send_time_s, self._free_at_s)
        if self._bits_per_s is not None:
            self._free_at_s = start + num_bytes * 8 / self._bits_per_s
        else:
            self._free_at_s = start
        jitter = self._rng.uniform(-self._jitter_s, self._jitter_s) if self._jitter_s else 0.0
        return self._free_at_s + self._delay_s + jitter


class IdealLinkSpec:
    """A link with no delay and unlimited rate: every message arrives when it is sent. The offline
    upper bound uses it to take the network out of the picture."""

    def build(self, *, rng: np.random.Generator) -> IdealLink:
        return IdealLink()

    def __repr__(self) -> str:
        return "IdealLinkSpec()"


class IdealLink:
    """Arrival equals send time; send order is still checked, as on every link."""

    def __init__(self) -> None:
        self._clock = SendClock(link_name="ideal link")

    def transmit(self, *, send_time_s: float, num_bytes: int) -> float:
        self._clock.check(send_time_s=send_time_s, num_bytes=num_bytes)
        return send_time_s
