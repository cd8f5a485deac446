"""One Clownfish edge device as simulator events: Window Manager, a serial worker (Local, or
the relevance model), Filter, uplink, remote model server, downlink, Fusion.

Timing model (times in seconds; a device plays one video, or several back to back):

- **Windows.** Frame ``j`` of a video starting at ``s`` is captured at ``s + j / fps``; window
  ``t`` is *formed* when its newest frame is captured, at ``s + (t * stride + size - 1) / fps``
  (:class:`WindowFormed`).
- **Worker.** One serial worker runs the local model (plus SimiNet for the SimiNet method) on a
  window, or the relevance model for the filtering baseline, for a latency drawn from its
  :class:`~edgecloud.sim.compute.ComputeProfile`. When it is free it takes the *newest* formed
  window it has not taken (a live loop: windows formed while it was busy, except the newest,
  are *skipped* and never classified). With a constant latency ``L`` the worker keeps up
  with every window iff ``L <= stride / fps``, i.e. iff the stride is at least
  ``ceil(fps * L) = ceil(h_s / h_l)`` frames, the paper's lower bound
  ``max(1, ceil(h_s / h_l))`` (section VI-A). A slower worker falls ``L - stride / fps``
  further behind with every window and skips one each time it is a whole window behind; over
  a long video it runs ``1 / L`` windows per second, so the *effective stride* (frames per
  processed window) averages ``max(stride, fps * L)``.
- **Filter.** It decides as soon as it has what it needs: ``periodic`` when the worker takes a
  window (only the window's position among processed windows matters), ``context_aware`` when
  the worker finishes it (it needs ``rho_t``), ``relevance`` when the relevance model finishes;
  cloud-only streams every window when it is formed (there is no worker). Only processed
  windows can be selected (fusion needs their local result), so ``n_w`` counts processed
  windows.
- **Uplink.** A selected window's frames that the cloud has not received are sent as one
  message: their recorded PNG sizes plus ``header_bytes``. The link (any
  :class:`~edgecloud.sim.network.base.LinkSpec`, built once per device) queues FIFO, without
  bound, as the paper's prototype does (a window queue drained by non-blocking calls): when
  the uplink carries less than the Filter selects, lags grow. ``policy.max_in_flight`` (off by
  default, not in the paper) instead drops a selected window while that many requests await
  their results.
- **Cloud.** The request reaches a :class:`~edgecloud.sim.server.ModelServer` (FIFO, its
  latency profile from the recording's ``remote_latency_s`` or a table); the result, ``4 * C``
  bytes of float32 probabilities plus ``result_header_bytes``, comes back over the downlink.
- **Fusion.** Window ``t`` is fused when the worker finishes it (its local result exists then);
  a remote result that reached the edge at or before that moment, and after the previous
  fusion, is used there: its *arrival window* ``a`` is the first processed window fused at or
  after the result's arrival, and its lag is ``a - i`` in processed windows. A result that
  arrives after the video's last fusion is never used (*late*). Fused outputs are computed
  after the run by :func:`~edgecloud.fusion.clownfish.clownfish_fuse_batch` on the processed
  windows with exactly these arrivals and the ``rho`` the device computed, which is what the
  device showed.
- **Display.** The Clownfish methods and edge-only show window ``t`` when the worker finishes
  it; cloud-only shows each window when its result arrives; the filtering baseline shows an
  irrelevant window (as background) when the relevance model finishes it and a relevant one
  when its remote result arrives.

Events at one instant run as: windows formed (0), results reaching the edge (5), server
completions (10), requests reaching the server (20), server timeouts (30), worker completions
(40). So a result that arrives exactly when a window is fused is used in that window.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgecloud.sim.clownfish.inputs import ClownfishSequence
from edgecloud.sim.clownfish.policy import (
    ClownfishPolicy,
    MethodSpec,
    OnlineFilter,
    adjacent_similarity,
    gap_similarity,
)
from edgecloud.sim.compute import ComputeProfile
from edgecloud.sim.engine import Event
from edgecloud.sim.network.base import Link
from edgecloud.sim.server import InferenceRequest, ModelServer, RequestAtServer


class WindowFormed(Event):
    """The newest frame of ``window`` of ``video`` is captured."""

    __slots__ = ("video", "window")
    PRIORITY = 0

    def __init__(self, time: float, video: VideoPlayback, window: int) -> None:
        super().__init__(time)
        self.video = video
        self.window = window

    def handle(self) -> list[Event]:
        return self.video.device.on_formed(self.video, self.window, self.time)


class ResultAtEdge(Event):
    """The remote result of ``window`` of ``video`` reaches the edge."""

    __slots__ = ("video", "window")
    PRIORITY = 5

    def __init__(self, time: float, video: VideoPlayback, window: int) -> None:
        super().__init__(time)
        self.video = video
        self.window = window

    def handle(self) -> None:
        self.video.device.on_result(self.video, self.window, self.time)


class WorkerDone(Event):
    """The edge worker finishes ``window`` of ``video``."""

    __slots__ = ("video", "window")
    PRIORITY = 40

    def __init__(self, time: float, video: VideoPlayback, window: int) -> None:
        super().__init__(time)
        self.video = video
        self.window = window

    def handle(self) -> list[Event]:
        return self.video.device.on_worker_done(self.video, self.window, self.time)


def _nan(count: int) -> np.ndarray:
    return np.full(count, math.nan)


@dataclass(eq=False, kw_only=True)
class VideoPlayback:
    """One video played on a device from ``offset_s``, and what happened to each window
    (``NaN`` / ``-1`` where it did not happen)."""

    device: ClownfishDevice
    sequence: ClownfishSequence
    offset_s: float
    adjacent_rho: np.ndarray | None
    filter: OnlineFilter | None
    formed_s: np.ndarray = field(init=False)
    start_s: np.ndarray = field(init=False)
    done_s: np.ndarray = field(init=False)
    sent_s: np.ndarray = field(init=False)
    server_done_s: np.ndarray = field(init=False)
    arrival_s: np.ndarray = field(init=False)
    displayed_s: np.ndarray = field(init=False)
    bytes_up: np.ndarray = field(init=False)
    new_frames: np.ndarray = field(init=False)
    suppressed: np.ndarray = field(init=False)
    position: np.ndarray = field(init=False)
    arrival_position: np.ndarray = field(init=False)
    processed: list[int] = field(default_factory=list)
    rho: list[float] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    sent_until: int = 0

    def __post_init__(self) -> None:
        count = self.sequence.num_windows
        self.formed_s = self.offset_s + self.sequence.window_formed_s()
        for name in (
            "start_s",
            "done_s",
            "sent_s",
            "server_done_s",
            "arrival_s",
            "displayed_s",
        ):
            setattr(self, name, _nan(count))
        self.bytes_up = np.zeros(count, dtype=np.int64)
        self.new_frames = np.zeros(count, dtype=np.int64)
        self.suppressed = np.zeros(count, dtype=bool)
        self.position = np.full(count, -1, dtype=np.int64)
        self.arrival_position = np.full(count, -1, dtype=np.int64)
        self._frame_cumulative = np.concatenate(
            [[0], np.cumsum(self.sequence.frame_bytes, dtype=np.int64)]
        )

    @property
    def processed_windows(self) -> np.ndarray:
        return np.asarray(self.processed, dtype=np.int64)

    def first_event(self) -> WindowFormed:
        return WindowFormed(float(self.formed_s[0]), self, 0)

    def new_frame_bytes(self, window: int) -> tuple[int, int]:
        """(frames, bytes) of ``window`` not uploaded yet; marks them uploaded."""
        start = int(self.sequence.window_starts[window])
        stop = start + self.sequence.window_size
        first = max(start, self.sent_until)
        self.sent_until = max(self.sent_until, stop)
        return stop - first, int(self._frame_cumulative[stop] - self._frame_cumulative[first])


class ClownfishDevice:
    """The edge device of one simulation unit: its worker, Filter state per video, links and
    the server it talks to (see the module docstring for the rules)."""

    def __init__(
        self,
        *,
        method: MethodSpec,
        policy: ClownfishPolicy,
        worker_profile: ComputeProfile | None,
        uplink: Link | None,
        downlink: Link | None,
        server: ModelServer | None,
        rng: np.random.Generator,
        header_bytes: int,
        result_header_bytes: int,
        next_request_id: Callable[[], int],
    ) -> None:
        if method.worker != "none" and worker_profile is None:
            raise ValueError(f"method {method.name} runs a model on the edge; it needs a profile")
        if method.uses_remote and (uplink is None or downlink is None or server is None):
            raise ValueError(f"method {method.name} uses the cloud; it needs links and a server")
        self.method = method
        self.policy = policy
        self.worker_profile = worker_profile
        self.uplink = uplink
        self.downlink = downlink
        self.server = server
        self.rng = rng
        self.header_bytes = int(header_bytes)
        self.result_header_bytes = int(result_header_bytes)
        self.next_request_id = next_request_id
        self.busy = False
        self.newest: tuple[VideoPlayback, int] | None = None
        self.busy_s = 0.0
        self.in_flight = 0
        self.videos: list[VideoPlayback] = []

    def add_video(self, sequence: ClownfishSequence, *, offset_s: float) -> VideoPlayback:
        """Schedule-ready playback of ``sequence`` from ``offset_s`` on this device."""
        method, policy = self.method, self.policy
        adjacent = None
        if method.worker == "local" and method.similarity is not None:
            adjacent = adjacent_similarity(
                method.similarity,
                local_probs=sequence.local_probs,
                siminet=sequence.similarity,
                window_labels=sequence.window_labels,
                fixed_alpha=policy.fixed_alpha,
            )
        video_filter = None
        if method.sending == "filter":
            video_filter = OnlineFilter(
                kind=policy.filter,
                interval=policy.interval,
                jump=policy.transition_jump,
                direction=policy.transition_direction,
            )
        elif method.sending == "relevant":
            if sequence.relevance is None:
                raise ValueError(
                    f"sequence {sequence.name!r} has no relevance scores; the filtering "
                    "baseline needs them"
                )
            video_filter = OnlineFilter(kind="relevance", cutoff=policy.relevance_cutoff)
        video = VideoPlayback(
            device=self,
            sequence=sequence,
            offset_s=offset_s,
            adjacent_rho=adjacent,
            filter=video_filter,
        )
        self.videos.append(video)
        return video

    # -- events -------------------------------------------------------------------------------

    def on_formed(self, video: VideoPlayback, window: int, now: float) -> list[Event]:
        events: list[Event] = []
        if window + 1 < video.sequence.num_windows:
            events.append(WindowFormed(float(video.formed_s[window + 1]), video, window + 1))
        if self.method.worker == "none":
            if self.method.sending == "all":
                events.extend(self._send(video, window, now))
            return events
        self.newest = (video, window)
        if not self.busy:
            events.extend(self._start(now))
        return events

    def _start(self, now: float) -> list[Event]:
        """The worker takes the newest formed window."""
        assert self.newest is not None
        video, window = self.newest
        self.newest = None
        self.busy = True
        position = len(video.processed)
        video.processed.append(window)
        video.position[window] = position
        video.start_s[window] = now
        latency = self.worker_profile.latency(batch_size=1, rng=self.rng)
        self.busy_s += latency
        events: list[Event] = [WorkerDone(now + latency, video, window)]
        if (
            video.filter is not None
            and video.filter.decides_at_start
            and video.filter.decide(position=position)
        ):
            events.extend(self._send(video, window, now))
        return events

    def on_worker_done(self, video: VideoPlayback, window: int, now: float) -> list[Event]:
        video.done_s[window] = now
        position = int(video.position[window])
        events: list[Event] = []
        if self.method.worker == "local":
            for pending in video.pending:
                video.arrival_position[pending] = position
            video.pending.clear()
            rho = 0.0
            if video.adjacent_rho is not None and position > 0:
                rho = gap_similarity(
                    self.method.similarity,
                    adjacent=video.adjacent_rho,
                    local_probs=video.sequence.local_probs,
                    window_labels=video.sequence.window_labels,
                    previous=video.processed[position - 1],
                    current=window,
                )
            video.rho.append(rho)
            video.displayed_s[window] = now
            if (
                video.filter is not None
                and not video.filter.decides_at_start
                and video.filter.decide(position=position, rho=rho)
            ):
                events.extend(self._send(video, window, now))
        else:  # the filtering baseline's relevance model
            relevance = float(video.sequence.relevance[window])
            if video.filter.decide(position=position, relevance=relevance):
                events.extend(self._send(video, window, now))
            if not math.isfinite(video.sent_s[window]):  # irrelevant, or not sent after all
                video.displayed_s[window] = now
        self.busy = False
        if self.newest is not None:
            events.extend(self._start(now))
        return events

    def _send(self, video: VideoPlayback, window: int, now: float) -> list[Event]:
        """Upload a selected window, unless ``policy.max_in_flight`` requests already await
        their results (then the window is *suppressed*: not sent, its frames stay unsent)."""
        limit = self.policy.max_in_flight
        if limit is not None and self.in_flight >= limit:
            video.suppressed[window] = True
            return []
        self.in_flight += 1
        frames, frame_bytes = video.new_frame_bytes(window)
        size = frame_bytes + self.header_bytes
        video.sent_s[window] = now
        video.bytes_up[window] = size
        video.new_frames[window] = frames
        arrival = self.uplink.transmit(send_time_s=now, num_bytes=size)
        request = InferenceRequest(
            request_id=self.next_request_id(),
            device_id=0,
            frame_index=window,
            payload=(video, window),
        )
        return [RequestAtServer(arrival, self.server, request)]

    def on_served(self, request: InferenceRequest) -> list[Event]:
        """The server finished a window: its result goes down the downlink."""
        video, window = request.payload
        video.server_done_s[window] = request.finish_time
        size = 4 * video.sequence.num_classes + self.result_header_bytes
        arrival = self.downlink.transmit(send_time_s=request.finish_time, num_bytes=size)
        return [ResultAtEdge(arrival, video, window)]

    def on_result(self, video: VideoPlayback, window: int, now: float) -> None:
        self.in_flight -= 1
        video.arrival_s[window] = now
        if self.method.display in ("remote", "relevant_remote"):
            video.displayed_s[window] = now
        elif self.method.fuses:
            video.pending.append(window)
