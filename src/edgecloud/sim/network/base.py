"""What every latency source between an edge device and the cloud looks like to a scenario.

A :class:`LinkSpec` is what a Hydra config instantiates: it validates everything (reads and checks
its trace file) at construction, so a bad trace fails before a simulation starts. A scenario calls
``spec.build(rng=...)`` once per device and direction and gets a :class:`Link` with its own queue
state, so devices never share a queue unless a scenario models that on purpose.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Protocol

import numpy as np


class TraceFormatError(ValueError):
    """A trace or log file that cannot be used; the message names the file, the line where one
    applies, and what is wrong."""


def finite_seconds(name: str, value: object) -> float:
    """``value`` as a float if it is a finite real number >= 0 (a delay or jitter); a ValueError
    naming the parameter otherwise."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0 seconds, got {value!r}")
    return float(value)


class Link(Protocol):
    """One device's link in one direction, with its own queue."""

    def transmit(self, *, send_time_s: float, num_bytes: int) -> float:
        """Arrival time (s) of a message of num_bytes handed to the link at send_time_s. Calls come
        in non-decreasing send_time_s order (raise ValueError otherwise); messages queue FIFO."""
        ...


class LinkSpec(Protocol):
    """A validated link description, shared by every device that uses it."""

    def build(self, *, rng: np.random.Generator) -> Link:
        """A fresh, independent link (its own queue state) for one device/direction."""
        ...


class SendClock:
    """Checks one link's calls: a finite, non-negative send time no earlier than the previous
    one and a non-negative whole number of bytes. Every link keeps one, because queueing
    arithmetic silently goes wrong when messages are handed over out of order."""

    __slots__ = ("last_send_s", "link_name")

    def __init__(self, *, link_name: str) -> None:
        self.link_name = link_name
        self.last_send_s = 0.0

    def check(self, *, send_time_s: float, num_bytes: int) -> None:
        if not (math.isfinite(send_time_s) and send_time_s >= 0):
            raise ValueError(
                f"{self.link_name}: send_time_s must be finite and >= 0, got {send_time_s!r}"
            )
        if send_time_s < self.last_send_s:
            raise ValueError(
                f"{self.link_name}: send_time_s {send_time_s!r} is earlier than the previous "
                f"message's {self.last_send_s!r}; a link takes messages in send order"
            )
        if isinstance(num_bytes, bool) or not isinstance(num_bytes, int | np.integer):
            raise ValueError(f"{self.link_name}: num_bytes must be an integer, got {num_bytes!r}")
        if num_bytes < 0:
            raise ValueError(f"{self.link_name}: num_bytes must be >= 0, got {num_bytes!r}")
        self.last_send_s = send_time_s
