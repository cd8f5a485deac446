"""A link whose rate changes over time: ``tc`` shaping switched on and off during a run.

Clownfish's bandwidth experiment (section VI-E, after AWStream) plays twelve videos while the
uplink is shaped in phases: no shaping (A), 7.5 Mbps (B), 5 Mbps (C), no shaping again (A).
:class:`PiecewiseRateLinkSpec` describes such a schedule as consecutive segments, each with a
name (the phase label a report groups by), a duration and a rate (``None``: unlimited); the
last segment lasts for ever. The link itself is the constant-rate link's FIFO serializer with
the rate integrated over time: a message that is being serialized when the rate changes
continues at the new rate, exactly as bits queued behind a ``tc`` qdisc would. After its last
bit left, a message arrives ``delay_s`` plus uniform jitter in ``[-jitter_s, jitter_s]`` later,
as on :class:`~edgecloud.sim.network.constant.ConstantRateLinkSpec`.

Times are seconds of simulated time since the simulation's start (the schedule is absolute, not
per message).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real

import numpy as np

from edgecloud.sim.network.base import SendClock, finite_seconds


@dataclass(frozen=True)
class RateSegment:
    """One phase of a schedule: ``rate_mbps`` (``None`` = unlimited) for ``duration_s``
    seconds (``None`` = for ever; only the last segment)."""

    name: str
    duration_s: float | None
    rate_mbps: float | None


def _segment(position: int, entry: Mapping | RateSegment, *, last: bool) -> RateSegment:
    """A schedule entry checked: a mapping with ``name``, ``duration_s`` and ``rate_mbps``."""
    where = f"segments[{position}]"
    if isinstance(entry, RateSegment):
        name, duration, rate = entry.name, entry.duration_s, entry.rate_mbps
    elif isinstance(entry, Mapping):
        unknown = sorted(set(entry) - {"name", "duration_s", "rate_mbps"})
        if unknown:
            raise ValueError(f"{where} has unknown keys {unknown}")
        name = entry.get("name", str(position))
        duration = entry.get("duration_s")
        rate = entry.get("rate_mbps")
    else:
        raise ValueError(f"{where} must be a mapping with name, duration_s, rate_mbps")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: name must be a non-empty string, got {name!r}")
    if rate is not None and (
        isinstance(rate, bool)
        or not isinstance(rate, Real)
        or not (math.isfinite(rate) and rate > 0)
    ):
        raise ValueError(f"{where}: rate_mbps must be positive and finite or null, got {rate!r}")
    if last:
        if duration is not None:
            raise ValueError(
                f"{where}: the last segment lasts for ever; its duration_s must be null, "
                f"got {duration!r}"
            )
    elif (
        duration is None
        or isinstance(duration, bool)
        or not isinstance(duration, Real)
        or not (math.isfinite(duration) and duration > 0)
    ):
        raise ValueError(
            f"{where}: duration_s must be a positive number of seconds (only the last segment "
            f"is open-ended), got {duration!r}"
        )
    return RateSegment(
        name=name,
        duration_s=None if duration is None else float(duration),
        rate_mbps=None if rate is None else float(rate),
    )


class PiecewiseRateLinkSpec:
    """A FIFO link whose rate follows ``segments`` (see the module docstring), then a one-way
    ``delay_s`` with uniform jitter up to ``jitter_s`` (which may not exceed the delay)."""

    def __init__(
        self,
        *,
        segments: Sequence[Mapping | RateSegment],
        delay_s: float = 0.0,
        jitter_s: float = 0.0,
    ) -> None:
        if isinstance(segments, str | bytes) or not isinstance(segments, Sequence) or not segments:
            raise ValueError("segments must be a non-empty list of {name, duration_s, rate_mbps}")
        self.segments = tuple(
            _segment(position, entry, last=position == len(segments) - 1)
            for position, entry in enumerate(segments)
        )
        self.delay_s = finite_seconds("delay_s", delay_s)
        self.jitter_s = finite_seconds("jitter_s", jitter_s)
        if self.jitter_s > self.delay_s:
            raise ValueError(
                f"jitter_s ({jitter_s!r}) may not exceed delay_s ({delay_s!r}): a message would "
                "arrive before its last bit was sent"
            )
        starts = [0.0]
        for segment in self.segments[:-1]:
            starts.append(starts[-1] + segment.duration_s)
        self.starts = tuple(starts)

    @property
    def phase_names(self) -> tuple[str, ...]:
        """Distinct segment names in order of first appearance (A, B, C for A/B/C/A)."""
        return tuple(dict.fromkeys(segment.name for segment in self.segments))

    def segment_index(self, time_s: float) -> int:
        """Index of the segment in force at ``time_s`` (a boundary belongs to the later one)."""
        return max(0, bisect.bisect_right(self.starts, time_s) - 1)

    def segment_name(self, time_s: float) -> str:
        """Name of the segment in force at ``time_s``."""
        return self.segments[self.segment_index(time_s)].name

    def with_durations(self, durations_s: Sequence[float]) -> PiecewiseRateLinkSpec:
        """The same rates and names with new durations for every segment but the last (e.g.
        phases aligned with the videos a scenario plays back to back)."""
        if len(durations_s) != len(self.segments) - 1:
            raise ValueError(
                f"{len(self.segments)} segments need {len(self.segments) - 1} durations (the "
                f"last is open-ended), got {len(durations_s)}"
            )
        segments = [
            RateSegment(name=segment.name, duration_s=duration, rate_mbps=segment.rate_mbps)
            for segment, duration in zip(self.segments, [*durations_s, None], strict=True)
        ]
        return PiecewiseRateLinkSpec(
            segments=segments, delay_s=self.delay_s, jitter_s=self.jitter_s
        )

    def build(self, *, rng: np.random.Generator) -> PiecewiseRateLink:
        return PiecewiseRateLink(spec=self, rng=rng)

    def __repr__(self) -> str:
        phases = ", ".join(
            f"{s.name}:{'unlimited' if s.rate_mbps is None else f'{s.rate_mbps:g} Mbps'}"
            f"{'' if s.duration_s is None else f' for {s.duration_s:g} s'}"
            for s in self.segments
        )
        return (
            f"PiecewiseRateLinkSpec([{phases}], delay_s={self.delay_s!r}, "
            f"jitter_s={self.jitter_s!r})"
        )


class PiecewiseRateLink:
    """One device's queue on a :class:`PiecewiseRateLinkSpec`: a message starts serializing
    when it is handed over or when the previous one is done, whichever is later, and its bits
    drain at the rate of whichever segments that time spans."""

    def __init__(self, *, spec: PiecewiseRateLinkSpec, rng: np.random.Generator) -> None:
        self._starts = spec.starts
        self._bits_per_s = tuple(
            None if s.rate_mbps is None else s.rate_mbps * 1e6 for s in spec.segments
        )
        self._spec = spec
        self._delay_s = spec.delay_s
        self._jitter_s = spec.jitter_s
        self._rng = rng
        self._free_at_s = 0.0
        self._clock = SendClock(link_name="piecewise-rate link")

    def serialized_at(self, *, start_s: float, num_bits: float) -> float:
        """When ``num_bits`` handed to an idle serializer at ``start_s`` have all left."""
        index = self._spec.segment_index(start_s)
        now = start_s
        remaining = float(num_bits)
        while True:
            rate = self._bits_per_s[index]
            if rate is None or remaining <= 0.0:
                return now
            end = self._starts[index + 1] if index + 1 < len(self._starts) else math.inf
            capacity = (end - now) * rate
            if remaining <= capacity:
                return now + remaining / rate
            remaining -= capacity
            now = end
            index += 1

    def transmit(self, *, send_time_s: float, num_bytes: int) -> float:
        self._clock.check(send_time_s=send_time_s, num_bytes=num_bytes)
        start = max(send_time_s, self._free_at_s)
        self._free_at_s = self.serialized_at(start_s=start, num_bits=8 * int(num_bytes))
        jitter = self._rng.uniform(-self._jitter_s, self._jitter_s) if self._jitter_s else 0.0
        return self._free_at_s + self._delay_s + jitter
