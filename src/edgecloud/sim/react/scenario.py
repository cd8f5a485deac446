"""Build REACT devices from a recording pair, run them through the engine, collect timelines.

Two layouts: ``isolated`` replays each sequence as its own simulation with one device (the
paper's accuracy experiments, one video at a time), ``shared`` puts ``count`` devices on one
model server, device ``d`` replaying sequence ``d mod S`` from ``d * start_spacing_s`` on
(the scalability experiments). Each simulation streams: one sequence's arrays are loaded when
its simulation starts and dropped when it ends.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from edgecloud.sim.compute import ComputeProfile
from edgecloud.sim.engine import Simulation
from edgecloud.sim.network.base import LinkSpec
from edgecloud.sim.react.device import EdgeDevice
from edgecloud.sim.react.inputs import (
    FrameCache,
    ReplaySequence,
    ThresholdedDetections,
    check_same_videos,
    open_recordings,
)
from edgecloud.sim.react.policy import ReactPolicy
from edgecloud.sim.server import ModelServer, ServerStats
from edgecloud.tracking.base import BoxTracker
from edgecloud.tracking.scene_motion import cached_frame_motion


@dataclass(frozen=True, kw_only=True)
class DeviceLayout:
    """How many devices replay which sequences, for how long."""

    mode: Literal["isolated", "shared"]
    count: int | None = None
    duration_s: float | None = None
    start_spacing_s: float = 0.0
    pipeline: bool = True
    load: Literal["open", "closed"] = "open"

    def __post_init__(self) -> None:
        if self.mode not in ("isolated", "shared"):
            raise ValueError(f"devices.mode must be 'isolated' or 'shared', got {self.mode!r}")
        if self.mode == "shared" and (not isinstance(self.count, int) or self.count < 1):
            raise ValueError(f"devices.count must be a positive integer, got {self.count!r}")
        if self.duration_s is not None and not (
            math.isfinite(self.duration_s) and self.duration_s > 0
        ):
            raise ValueError(
                f"devices.duration_s must be positive or null, got {self.duration_s!r}"
            )
        if self.load not in ("open", "closed"):
            raise ValueError(f"devices.load must be 'open' or 'closed', got {self.load!r}")
        if self.load == "closed" and self.pipeline:
            raise ValueError(
                "devices.load=closed describes load generators; it needs devices.pipeline=false"
            )
        if not (math.isfinite(self.start_spacing_s) and self.start_spacing_s >= 0):
            raise ValueError(f"devices.start_spacing_s must be >= 0, got {self.start_spacing_s!r}")


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    num_workers: int
    batch_size: int
    max_delay_s: float


@dataclass
class UnitResult:
    """One finished simulation: its devices (with timelines) and its server's statistics."""

    devices: list[EdgeDevice]
    server: ServerStats | None
    horizon_s: float


