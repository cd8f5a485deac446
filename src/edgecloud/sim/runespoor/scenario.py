"""Runespoor's edge-cloud loop in the event engine (§III-B, Fig. 5, the Fig. 12 experiment).

The camera captures frame ``n`` at ``n / fps``. The edge asks its controller for a
configuration, given the bandwidth estimate, and sends the frame's recorded JPEG bytes (plus
a header) over the uplink; the server, one FIFO worker, restores and segments it (the
recorded latencies of that configuration and frame, or a compute profile) and sends back a
small response carrying the tail-frame signal: the small-region ratio of its prediction below
the fitted threshold. When the response arrives the controller takes the signal, so frames
captured *after* that instant are affected. Methods:

- ``standard``: the offline policy for the bandwidth only (ASR without CAC).
- ``runespoor``: CAC, :class:`~edgecloud.control.controller.TailAwareController`.
- ``awstream``: :class:`~edgecloud.control.online_profiling.OnlineProfilingController`; a
  profiling round sends the frame once more in every configuration (their recorded bytes,
  behind the frame on the uplink) and costs the server every configuration's latency. AWStream
  sends raw frames as the reference; the recording has no raw size, so this extra traffic is a
  lower bound.

Bandwidth estimate (:mod:`~edgecloud.sim.runespoor.bandwidth`, ``bandwidth_estimator``): how
AWStream or Runespoor measure bandwidth is outside what the paper compares, so every method
gets the same kind of estimator. ``configured`` is the uplink's configured rate as it was
``estimate_delay_s`` earlier (a constant or piecewise-rate uplink only; an unlimited rate
counts as ``unlimited_mbps``), the same for every method. ``throughput`` is the harmonic mean
of the goodput of the method's own last ``estimate_window`` uplink messages (frames and
profiling rounds), learnt from their responses, with the known propagation delay
``uplink_delay_s`` taken off, ``initial_estimate_mbps`` before the first: any uplink, and each
method measures its own sends, so their estimates differ.

Event order at one instant: responses (priority 10) before captures (20). Everything is
deterministic given the seed (link jitter and profile draws).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from edgecloud.control.controller import TailAwareController
from edgecloud.control.online_profiling import OnlineProfilingController
from edgecloud.control.profiling import KnobProfile, choose_policy
from edgecloud.sim.compute import ComputeProfile
from edgecloud.sim.engine import Event, Simulation
from edgecloud.sim.network.base import Link, LinkSpec
from edgecloud.sim.runespoor.bandwidth import (
    ESTIMATORS,
    BandwidthEstimator,
    ConfiguredRate,
    HarmonicThroughput,
)
from edgecloud.sim.runespoor.replay import FrameStream

METHODS = ("standard", "runespoor", "awstream")
Method = Literal["standard", "runespoor", "awstream"]


@dataclass(frozen=True, kw_only=True)
class EdgeSettings:
    """The edge's and the server's fixed parameters (module docstring)."""

    tail_threshold: float
    header_bytes: int = 64
    response_bytes: int = 64
    bandwidth_estimator: Literal["configured", "throughput"] = "configured"
    estimate_delay_s: float = 0.5
    unlimited_mbps: float = 1000.0
    estimate_window: int = 5
    initial_estimate_mbps: float = 0.5
    uplink_delay_s: float = 0.0
    profiling_period_s: float = 10.0
    encode_s: float = 0.0

    def __post_init__(self) -> None:
        if self.bandwidth_estimator not in ESTIMATORS:
            raise ValueError(
                f"bandwidth_estimator must be one of {ESTIMATORS}, got {self.bandwidth_estimator!r}"
            )
        for name in ("header_bytes", "response_bytes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("estimate_delay_s", "uplink_delay_s", "encode_s"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be >= 0 seconds, got {getattr(self, name)!r}")
        if not self.unlimited_mbps > 0 or not self.profiling_period_s > 0:
            raise ValueError("unlimited_mbps and profiling_period_s must be positive")
        window = self.estimate_window
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"estimate_window must be a positive integer, got {window!r}")
        if not (math.isfinite(self.initial_estimate_mbps) and self.initial_estimate_mbps > 0):
            raise ValueError(
                f"initial_estimate_mbps must be positive, got {self.initial_estimate_mbps!r}"
            )

    def estimator(self, *, uplink_spec: LinkSpec) -> BandwidthEstimator:
        """A fresh estimator of the configured kind for one edge sending over ``uplink_spec``."""
        if self.bandwidth_estimator == "configured":
            return ConfiguredRate(
                spec=uplink_spec, delay_s=self.estimate_delay_s, unlimited_mbps=self.unlimited_mbps
            )
        return HarmonicThroughput(
            window=self.estimate_window,
            initial_bps=self.initial_estimate_mbps * 1e6,
            uplink_delay_s=self.uplink_delay_s,
        )


@dataclass
class FrameLog:
    """Per-frame outcome arrays (NaN / -1 until set), filled as the simulation runs."""

    num_frames: int
    knob: np.ndarray = field(init=False)
    bandwidth_bps: np.ndarray = field(init=False)
    # the standard and tail configurations of the offline policy for the frame's estimate
    policy_standard: np.ndarray = field(init=False)
    policy_tail: np.ndarray = field(init=False)
    in_tail: np.ndarray = field(init=False)
    sent_bytes: np.ndarray = field(init=False)
    uplink_arrival_s: np.ndarray = field(init=False)
    server_start_s: np.ndarray = field(init=False)
    server_finish_s: np.ndarray = field(init=False)
    response_s: np.ndarray = field(init=False)
    tail_signal: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = self.num_frames
        self.knob = np.full(n, -1, dtype=np.int64)
        self.bandwidth_bps = np.full(n, math.nan)
        self.policy_standard = np.full(n, -1, dtype=np.int64)
        self.policy_tail = np.full(n, -1, dtype=np.int64)
        self.in_tail = np.zeros(n, dtype=bool)
        self.sent_bytes = np.zeros(n, dtype=np.int64)
        self.uplink_arrival_s = np.full(n, math.nan)
        self.server_start_s = np.full(n, math.nan)
        self.server_finish_s = np.full(n, math.nan)
        self.response_s = np.full(n, math.nan)
        self.tail_signal = np.zeros(n, dtype=bool)


@dataclass(frozen=True)
class ProfilingRound:
    """One AWStream profiling round: its frame, bytes sent, when its result arrived and the
    configuration it chose."""

    frame: int
    sent_bytes: int
    sent_s: float
    result_s: float
    chosen: int


@dataclass(frozen=True)
class RunespoorRun:
    """What one method did on one stream."""

    method: str
    stream: FrameStream
    frames: FrameLog
    profiling_rounds: tuple[ProfilingRound, ...]
    tail_threshold: float


class RunespoorDevice:
    """One edge camera, its links and the server (module docstring)."""

    def __init__(
        self,
        *,
        method: Method,
        stream: FrameStream,
        profiles: list[KnobProfile],
        settings: EdgeSettings,
        uplink_spec: LinkSpec,
        downlink_spec: LinkSpec,
        server_profile: ComputeProfile | None,
        rng: np.random.Generator,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        self.stream = stream
        self.profiles = profiles
        self.settings = settings
        self.estimator = settings.estimator(uplink_spec=uplink_spec)
        uplink_rng, downlink_rng, server_rng = rng.spawn(3)
        self.uplink: Link = uplink_spec.build(rng=uplink_rng)
        self.downlink: Link = downlink_spec.build(rng=downlink_rng)
        self.server_profile = server_profile
        self.server_rng = server_rng
        self.server_free_s = 0.0
        self.knob_index = {knobs: k for k, knobs in enumerate(stream.knobs)}
        if method == "awstream":
            self.controller: TailAwareController | OnlineProfilingController = (
                OnlineProfilingController(
                    profiles, fps=stream.fps, period_s=settings.profiling_period_s
                )
            )
        else:
            self.controller = TailAwareController(
                profiles, fps=stream.fps, tail_aware=method == "runespoor"
            )
        self.log = FrameLog(stream.num_frames)
        self.rounds: list[ProfilingRound] = []

    def bandwidth_bps(self, time_s: float) -> float:
        return self.estimator.estimate_bps(time_s)

    def _serve(self, *, arrival_s: float, latency_s: float) -> tuple[float, float]:
        """Start and finish of a job on the FIFO server."""
        start = max(arrival_s, self.server_free_s)
        self.server_free_s = start + latency_s
        return start, self.server_free_s

    def _server_latency(self, k: int, frame: int) -> float:
        if self.server_profile is not None:
            return self.server_profile.latency(batch_size=1, rng=self.server_rng)
        arrays = self.stream.arrays
        return float(arrays["restore_latency_s"][k, frame] + arrays["segment_latency_s"][k, frame])

    def capture(self, frame: int) -> list[Event]:
        """Send frame ``frame`` with the controller's configuration (and, for AWStream, a
        profiling round when one is due); returns the response events."""
        now = self.stream.capture_time(frame)
        bandwidth = self.bandwidth_bps(now)
        k = self.knob_index[self.controller.knobs(bandwidth_bps=bandwidth)]
        arrays, log = self.stream.arrays, self.log
        log.knob[frame], log.bandwidth_bps[frame] = k, bandwidth
        policy = choose_policy(self.profiles, bandwidth_bps=bandwidth, fps=self.stream.fps)
        log.policy_standard[frame] = self.knob_index[policy.standard]
        log.policy_tail[frame] = self.knob_index[policy.tail]
        log.in_tail[frame] = getattr(self.controller, "in_tail", False)
        send_s = now + self.settings.encode_s
        log.sent_bytes[frame] = int(arrays["frame_bytes"][k, frame]) + self.settings.header_bytes
        arrival = self.uplink.transmit(send_time_s=send_s, num_bytes=int(log.sent_bytes[frame]))
        log.uplink_arrival_s[frame] = arrival
        start, finish = self._serve(arrival_s=arrival, latency_s=self._server_latency(k, frame))
        log.server_start_s[frame], log.server_finish_s[frame] = start, finish
        response = self.downlink.transmit(
            send_time_s=finish, num_bytes=self.settings.response_bytes
        )
        log.response_s[frame] = response
        self.estimator.observe(
            sent_s=send_s,
            delivered_s=arrival,
            num_bytes=int(log.sent_bytes[frame]),
            feedback_s=response,
        )
        tail = bool(arrays["small_ratio"][k, frame] < self.settings.tail_threshold)
        log.tail_signal[frame] = tail
        events: list[Event] = [ResponseArrives(response, self, frame=frame, tail_signal=tail)]
        if isinstance(self.controller, OnlineProfilingController) and (
            self.controller.start_round(time_s=now)
        ):
            events.append(self._profiling_round(frame, send_s=send_s, bandwidth_bps=bandwidth))
        return events

    def _profiling_round(self, frame: int, *, send_s: float, bandwidth_bps: float) -> Event:
        """Send ``frame`` in every configuration behind it; the server runs them all."""
        arrays = self.stream.arrays
        num_bytes = int(arrays["frame_bytes"][:, frame].sum()) + self.settings.header_bytes
        arrival = self.uplink.transmit(send_time_s=send_s, num_bytes=num_bytes)
        latency = sum(self._server_latency(k, frame) for k in range(len(self.stream.knobs)))
        _, finish = self._serve(arrival_s=arrival, latency_s=latency)
        result = self.downlink.transmit(send_time_s=finish, num_bytes=self.settings.response_bytes)
        self.estimator.observe(
            sent_s=send_s, delivered_s=arrival, num_bytes=num_bytes, feedback_s=result
        )
        return RoundResultArrives(
            result, self, frame=frame, sent_bytes=num_bytes, sent_s=send_s, bandwidth=bandwidth_bps
        )

    def result(self) -> RunespoorRun:
        return RunespoorRun(
            method=self.method,
            stream=self.stream,
            frames=self.log,
            profiling_rounds=tuple(self.rounds),
            tail_threshold=self.settings.tail_threshold,
        )


class FrameCaptured(Event):
    """The camera captures a frame; the next capture follows one frame period later."""

    __slots__ = ("device", "frame")
    PRIORITY: ClassVar[int] = 20

    def __init__(self, time: float, device: RunespoorDevice, *, frame: int) -> None:
        super().__init__(time)
        self.device, self.frame = device, frame

    def handle(self) -> list[Event]:
        events = self.device.capture(self.frame)
        following = self.frame + 1
        if following < self.device.stream.num_frames:
            capture_s = self.device.stream.capture_time(following)
            events.append(FrameCaptured(capture_s, self.device, frame=following))
        return events


class ResponseArrives(Event):
    """A frame's result reaches the edge with its tail-frame signal."""

    __slots__ = ("device", "frame", "tail_signal")
    PRIORITY: ClassVar[int] = 10

    def __init__(
        self, time: float, device: RunespoorDevice, *, frame: int, tail_signal: bool
    ) -> None:
        super().__init__(time)
        self.device, self.frame, self.tail_signal = device, frame, tail_signal

    def handle(self) -> None:
        controller = self.device.controller
        if isinstance(controller, TailAwareController):
            controller.observe(tail_frame=self.tail_signal)


