"""Mahimahi packet-delivery traces (Netravali et al., USENIX ATC 2015) as simulator links.

A trace file holds one integer millisecond per line. Each line is one opportunity to deliver one
packet of ``packet_bytes`` (an MTU, 1500 bytes, in the published traces); a timestamp repeated on
several lines is several packets in that millisecond. The trace loops, as ``mm-link`` does, with
period equal to its last timestamp: opportunity ``j`` of a trace of ``L`` lines lies at
``trace[j % L] + (j // L) * trace[-1]`` ms. Files are validated the way ``mm-link`` validates
them: every line a non-negative integer, non-decreasing, at least one line, a nonzero last value.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from edgecloud.sim.network.base import SendClock, TraceFormatError, finite_seconds

MTU_BYTES = 1500
# int64 holds every 18-digit number; a longer "millisecond" is a corrupt file, not a trace.
_MAX_DIGITS = 18
_TOO_MANY_DIGITS = re.compile(rb"[0-9]{%d}" % (_MAX_DIGITS + 1))
_SHOWN_CHARS = 40


def read_mahimahi_trace(path: str | Path) -> np.ndarray:
    """The trace's timestamps (int64 milliseconds, read-only), after checking the whole file.

    Well-formed files (digits and newlines only) are parsed by numpy in one call; anything else
    is scanned line by line, which also finds the line to blame. Surrounding whitespace on a
    line (such as the ``\\r`` of a CRLF file) is allowed; an empty line is not, as in mm-link.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trace file not found: {path}")
    data = path.read_bytes()
    if not data:
        raise TraceFormatError(f"{path}: empty trace; expected one integer millisecond per line")
    if _is_plain(data):
        timestamps = np.fromstring(data, dtype=np.int64, sep="\n")
    else:
        timestamps = _scan_lines(path, data)
    decreasing = np.flatnonzero(np.diff(timestamps) < 0)
    if decreasing.size:
        line = int(decreasing[0]) + 2
        raise TraceFormatError(
            f"{path}:{line}: timestamp {timestamps[line - 1]} is smaller than the previous "
            f"line's {timestamps[line - 2]}; timestamps must be non-decreasing"
        )
    if timestamps[-1] == 0:
        raise TraceFormatError(
            f"{path}:{timestamps.size}: the last timestamp is 0; a trace must last a nonzero "
            "time (its last timestamp is the period it loops with)"
        )
    timestamps.flags.writeable = False
    return timestamps


def _is_plain(data: bytes) -> bool:
    """Only digits and newlines, no empty line, no over-long number: numpy parses it exactly."""
    return (
        not data.translate(None, b"0123456789\n")
        and not data.startswith(b"\n")
        and b"\n\n" not in data
        and _TOO_MANY_DIGITS.search(data) is None
    )


def _scan_lines(path: Path, data: bytes) -> np.ndarray:
    lines = data.split(b"\n")
    if lines[-1] == b"":  # the newline ending the last line starts no new line
        lines.pop()
    values = []
    for number, raw in enumerate(lines, start=1):
        token = raw.strip()
        if not (token.isdigit() and len(token) <= _MAX_DIGITS):
            shown = raw.decode("utf-8", "backslashreplace")
            if len(shown) > _SHOWN_CHARS:
                shown = shown[:_SHOWN_CHARS] + "..."
            detail = f" (more than {_MAX_DIGITS} digits)" if token.isdigit() else ""
            raise TraceFormatError(
                f"{path}:{number}: expected a non-negative integer millisecond, "
                f"got {shown!r}{detail}"
            )
        values.append(int(token))
    return np.array(values, dtype=np.int64)


def mean_capacity_mbps(timestamps_ms: np.ndarray, *, packet_bytes: int = MTU_BYTES) -> float:
    """Long-run capacity of a looping trace: all its packets once per period (its last
    timestamp), in megabits per second."""
    return len(timestamps_ms) * packet_bytes * 8 / (int(timestamps_ms[-1]) / 1000) / 1e6


