"""Turn finished REACT simulations into what a paper reports: accuracy of what was displayed,
per-frame rows, and the systems figures (traffic, cost, response time, staleness, load)."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

from edgecloud.detections import FrameDetections
from edgecloud.metrics.coco import evaluate_detections
from edgecloud.metrics.tide import tide_errors
from edgecloud.recording.reader import SequenceRecording
from edgecloud.sim.react.anchor import closed_form_detections
from edgecloud.sim.react.device import CLOUD_FUSED, EDGE_DETECTED, TRACKED, EdgeDevice
from edgecloud.sim.react.scenario import UnitResult
from edgecloud.sim.summary import distribution

FRAME_COLUMNS = (
    "device",
    "sequence",
    "frame",
    "capture_s",
    "processed",
    "tracked",
    "edge_detected",
    "cloud_fused",
    "cloud_sent",
    "shown_frame",
    "display_staleness_frames",
    "shown_objects",
)


def displayed_outputs(device: EdgeDevice, *, deadline_frames: float) -> np.ndarray:
    """For every frame ``j``, the index of the pipeline output scored for it: the newest output
    about a frame ``<= j`` that was published by ``j``'s deadline (``capture_j +
    deadline_frames / fps``); -1 while nothing has been shown yet."""
    frames = np.arange(device.num_frames)
    deadlines = device.start_time_s + (frames + deadline_frames) / device.fps
    times = np.asarray(device.timeline.output_times, dtype=np.float64)
    output_frames = np.asarray(device.timeline.output_frames, dtype=np.int64)
    published = np.searchsorted(times, deadlines, side="right") - 1
    not_from_the_future = np.searchsorted(output_frames, frames, side="right") - 1
    return np.minimum(published, not_from_the_future)


def shown_detections(device: EdgeDevice, shown: np.ndarray) -> dict[int, FrameDetections]:
    """What every output index in ``shown`` displayed, as evaluation takes it; outputs the
    pipeline left to their anchor's closed form are evaluated here, one vectorised call per
    anchor."""
    timeline = device.timeline
    policy = device.policy
    detections: dict[int, FrameDetections] = {}
    lazy: dict[int, list[int]] = {}
    anchors = {}
    for index in np.unique(shown[shown >= 0]).tolist():
        stored = timeline.output_objects[index]
        if stored is not None:
            detections[index] = FrameDetections(
                boxes=stored.boxes.astype(np.float32),
                labels=stored.labels,
                scores=stored.scores.astype(np.float32),
            )
        else:
            anchor = timeline.output_anchors[index]
            lazy.setdefault(id(anchor), []).append(index)
            anchors[id(anchor)] = anchor
    output_frames = timeline.output_frames
    evaluated = closed_form_detections(
        [anchors[key] for key in lazy],
        [np.array([output_frames[i] for i in indices]) for indices in lazy.values()],
        decay=policy.decay,
        drop_below=policy.drop_threshold,
    )
    detections.update(zip(itertools.chain.from_iterable(lazy.values()), evaluated, strict=True))
    return detections


@dataclass
class ReplayReport:
    """Accumulates simulation units; :meth:`results` gives the ``results.json`` content."""

    class_names: tuple[str, ...]
    deadline_frames: float
    score_accuracy: bool
    score_tide: bool
    usd_per_1000_requests: float
    frames_csv: TextIO | None = None
    # (recording, frame) of every scored frame; annotations are built when scoring
    ground_truth_frames: list[tuple[SequenceRecording, int]] = field(default_factory=list)
    displayed: list[FrameDetections] = field(default_factory=list)
    image_sizes: list[tuple[int, int]] = field(default_factory=list)
    response_times: list[float] = field(default_factory=list)
    cloud_staleness: list[int] = field(default_factory=list)
    display_staleness: list[int] = field(default_factory=list)
    queue_waits: list[float] = field(default_factory=list)
    counts: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._writer = csv.writer(self.frames_csv) if self.frames_csv is not None else None
        if self._writer is not None:
            self._writer.writerow(FRAME_COLUMNS)

    def _count(self, key: str, value: float) -> None:
        self.counts[key] = self.counts.get(key, 0) + value

    def add(self, unit: UnitResult) -> None:
        for device in unit.devices:
            self._add_device(device)
        self._count("simulated_s", unit.horizon_s)
        if unit.server is not None:
            self._count("server_served", unit.server.requests_served)
            self._count("server_busy_s", sum(unit.server.busy_time_per_worker))
            self._count("server_capacity_s", unit.server.num_workers * unit.horizon_s)
            self._count("server_batches", unit.server.batches)
            self.queue_waits.extend(unit.server.queue_waits)

    def _add_device(self, device: EdgeDevice) -> None:
        timeline = device.timeline
        # a device is active from its first capture until its video ends or its last output
        # is published, whichever is later
        last_output = (
            timeline.output_times[-1] - device.start_time_s if timeline.output_times else 0.0
        )
        duration = max(device.num_frames / device.fps, last_output)
        self._count("devices", 1)
        self._count("frames", device.num_frames)
        self._count("device_s", duration)
        self._count("edge_busy_s", timeline.edge_busy_s)
        self._count("discarded_cloud_results", timeline.discarded_results)
        for request in timeline.requests:
            self._count("requests", 1)
            self._count("bytes_up", request.request_bytes)
            if np.isfinite(request.response_time):
                self._count("responses", 1)
                self._count("bytes_down", request.response_bytes)
                self.response_times.append(request.response_time)
            if request.fused_frame >= 0:
                self.cloud_staleness.append(request.fused_frame - request.frame)
        actions = timeline.actions
        self._count("edge_detections", sum(1 for a in actions.values() if a & EDGE_DETECTED))
        self._count("processed_frames", len(actions))
        if not device.pipeline:
            return
        shown = displayed_outputs(device, deadline_frames=self.deadline_frames)
        output_frames = np.asarray(timeline.output_frames, dtype=np.int64)
        shown_frames = np.where(shown >= 0, output_frames[np.maximum(shown, 0)], -1)
        staleness = np.where(shown >= 0, np.arange(device.num_frames) - shown_frames, -1)
        self.display_staleness.extend(int(s) for s in staleness[shown >= 0])
        if not self.score_accuracy and self._writer is None:
            return
        sequence = device.sequence
        detections = shown_detections(device, shown)
        nothing = FrameDetections()
        displayed = [detections[index] if index >= 0 else nothing for index in shown.tolist()]
        if self.score_accuracy:
            recorded = np.arange(device.num_frames) % sequence.num_frames
            self.ground_truth_frames.extend(
                zip(itertools.repeat(sequence.ground_truth), recorded.tolist())
            )
            self.image_sizes.extend(
                itertools.repeat((sequence.height, sequence.width), device.num_frames)
            )
            self.displayed.extend(displayed)
        if self._writer is None:
            return
        sent = set(timeline.sent_frames)
        for frame in range(device.num_frames):
            action = actions.get(frame)
            self._writer.writerow(
                (
                    device.device_id,
                    sequence.name,
                    frame,
                    f"{device.capture_time(frame):.6f}",
                    int(action is not None),
                    int(bool(action and action & TRACKED)),
                    int(bool(action and action & EDGE_DETECTED)),
                    int(bool(action and action & CLOUD_FUSED)),
                    int(frame in sent),
                    int(shown_frames[frame]),
                    int(staleness[frame]),
                    len(displayed[frame]),
                )
            )

    def results(self) -> dict:
        """``results.json``: flat ``metrics`` plus the sorted response times for CDFs."""
        counts = self.counts
        metrics: dict[str, float | None] = {}
        if self.score_accuracy and self.displayed:
            ground_truth = [recording.ground_truth(i) for recording, i in self.ground_truth_frames]
            coco = evaluate_detections(
                ground_truth=ground_truth,
                detections=self.displayed,
                class_names=self.class_names,
                image_sizes=self.image_sizes,
            )
            metrics.update(coco.as_dict(prefix="sim/"))
            if self.score_tide:
                tide = tide_errors(
                    ground_truth=ground_truth,
                    detections=self.displayed,
                    class_names=self.class_names,
                )
                metrics.update(tide.as_dict(prefix="sim/"))
        device_s = counts.get("device_s", 0.0)
        requests = counts.get("requests", 0)
        metrics.update(
            {
                "sim/devices": counts.get("devices", 0),
                "sim/frames": counts.get("frames", 0),
                "sim/simulated_s": counts.get("simulated_s", 0.0),
                "sim/processed_frames": counts.get("processed_frames", 0),
                "sim/edge_detections": counts.get("edge_detections", 0),
                "sim/edge_utilisation": _ratio(counts.get("edge_busy_s", 0.0), device_s),
                "sim/requests": requests,
                "sim/responses": counts.get("responses", 0),
                "sim/discarded_cloud_results": counts.get("discarded_cloud_results", 0),
                "sim/cost_usd": requests * self.usd_per_1000_requests / 1000.0,
                "sim/bytes_up": counts.get("bytes_up", 0),
                "sim/bytes_down": counts.get("bytes_down", 0),
                "sim/mbps_up": _ratio(8e-6 * counts.get("bytes_up", 0), device_s),
                "sim/mbps_down": _ratio(8e-6 * counts.get("bytes_down", 0), device_s),
                "sim/server_throughput_rps": _ratio(
                    counts.get("server_served", 0), counts.get("simulated_s", 0.0)
                ),
                "sim/server_utilisation": _ratio(
                    counts.get("server_busy_s", 0.0), counts.get("server_capacity_s", 0.0)
                ),
                "sim/server_mean_batch_size": _ratio(
                    counts.get("server_served", 0), counts.get("server_batches", 0)
                ),
            }
        )
        for name, values in (
            ("response_time", self.response_times),
            ("server_queue_wait", self.queue_waits),
            ("cloud_staleness", self.cloud_staleness),
            ("display_staleness", self.display_staleness),
        ):
            unit = "s" if name in ("response_time", "server_queue_wait") else "frames"
            for key, value in distribution(values).items():
                metrics[f"sim/{name}_{key}_{unit}"] = value
        return {"metrics": metrics, "response_times_s": sorted(self.response_times)}


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def summarize_metrics(metrics: dict, *, keys: Sequence[str]) -> str:
    """One line of the chosen metrics for logs."""
    parts = []
    for key in keys:
        value = metrics.get(key)
        parts.append(f"{key}={value:.4g}" if isinstance(value, float | int) else f"{key}=n/a")
    return "  ".join(parts)
