"""Build Clownfish devices from replay inputs, run them through the engine, or run the
idealised grid or the similarity traces.

Three modes (``scenario.mode``):

- ``timed``: the event simulation of :mod:`edgecloud.sim.clownfish.device`. Layout
  ``isolated`` replays each video as its own simulation (one device, its own links and
  server, starting at time 0); ``back_to_back`` plays every video on one device, video ``k``
  starting ``gap_s`` after video ``k - 1``'s last frame was due, with links, server and worker
  carried over (queues included), as the paper's bandwidth experiment does. With
  ``videos_per_phase`` the uplink must be a :class:`~edgecloud.sim.network.piecewise.
  PiecewiseRateLinkSpec`; its segments are re-timed to last ``videos_per_phase`` videos each
  (the paper: three videos per phase A, B, C, A).
- ``ideal``: Fig. 7's grid with a fixed lag (:mod:`edgecloud.sim.clownfish.ideal`).
- ``traces``: Fig. 8's similarity scores around context transitions
  (:mod:`edgecloud.sim.clownfish.traces`).

Randomness: one ``SeedSequence(seed)``, spawned per simulation unit, then per unit into the
uplink, downlink, worker and server generators.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from edgecloud.sim.clownfish.device import ClownfishDevice, VideoPlayback
from edgecloud.sim.clownfish.inputs import ClownfishSequence, check_same_geometry
from edgecloud.sim.clownfish.policy import ClownfishPolicy, MethodSpec, method_spec
from edgecloud.sim.compute import ComputeProfile
from edgecloud.sim.engine import Simulation
from edgecloud.sim.network.base import LinkSpec
from edgecloud.sim.server import ModelServer, ServerStats

MODES = ("timed", "ideal", "traces")


@dataclass(frozen=True, kw_only=True)
class Layout:
    """How the videos are played in timed mode (module docstring)."""

    mode: Literal["isolated", "back_to_back"] = "isolated"
    gap_s: float = 0.0
    videos_per_phase: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("isolated", "back_to_back"):
            raise ValueError(f"layout.mode must be 'isolated' or 'back_to_back', got {self.mode!r}")
        if not (math.isfinite(self.gap_s) and self.gap_s >= 0):
            raise ValueError(f"layout.gap_s must be >= 0, got {self.gap_s!r}")
        if self.videos_per_phase is not None:
            if (
                isinstance(self.videos_per_phase, bool)
                or not isinstance(self.videos_per_phase, int)
                or self.videos_per_phase < 1
            ):
                raise ValueError(
                    "layout.videos_per_phase must be a positive integer or null, "
                    f"got {self.videos_per_phase!r}"
                )
            if self.mode != "back_to_back":
                raise ValueError("layout.videos_per_phase needs layout.mode=back_to_back")


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    num_workers: int = 1
    batch_size: int = 1
    max_delay_s: float = 0.0


@dataclass(frozen=True)
class Phase:
    """A named stretch of simulated time (a segment of a piecewise uplink)."""

    name: str
    start_s: float
    end_s: float


@dataclass
class TimedUnit:
    """One finished simulation: its device (with per-window timelines) and server."""

    device: ClownfishDevice
    videos: list[VideoPlayback]
    server: ServerStats | None
    horizon_s: float
    timeline_offset_s: float


class ClownfishScenario:
    """Everything fixed by the config; :meth:`run_timed` replays it for a seed."""

    def __init__(
        self,
        *,
        sequences: Sequence[ClownfishSequence],
        mode: str,
        method: str,
        policy: ClownfishPolicy,
        layout: Layout,
        uplink: LinkSpec | None,
        downlink: LinkSpec | None,
        server: ServerSettings,
        worker_profile: ComputeProfile | None,
        server_profile: ComputeProfile | None,
        relevance_profile: ComputeProfile | None,
        profile_mode: Literal["sample", "mean"] = "sample",
        header_bytes: int = 64,
        result_header_bytes: int = 32,
        class_offset: int = 1,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"scenario.mode must be one of {MODES}, got {mode!r}")
        self.sequences = list(sequences)
        check_same_geometry(self.sequences)
        self.mode = mode
        self.method: MethodSpec = method_spec(method)
        self.policy = policy
        self.layout = layout
        for name, value in (
            ("header_bytes", header_bytes),
            ("result_header_bytes", result_header_bytes),
            ("class_offset", class_offset),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"scenario.{name} must be an integer >= 0, got {value!r}")
        self.header_bytes = header_bytes
        self.result_header_bytes = result_header_bytes
        self.class_offset = class_offset
        self.server = server
        self.uplink = uplink
        self.downlink = downlink
        if mode != "timed":
            self.worker_profile = self.server_profile = None
            return
        if isinstance(uplink, Sequence):
            raise ValueError("a Clownfish replay has one device: give network.uplink as one link")
        if self.method.uses_remote and (uplink is None or downlink is None):
            raise ValueError(f"method {self.method.name} uses the cloud; configure a network")
        if self.method.runs_siminet and any(s.similarity is None for s in self.sequences):
            raise ValueError(
                "the recording has no SimiNet scores; clownfish_siminet needs them (the "
                "cosine, fixma and optsim methods do not)"
            )
        if self.method.sending == "relevant" and any(s.relevance is None for s in self.sequences):
            missing = [s.name for s in self.sequences if s.relevance is None]
            raise ValueError(f"the filtering baseline needs relevance scores; {missing} lack them")
        self.worker_profile = self._worker_profile(worker_profile, relevance_profile, profile_mode)
        self.server_profile = server_profile or ComputeProfile(
            name="remote model (recorded)",
            samples={1: np.concatenate([s.remote_latency_s for s in self.sequences])},
            mode=profile_mode,
        )
        if self.method.uses_remote:
            self.server_profile.require_batch_sizes(server.batch_size)
        self.phases_by_unit = self._phases()

    def _worker_profile(
        self,
        configured: ComputeProfile | None,
        relevance: ComputeProfile | None,
        mode: Literal["sample", "mean"],
    ) -> ComputeProfile | None:
        """The edge worker's latency: for the filtering baseline the configured relevance
        profile or else the recording's ``relevance_latency_s``; for the others the configured
        table, else the recording's per-window local latency (plus SimiNet's for the SimiNet
        method, summed window by window)."""
        worker = self.method.worker
        if worker == "none":
            return None
        if worker == "relevance":
            if relevance is not None:
                return relevance
            if any(s.relevance_latency_s is None for s in self.sequences):
                raise ValueError(
                    "the filtering baseline needs the relevance model's latency: the recording "
                    "has none, so set scenario.relevance_profile (e.g. the paper's 148 ms)"
                )
            return ComputeProfile(
                name="relevance model (recorded)",
                samples={1: np.concatenate([s.relevance_latency_s for s in self.sequences])},
                mode=mode,
            )
        if configured is not None:
            return configured
        latency = [s.local_latency_s for s in self.sequences]
        name = "local model (recorded)"
        if self.method.runs_siminet:
            if any(s.siminet_latency_s is None for s in self.sequences):
                raise ValueError("the recording has no SimiNet; clownfish_siminet needs it")
            latency = [s.local_latency_s + s.siminet_latency_s for s in self.sequences]
            name = "local model + SimiNet (recorded)"
        return ComputeProfile(name=name, samples={1: np.concatenate(latency)}, mode=mode)

    # -- layout -------------------------------------------------------------------------------

    def units(self) -> list[list[tuple[ClownfishSequence, float]]]:
        """The simulation units: lists of (video, start time)."""
        if self.layout.mode == "isolated":
            return [[(sequence, 0.0)] for sequence in self.sequences]
        starts = [0.0]
        for sequence in self.sequences[:-1]:
            starts.append(starts[-1] + sequence.duration_s + self.layout.gap_s)
        return [list(zip(self.sequences, starts, strict=True))]

    def uplink_spec(self) -> LinkSpec | None:
        """The uplink, re-timed to the videos when ``videos_per_phase`` is set."""
        per_phase = self.layout.videos_per_phase
        if per_phase is None or self.uplink is None:
            return self.uplink
        if not hasattr(self.uplink, "with_durations"):
            raise ValueError(
                "layout.videos_per_phase re-times a piecewise uplink; network.uplink is "
                f"{self.uplink!r}"
            )
        (unit,) = self.units()
        segments = len(self.uplink.segments)
        durations = []
        for phase in range(segments - 1):
            videos = unit[phase * per_phase : (phase + 1) * per_phase]
            if not videos:
                raise ValueError(
                    f"the uplink has {segments} phases of {per_phase} videos; only "
                    f"{len(unit)} videos are replayed"
                )
            durations.append(sum(sequence.duration_s + self.layout.gap_s for sequence, _ in videos))
        return self.uplink.with_durations(durations)

    def _phases(self) -> list[Phase] | None:
        """The named stretches of time of a piecewise uplink (for per-phase metrics)."""
        spec = self.uplink_spec()
        if spec is None or not hasattr(spec, "segments") or not hasattr(spec, "starts"):
            return None
        ends = [*spec.starts[1:], math.inf]
        return [
            Phase(name=segment.name, start_s=start, end_s=end)
            for segment, start, end in zip(spec.segments, spec.starts, ends, strict=True)
        ]

    @property
    def phases(self) -> list[Phase] | None:
        return self.phases_by_unit if self.mode == "timed" else None

    # -- timed mode ---------------------------------------------------------------------------

    def run_timed(self, *, seed: int) -> Iterator[TimedUnit]:
        """Replay every simulation unit in turn."""
        if self.mode != "timed":
            raise ValueError(f"run_timed needs scenario.mode=timed, not {self.mode!r}")
        units = self.units()
        uplink = self.uplink_spec()
        timeline_offset = 0.0
        for unit, unit_seed in zip(
            units, np.random.SeedSequence(seed).spawn(len(units)), strict=True
        ):
            yield self._run_unit(unit, unit_seed, uplink, timeline_offset)
            timeline_offset += sum(sequence.duration_s for sequence, _ in unit)

    def _run_unit(
        self,
        unit: list[tuple[ClownfishSequence, float]],
        seed: np.random.SeedSequence,
        uplink: LinkSpec | None,
        timeline_offset: float,
    ) -> TimedUnit:
        uplink_seed, downlink_seed, worker_seed, server_seed = seed.spawn(4)
        simulation = Simulation()
        request_ids = itertools.count()
        server = None
        device_ref: list[ClownfishDevice] = []
        remote = self.method.uses_remote
        if remote:
            server = ModelServer(
                num_workers=self.server.num_workers,
                batch_size=self.server.batch_size,
                max_delay_s=self.server.max_delay_s,
                profile=self.server_profile,
                rng=np.random.default_rng(server_seed),
                on_complete=lambda request: device_ref[0].on_served(request),
            )
        device = ClownfishDevice(
            method=self.method,
            policy=self.policy,
            worker_profile=self.worker_profile,
            uplink=uplink.build(rng=np.random.default_rng(uplink_seed)) if remote else None,
            downlink=self.downlink.build(rng=np.random.default_rng(downlink_seed))
            if remote
            else None,
            server=server,
            rng=np.random.default_rng(worker_seed),
            header_bytes=self.header_bytes,
            result_header_bytes=self.result_header_bytes,
            next_request_id=request_ids.__next__,
        )
        device_ref.append(device)
        videos = [device.add_video(sequence, offset_s=start) for sequence, start in unit]
        for video in videos:
            simulation.schedule(video.first_event())
        simulation.run()
        last_video = unit[-1]
        horizon = max(simulation.now, last_video[1] + last_video[0].duration_s)
        return TimedUnit(
            device=device,
            videos=videos,
            server=server.stats if server is not None else None,
            horizon_s=horizon,
            timeline_offset_s=timeline_offset if self.layout.mode == "isolated" else 0.0,
        )
