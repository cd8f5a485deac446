"""Discrete-event core: a heap of events ordered by (time, priority, sequence number).

Time is float64 seconds since the start of the scenario. Every event class declares an explicit
``PRIORITY``: of two events due at the same time the lower priority runs first, and of two with
the same priority the one scheduled first runs first. A handler returns the events it causes;
nothing is global, so any number of simulations can run side by side in one process.
"""

from __future__ import annotations

import heapq
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar


class Event(ABC):
    """Something that happens at ``time``. Subclasses set ``PRIORITY`` and implement
    :meth:`handle`, which may return follow-up events (at ``time`` or later)."""

    __slots__ = ("time",)
    PRIORITY: ClassVar[int] = 0

    def __init__(self, time: float) -> None:
        self.time = time

    @abstractmethod
    def handle(self) -> Iterable[Event] | None:
        """Apply the event to the model; return the events it causes."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(time={self.time!r})"


class SimulationError(RuntimeError):
    """The model tried something impossible, such as scheduling an event in the past."""


class Simulation:
    """Runs events in (time, priority, insertion) order until the queue is empty or ``until``."""

    def __init__(self) -> None:
        self._queue: list[tuple[float, int, int, Event]] = []
        self._sequence = 0
        self._now = 0.0
        self.events_handled = 0

    @property
    def now(self) -> float:
        """Time of the event being handled (or of the last one handled)."""
        return self._now

    def next_time(self) -> float:
        """Time of the next queued event (infinity when none is queued)."""
        return self._queue[0][0] if self._queue else math.inf

    def schedule(self, event: Event) -> None:
        """Queue ``event``; it may not lie before the current time."""
        time = event.time
        if not time >= self._now or math.isnan(time):
            raise SimulationError(f"{event!r} is scheduled before the current time {self._now!r}")
        heapq.heappush(self._queue, (time, event.PRIORITY, self._sequence, event))
        self._sequence += 1

    def schedule_all(self, events: Iterable[Event] | None) -> None:
        if events is not None:
            for event in events:
                self.schedule(event)

    def run(self, *, until: float = math.inf) -> None:
        """Handle events in order; events after ``until`` stay queued."""
        queue = self._queue
        while queue and queue[0][0] <= until:
            time, _, _, event = heapq.heappop(queue)
            self._now = time
            self.events_handled += 1
            follow_ups = event.handle()
            if follow_ups is not None:
                for follow_up in follow_ups:
                    self.schedule(follow_up)

    def __len__(self) -> int:
        """Number of events still queued."""
        return len(self._queue)