class RoundResultArrives(Event):
    """An AWStream profiling round's result reaches the edge: every configuration's accuracy
    on the profiled frame."""

    __slots__ = ("bandwidth", "device", "frame", "sent_bytes", "sent_s")
    PRIORITY: ClassVar[int] = 10

    def __init__(
        self,
        time: float,
        device: RunespoorDevice,
        *,
        frame: int,
        sent_bytes: int,
        sent_s: float,
        bandwidth: float,
    ) -> None:
        super().__init__(time)
        self.device, self.frame = device, frame
        self.sent_bytes, self.sent_s, self.bandwidth = sent_bytes, sent_s, bandwidth

    def handle(self) -> None:
        device = self.device
        accuracy = device.stream.arrays["frame_miou"][:, self.frame]
        chosen = device.controller.observe_round(
            bandwidth_bps=device.bandwidth_bps(self.time),
            frame_accuracy={knobs: float(accuracy[k]) for knobs, k in device.knob_index.items()},
        )
        device.rounds.append(
            ProfilingRound(
                frame=self.frame,
                sent_bytes=self.sent_bytes,
                sent_s=self.sent_s,
                result_s=self.time,
                chosen=device.knob_index[chosen],
            )
        )


def simulate_method(
    *,
    method: Method,
    stream: FrameStream,
    profiles: list[KnobProfile],
    settings: EdgeSettings,
    uplink_spec: LinkSpec,
    downlink_spec: LinkSpec,
    server_profile: ComputeProfile | None,
    seed: int,
) -> RunespoorRun:
    """Run one method over the whole stream (its own links, server and generators)."""
    device = RunespoorDevice(
        method=method,
        stream=stream,
        profiles=profiles,
        settings=settings,
        uplink_spec=uplink_spec,
        downlink_spec=downlink_spec,
        server_profile=server_profile,
        rng=np.random.default_rng(np.random.SeedSequence(seed)),
    )
    simulation = Simulation()
    simulation.schedule(FrameCaptured(0.0, device, frame=0))
    simulation.run()
    return device.result()
