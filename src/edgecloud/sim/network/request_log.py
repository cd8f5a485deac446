"""Replay measured end-to-end response times from a per-request log.

A load test against a real deployment (the REACT paper's Locust benchmark, for instance) measures
each request's whole latency: upload, queueing and inference on the server, download. A
:class:`RequestLogLinkSpec` replays those latencies one request after another, so a scenario
uses it as the uplink, with an ideal downlink and a zero-latency server, and the simulated
response times are the measured ones.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from edgecloud.sim.network.base import SendClock, TraceFormatError

HEADER = ["send_s", "receive_s"]


def read_request_log(path: str | Path) -> np.ndarray:
    """Each logged request's latency, ``receive_s - send_s`` (float64 seconds, read-only), from
    a CSV with header ``send_s,receive_s`` and one request per row."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"request log not found: {path}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise TraceFormatError(f"{path}:{line}: not UTF-8 text ({error.reason})") from None
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows, None)
        if header is None:
            raise TraceFormatError(f"{path}: empty request log; expected header 'send_s,receive_s'")
        if [field.strip() for field in header] != HEADER:
            raise TraceFormatError(
                f"{path}:1: expected header 'send_s,receive_s', got {','.join(header)!r}"
            )
        latencies = [_latency(row, where=f"{path}:{rows.line_num}") for row in rows]
    except csv.Error as error:
        raise TraceFormatError(f"{path}:{rows.line_num}: not valid CSV ({error})") from None
    if not latencies:
        raise TraceFormatError(f"{path}: request log has a header but no requests")
    array = np.array(latencies, dtype=np.float64)
    array.flags.writeable = False
    return array


def _latency(row: list[str], *, where: str) -> float:
    if len(row) != 2:
        raise TraceFormatError(f"{where}: expected 2 fields (send_s,receive_s), got {row!r}")
    values = []
    for name, field in zip(HEADER, row, strict=True):
        try:
            value = float(field)
        except ValueError:
            raise TraceFormatError(f"{where}: {name} is not a number: {field!r}") from None
        if not math.isfinite(value):
            raise TraceFormatError(f"{where}: {name} must be finite, got {field!r}")
        values.append(value)
    send_s, receive_s = values
    if receive_s < send_s:
        raise TraceFormatError(
            f"{where}: receive_s {receive_s!r} is earlier than send_s {send_s!r}"
        )
    return receive_s - send_s


class RequestLogLinkSpec:
    """A link whose ``k``-th message takes the ``k``-th logged request's latency.

    The log is read and checked once, here. Every built link replays it from its first row.
    With ``loop`` it starts over after the last row; without, one message more than the log
    has rows is an error, so a run never silently reuses measurements.
    """

    def __init__(self, *, log_file: str | Path, loop: bool = False) -> None:
        if not isinstance(loop, bool):
            raise ValueError(f"loop must be true or false, got {loop!r}")
        self.log_file = Path(log_file)
        self.latencies_s = read_request_log(self.log_file)
        self.loop = loop

    def build(self, *, rng: np.random.Generator) -> RequestLogLink:
        return RequestLogLink(latencies_s=self.latencies_s, loop=self.loop, name=str(self.log_file))

    def __repr__(self) -> str:
        return (
            f"RequestLogLinkSpec(log_file={str(self.log_file)!r}, "
            f"requests={len(self.latencies_s)}, loop={self.loop})"
        )


class RequestLogLink:
    """Arrival = send time + the next logged latency; ``num_bytes`` is ignored (the measurement
    already includes the transfer). Latencies vary, so arrivals can come out of send order."""

    def __init__(self, *, latencies_s: np.ndarray, loop: bool, name: str) -> None:
        self._latencies_s = latencies_s
        self._loop = loop
        self._name = name
        self._next = 0
        self._clock = SendClock(link_name=f"request log link ({name})")

    def transmit(self, *, send_time_s: float, num_bytes: int) -> float:
        self._clock.check(send_time_s=send_time_s, num_bytes=num_bytes)
        if self._next == len(self._latencies_s):
            if not self._loop:
                raise RuntimeError(
                    f"request log {self._name} has only {len(self._latencies_s)} requests and "
                    "the scenario sent more; log more requests or set loop: true"
                )
            self._next = 0
        latency = float(self._latencies_s[self._next])
        self._next += 1
        return send_time_s + latency