class MahimahiLinkSpec:
    """A link replaying a Mahimahi trace; the file is read and checked once, here.

    ``propagation_delay_s`` is added to every message after its last packet is delivered (the
    traces hold capacity only, mm-delay adds the delay). ``random_start`` starts each built link
    at a uniformly random whole millisecond of the trace period, drawn from its rng, so devices
    replaying the same trace do not see the same fades at the same moments.
    """

    def __init__(
        self,
        *,
        trace_file: str | Path,
        propagation_delay_s: float = 0.0,
        packet_bytes: int = MTU_BYTES,
        random_start: bool = False,
    ) -> None:
        if isinstance(packet_bytes, bool) or not isinstance(packet_bytes, int) or packet_bytes < 1:
            raise ValueError(f"packet_bytes must be a positive integer, got {packet_bytes!r}")
        if not isinstance(random_start, bool):
            raise ValueError(f"random_start must be true or false, got {random_start!r}")
        self.propagation_delay_s = finite_seconds("propagation_delay_s", propagation_delay_s)
        self.trace_file = Path(trace_file)
        self.timestamps_ms = read_mahimahi_trace(self.trace_file)
        self.packet_bytes = packet_bytes
        self.random_start = random_start

    @property
    def mean_capacity_mbps(self) -> float:
        return mean_capacity_mbps(self.timestamps_ms, packet_bytes=self.packet_bytes)

    def build(self, *, rng: np.random.Generator) -> MahimahiLink:
        period_ms = int(self.timestamps_ms[-1])
        start_ms = int(rng.integers(0, period_ms)) if self.random_start else 0
        return MahimahiLink(
            timestamps_ms=self.timestamps_ms,
            start_ms=start_ms,
            propagation_delay_s=self.propagation_delay_s,
            packet_bytes=self.packet_bytes,
            name=self.trace_file.name,
        )

    def __repr__(self) -> str:
        return (
            f"MahimahiLinkSpec(trace_file={str(self.trace_file)!r}, "
            f"mean_capacity_mbps={self.mean_capacity_mbps:.2f}, "
            f"propagation_delay_s={self.propagation_delay_s!r}, "
            f"packet_bytes={self.packet_bytes}, random_start={self.random_start})"
        )


class MahimahiLink:
    """One device's queue on a looping trace.

    Packets leave in FIFO order, one per delivery opportunity; an opportunity nobody was queued
    for is lost, as in mm-link. A message of ``n`` bytes is ``max(1, ceil(n / packet_bytes))``
    packets, all handed over at the send time, and arrives with its last packet. A packet handed
    over at ``t`` seconds may use an unused opportunity at trace millisecond ``T`` iff
    ``T / 1000 >= t`` in float64 (the quotient correctly rounded, no tolerance), so a send at
    exactly 0.007 s can use the 7 ms opportunity. The link starts at trace millisecond
    ``start_ms``: trace time ``T`` is link time ``T - start_ms``. Each call costs one binary
    search, whatever the message size.

    mm-link accounts in bytes, so a partly used opportunity can still carry the start of the
    next queued packet; here a message's last opportunity is not shared with the next message,
    which costs at most one opportunity per message.
    """

    def __init__(
        self,
        *,
        timestamps_ms: np.ndarray,
        start_ms: int,
        propagation_delay_s: float,
        packet_bytes: int,
        name: str,
    ) -> None:
        self._trace = timestamps_ms
        self._period_ms = int(timestamps_ms[-1])
        self._start_ms = start_ms
        self._propagation_delay_s = propagation_delay_s
        self._packet_bytes = packet_bytes
        # global index (over the looped trace) of the first opportunity not yet passed by
        self._next_opportunity = 0
        self._clock = SendClock(link_name=f"Mahimahi link ({name})")

    def transmit(self, *, send_time_s: float, num_bytes: int) -> float:
        self._clock.check(send_time_s=send_time_s, num_bytes=num_bytes)
        num_packets = max(1, -(-num_bytes // self._packet_bytes))
        first = max(self._next_opportunity, self._first_opportunity_at(send_time_s))
        last = first + num_packets - 1
        self._next_opportunity = last + 1
        return (self._opportunity_ms(last) - self._start_ms) / 1000 + self._propagation_delay_s

    def _first_opportunity_at(self, time_s: float) -> int:
        """Global index of the first opportunity a packet handed over at ``time_s`` may use."""
        ms = math.ceil(time_s * 1000)  # the product may be off by one ulp; settle it exactly
        if (ms - 1) / 1000 >= time_s:
            ms -= 1
        elif ms / 1000 < time_s:
            ms += 1
        trace_ms = ms + self._start_ms
        # the first loop whose last opportunity, at (loop + 1) * period, is not before trace_ms
        loop = max(0, (trace_ms - 1) // self._period_ms)
        offset = trace_ms - loop * self._period_ms
        return loop * len(self._trace) + int(np.searchsorted(self._trace, offset, side="left"))

    def _opportunity_ms(self, index: int) -> int:
        loop, position = divmod(index, len(self._trace))
        return int(self._trace[position]) + loop * self._period_ms
