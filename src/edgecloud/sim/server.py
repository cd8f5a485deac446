"""A batching model server (REACT §3.2, TorchServe-like) driven by the event engine.

Requests wait in one FIFO queue. ``num_workers`` independent workers each run one batch at a
time. A batch of the oldest queued requests (at most ``batch_size``) goes to an idle worker as
soon as the queue holds ``batch_size`` requests, or once the oldest queued request has waited
``max_delay_s`` (``max_delay_s = 0``: whatever is queued goes at once). A batch of ``n`` takes
``profile.latency(batch_size=n)``. A worker that finishes takes the next batch at once if the
rule allows, else idles until an arrival fills a batch or a :class:`BatchTimeout` fires.

Tie rule at equal times (event priorities, lower first): a completion (:class:`BatchDone`, 10)
runs before a request's arrival (scenarios use 20) and both before a timeout
(:class:`BatchTimeout`, 30). A completion first takes whatever batch is already due for the
freed worker; a request arriving at that same instant is seen next, by an idle worker if one
is left (so it can complete a batch with requests that were waiting), else it waits for the
next batch (with ``max_delay_s = 0`` the freed worker has already left with the queue). A
request arriving exactly at another request's deadline joins the batch that the timeout then
dispatches. A timeout carries no state of its own: it only re-applies the dispatch rule, so
one left over for requests dispatched meanwhile does nothing harmful.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from edgecloud.sim.compute import ComputeProfile
from edgecloud.sim.engine import Event


@dataclass(eq=False, slots=True)
class InferenceRequest:
    """One frame to run through the model. The scenario fills the identity and ``payload``
    (anything it needs back in ``on_complete``); the server fills the times (seconds) and the
    size of the batch it ran in. Compared by identity: each object is one request in flight."""

    request_id: int
    device_id: int
    frame_index: int
    payload: object
    arrival_time: float = math.nan
    start_time: float = math.nan
    finish_time: float = math.nan
    batch_size: int = 0


@dataclass(frozen=True)
class ServerStats:
    """What a server did, over the batches that completed: counts, per-worker busy seconds,
    each served request's queue wait (start - arrival) and each batch's service time, both in
    completion order."""

    num_workers: int
    requests_served: int
    batches: int
    busy_time_per_worker: tuple[float, ...]
    queue_waits: tuple[float, ...]
    service_times: tuple[float, ...]

    @property
    def mean_batch_size(self) -> float:
        """Requests per batch; NaN before the first batch completes."""
        return self.requests_served / self.batches if self.batches else math.nan

    def utilisation(self, horizon_s: float) -> float:
        """Fraction of the workers' capacity over ``horizon_s`` seconds spent serving."""
        if not (math.isfinite(horizon_s) and horizon_s > 0):
            raise ValueError(f"horizon_s must be positive and finite, got {horizon_s!r}")
        return sum(self.busy_time_per_worker) / (self.num_workers * horizon_s)


class BatchDone(Event):
    """Worker ``worker`` finishes ``requests``, a batch it started at ``start_time``."""

    __slots__ = ("requests", "server", "start_time", "worker")
    PRIORITY = 10

    def __init__(
        self,
        time: float,
        server: ModelServer,
        worker: int,
        requests: list[InferenceRequest],
        start_time: float,
    ) -> None:
        super().__init__(time)
        self.server = server
        self.worker = worker
        self.requests = requests
        self.start_time = start_time

    def handle(self) -> list[Event]:
        return self.server._finish(self)


class BatchTimeout(Event):
    """The oldest request queued when this was scheduled reaches ``max_delay_s`` of waiting."""

    __slots__ = ("server",)
    PRIORITY = 30

    def __init__(self, time: float, server: ModelServer) -> None:
        super().__init__(time)
        self.server = server

    def handle(self) -> list[Event]:
        return self.server._timeout(self.time)