class ReactScenario:
    """Everything fixed by the config; :meth:`run` replays it for a seed."""

    def __init__(
        self,
        *,
        edge_recording: str | Path,
        cloud_recording: str | Path,
        sequences: Sequence[str] | None,
        frames_root: str | Path | None,
        motion_cache_dir: str | Path,
        policy: ReactPolicy,
        layout: DeviceLayout,
        uplink: LinkSpec | Sequence[LinkSpec],
        downlink: LinkSpec,
        server: ServerSettings,
        server_profile: ComputeProfile,
        edge_profile: ComputeProfile | None,
        tracker_factory: Callable[[], BoxTracker] | None,
        tracker_latency: ComputeProfile,
    ) -> None:
        self.edge, self.cloud = open_recordings(edge=edge_recording, cloud=cloud_recording)
        self.sequences = self._select_sequences(sequences)
        check_same_videos(self.edge, self.cloud, sequences=self.sequences)
        self.policy = policy
        self.layout = layout
        if layout.load == "closed" and policy.cloud_every is None:
            raise ValueError("devices.load=closed sends to the cloud; set policy.cloud_every")
        # one spec for every device, or one per device (device d uses uplinks[d mod len])
        self.uplinks = list(uplink) if isinstance(uplink, Sequence) else [uplink]
        if not self.uplinks:
            raise ValueError("network.uplink is an empty list; give one link or one per device")
        self.downlink = downlink
        self.server = server
        server_profile.require_batch_sizes(server.batch_size)
        self.server_profile = server_profile
        self.edge_profile = edge_profile or ComputeProfile.from_recording(
            recording=edge_recording, name="edge (recorded)"
        )
        self.tracker_factory = tracker_factory
        self.tracker_latency = tracker_latency
        needs_pixels = (
            layout.pipeline
            and policy.tracking
            and tracker_factory is not None
            and tracker_factory().needs_pixels
        )
        # the change detector gates cloud requests too, so load generators need it as well
        self.needs_frames = needs_pixels or policy.uses_motion
        self.frames_root = Path(frames_root) if frames_root is not None else None
        if self.needs_frames and (self.frames_root is None or not self.frames_root.is_dir()):
            raise FileNotFoundError(
                f"frames_root {self.frames_root} is not a directory; the "
                + ("pixel tracker" if needs_pixels else "change detector")
                + " needs the recorded video's frames"
            )
        self.motion_cache_dir = Path(motion_cache_dir)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.edge.class_names

    def _select_sequences(self, names: Sequence[str] | None) -> list[str]:
        available = self.edge.sequence_names
        if names is None:
            return list(available)
        unknown = [name for name in names if name not in available]
        if unknown:
            raise ValueError(
                f"sequences {unknown} are not in the recording {self.edge.root}; it has {list(available)}"
            )
        if not names:
            raise ValueError("scenario.sequences is an empty list; use null for all sequences")
        return list(names)

    def load_sequence(self, name: str) -> ReplaySequence:
        edge = self.edge.sequence(name)
        cloud = self.cloud.sequence(name, ground_truth=False)
        frames = motion = None
        if self.needs_frames:
            frames = FrameCache(directory=self.frames_root / name, num_frames=edge.num_frames)
            if self.policy.uses_motion:
                motion = cached_frame_motion(frames.frames, cache_dir=self.motion_cache_dir)
        threshold = self.policy.detection_threshold
        return ReplaySequence(
            name=name,
            fps=edge.fps,
            height=edge.height,
            width=edge.width,
            num_frames=edge.num_frames,
            edge=ThresholdedDetections.from_recording(edge, threshold=threshold),
            cloud=ThresholdedDetections.from_recording(cloud, threshold=threshold),
            ground_truth=edge,
            encoded_bytes=cloud.encoded_bytes,
            frames=frames,
            motion=motion,
        )

    def run(self, *, seed: int) -> Iterator[UnitResult]:
        """Replay every simulation unit in turn (a generator, so callers can score a unit and
        let it go before the next one is loaded)."""
        root = np.random.SeedSequence(seed)
        if self.layout.mode == "isolated":
            for name, unit_seed in zip(
                self.sequences, root.spawn(len(self.sequences)), strict=True
            ):
                yield self._run_unit([self.load_sequence(name)], unit_seed)
        else:
            loaded = [self.load_sequence(name) for name in self.sequences]
            chosen = [loaded[d % len(loaded)] for d in range(self.layout.count)]
            yield self._run_unit(chosen, root.spawn(1)[0])

    def _run_unit(
        self, sequences: list[ReplaySequence], seed: np.random.SeedSequence
    ) -> UnitResult:
        simulation = Simulation()
        server_seed, *device_seeds = seed.spawn(1 + len(sequences))
        request_ids = itertools.count()
        devices: list[EdgeDevice] = []
        server = ModelServer(
            num_workers=self.server.num_workers,
            batch_size=self.server.batch_size,
            max_delay_s=self.server.max_delay_s,
            profile=self.server_profile,
            rng=np.random.default_rng(server_seed),
            on_complete=lambda request: request.payload.device.on_served(request),
        )
        horizon = 0.0
        for device_id, (sequence, device_seed) in enumerate(
            zip(sequences, device_seeds, strict=True)
        ):
            uplink_seed, downlink_seed, own_seed = device_seed.spawn(3)
            num_frames = sequence.num_frames
            if self.layout.duration_s is not None:
                num_frames = max(1, round(self.layout.duration_s * sequence.fps))
            start = device_id * self.layout.start_spacing_s
            device = EdgeDevice(
                device_id=device_id,
                sequence=sequence,
                num_frames=num_frames,
                start_time_s=start,
                policy=self.policy,
                pipeline=self.layout.pipeline,
                closed_loop=self.layout.load == "closed",
                uplink=self.uplinks[device_id % len(self.uplinks)].build(
                    rng=np.random.default_rng(uplink_seed)
                ),
                downlink=self.downlink.build(rng=np.random.default_rng(downlink_seed)),
                server=server,
                edge_latency=self.edge_profile,
                tracker_latency=self.tracker_latency,
                tracker_factory=self.tracker_factory,
                rng=np.random.default_rng(own_seed),
                next_request_id=request_ids.__next__,
                next_event_time=simulation.next_time,
            )
            devices.append(device)
            horizon = max(horizon, device.capture_time(num_frames))
            simulation.schedule_all(device.first_events())
        simulation.run()
        last_outputs = [d.timeline.output_times[-1] for d in devices if d.timeline.output_times]
        horizon = max(horizon, simulation.now, *last_outputs)
        return UnitResult(devices=devices, server=server.stats, horizon_s=horizon)