class ModelServer:
    """The queue and workers of one model server; see the module docstring for the rules.

    ``rng`` draws the batch latencies from ``profile``. ``on_complete`` is called once per
    request of a finished batch (with ``finish_time`` set, in batch order) and may return
    events, which the server hands on to the simulation.
    """

    def __init__(
        self,
        *,
        num_workers: int,
        batch_size: int,
        max_delay_s: float,
        profile: ComputeProfile,
        rng: np.random.Generator,
        on_complete: Callable[[InferenceRequest], Iterable[Event] | None],
    ) -> None:
        for key, value in (("num_workers", num_workers), ("batch_size", batch_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"server {key} must be an integer >= 1, got {value!r}")
        if not (math.isfinite(max_delay_s) and max_delay_s >= 0):
            raise ValueError(f"server max_delay_s must be finite and >= 0, got {max_delay_s!r}")
        profile.require_batch_sizes(batch_size)
        self.num_workers = num_workers
        self.batch_size = batch_size
        self.max_delay_s = float(max_delay_s)
        self.profile = profile
        self.rng = rng
        self.on_complete = on_complete
        self._queue: deque[InferenceRequest] = deque()
        self._idle_workers = list(range(num_workers))  # a heap: the lowest idle index works
        self._pending_timeouts: set[float] = set()
        self._served = 0
        self._batches = 0
        self._busy = [0.0] * num_workers
        self._queue_waits: list[float] = []
        self._service_times: list[float] = []

    def arrive(self, request: InferenceRequest, *, time: float) -> list[Event]:
        """Queue ``request``, which reaches the server at ``time`` (stamped as its
        ``arrival_time``), and return the events this causes."""
        request.arrival_time = time
        self._queue.append(request)
        return self._dispatch(time)

    @property
    def stats(self) -> ServerStats:
        """A snapshot of the statistics of the batches completed so far."""
        return ServerStats(
            num_workers=self.num_workers,
            requests_served=self._served,
            batches=self._batches,
            busy_time_per_worker=tuple(self._busy),
            queue_waits=tuple(self._queue_waits),
            service_times=tuple(self._service_times),
        )

    def _dispatch(self, now: float) -> list[Event]:
        """Start every batch the rule allows on idle workers. If a worker stays idle while
        requests wait (too few, none due yet), make sure a timeout is due at the oldest one's
        deadline; with every worker busy none is needed, as each completion re-applies the
        rule."""
        events: list[Event] = []
        queue = self._queue
        while queue and self._idle_workers:
            if len(queue) < self.batch_size and now < queue[0].arrival_time + self.max_delay_s:
                deadline = queue[0].arrival_time + self.max_delay_s
                if deadline not in self._pending_timeouts:
                    self._pending_timeouts.add(deadline)
                    events.append(BatchTimeout(deadline, self))
                break
            batch = [queue.popleft() for _ in range(min(self.batch_size, len(queue)))]
            worker = heapq.heappop(self._idle_workers)
            latency = self.profile.latency(batch_size=len(batch), rng=self.rng)
            for request in batch:
                request.start_time = now
                request.batch_size = len(batch)
            events.append(BatchDone(now + latency, self, worker, batch, now))
        return events

    def _finish(self, done: BatchDone) -> list[Event]:
        """Record a finished batch, free its worker, refill it, then report each request."""
        service_time = done.time - done.start_time
        self._batches += 1
        self._served += len(done.requests)
        self._busy[done.worker] += service_time
        self._service_times.append(service_time)
        heapq.heappush(self._idle_workers, done.worker)
        events = self._dispatch(done.time)
        for request in done.requests:
            request.finish_time = done.time
            self._queue_waits.append(request.start_time - request.arrival_time)
            follow_ups = self.on_complete(request)
            if follow_ups is not None:
                events.extend(follow_ups)
        return events

    def _timeout(self, now: float) -> list[Event]:
        self._pending_timeouts.discard(now)
        return self._dispatch(now)


class RequestAtServer(Event):
    """A request reaches ``server`` (after crossing the uplink); every scenario sends its
    requests to the model server with this event."""

    __slots__ = ("request", "server")
    PRIORITY = 20

    def __init__(self, time: float, server: ModelServer, request: InferenceRequest) -> None:
        super().__init__(time)
        self.server = server
        self.request = request

    def handle(self) -> list[Event]:
        return self.server.arrive(self.request, time=self.time)
