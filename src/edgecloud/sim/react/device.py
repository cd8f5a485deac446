"""One REACT edge device as simulator events: camera, edge pipeline, cloud communicator.

Timing model (documented in docs/simulator.md):

- Frame ``j`` is captured at ``start + j / fps`` (:class:`FrameCaptured`). The cloud
  communicator decides there whether to send it (every m-th captured frame, motion permitting);
  its bytes are the recording's real JPEG size.
- The edge pipeline is one serial worker (:class:`EdgeStep`). When free it takes the *newest*
  captured frame (a live camera loop skips frames it fell behind on), tracks the current objects
  to it, fuses every fast-tracked cloud result that is ready, runs the edge detector when due, and
  publishes the objects at ``start + tracker latency + detector latency``. Nothing is shown before
  it could have been computed.
- A cloud response is fast-tracked by a second tracker instance (a separate process on the
  device, so it does not block the pipeline) from its frame to the newest captured frame, one
  step per ``fast_track_stride`` frames, each step costing the tracker's latency; the pipeline
  fuses it at the first frame it starts after that. A result older than one already fused is
  discarded. Fast-tracking moves boxes but does not decay scores; fusion decays them once
  (Algorithm 1) and the main tracker decays them every frame after.

Events at the same instant run in this order: captures (0), responses reaching the edge (5),
server completions (10), requests reaching the server (20), server batch timeouts (30), edge
pipeline steps (40). So a zero-latency cloud answer to frame j is fused into frame j itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from edgecloud.fusion.objects import ObjectSet, Source
from edgecloud.fusion.react import react_fuse
from edgecloud.sim.compute import ComputeProfile
from edgecloud.sim.engine import Event
from edgecloud.sim.network.base import Link
from edgecloud.sim.react.anchor import Anchor, decay_factor, proper_boxes
from edgecloud.sim.react.inputs import ReplaySequence
from edgecloud.sim.react.policy import ReactPolicy
from edgecloud.sim.server import InferenceRequest, ModelServer, RequestAtServer
from edgecloud.tracking.base import BoxTracker

# What the pipeline did with a processed frame (per-frame CSV column ``action``).
TRACKED = 1
EDGE_DETECTED = 2
CLOUD_FUSED = 4


@dataclass
class CloudRequest:
    """A frame sent to the model server and what became of it (times in seconds)."""

    device: EdgeDevice
    frame: int
    send_time: float
    request_bytes: int
    response_bytes: int = 0
    response_time: float = math.nan
    ready_time: float = math.nan
    fused_frame: int = -1


@dataclass
class CloudResult:
    """A cloud answer fast-tracked to ``frame``, usable from ``ready_time`` on."""

    request: CloudRequest
    ready_time: float
    frame: int
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    tracker: BoxTracker | None


@dataclass
class DeviceTimeline:
    """What a device did: published outputs in time order, per-frame flags and its requests."""

    output_times: list[float] = field(default_factory=list)
    output_frames: list[int] = field(default_factory=list)
    # the objects shown, or None where they follow from ``output_anchors`` (see anchor.py)
    output_objects: list[ObjectSet | None] = field(default_factory=list)
    output_anchors: list[Anchor] = field(default_factory=list)
    actions: dict[int, int] = field(default_factory=dict)
    sent_frames: list[int] = field(default_factory=list)
    requests: list[CloudRequest] = field(default_factory=list)
    edge_busy_s: float = 0.0
    discarded_results: int = 0


class EdgeDevice:
    """State and behaviour of one device replaying one recorded sequence (looped to
    ``num_frames``). With ``pipeline=False`` it only sends every m-th frame to the server and
    logs the answers (the load generator of the scalability experiments); with ``closed_loop``
    as well, it sends its next frame m frames' worth of time after each answer instead, as a
    Locust user with a constant wait does."""

    def __init__(
        self,
        *,
        device_id: int,
        sequence: ReplaySequence,
        num_frames: int,
        start_time_s: float,
        policy: ReactPolicy,
        pipeline: bool,
        closed_loop: bool,
        uplink: Link,
        downlink: Link,
        server: ModelServer | None,
        edge_latency: ComputeProfile,
        tracker_latency: ComputeProfile,
        tracker_factory: Callable[[], BoxTracker] | None,
        rng: np.random.Generator,
        next_request_id: Callable[[], int],
        next_event_time: Callable[[], float],
    ) -> None:
        self.device_id = device_id
        self.sequence = sequence
        self.num_frames = num_frames
        self.start_time_s = start_time_s
        self.fps = sequence.fps
        self.policy = policy
        self.pipeline = pipeline
        self.closed_loop = closed_loop
        self.uplink = uplink
        self.downlink = downlink
        self.server = server
        self.edge_latency = edge_latency
        self.tracker_latency = tracker_latency
        self.tracker_factory = tracker_factory if policy.tracking else None
        self.tracker = self.tracker_factory() if self.tracker_factory is not None else None
        self.rng = rng
        self.next_request_id = next_request_id
        self.next_event_time = next_event_time
        self.timeline = DeviceTimeline()

        self.newest_captured = -1
        self.last_processed = -1
        self.edge_scheduled = False
        self.busy_until = -math.inf
        self.anchor = Anchor(frame=0, objects=ObjectSet.empty(), velocities=np.zeros((0, 4)))
        # rows of a pixel-tracked anchor still alive (lost objects never come back)
        self.alive = np.zeros(0, dtype=bool)
        self.next_object_id = 0
        self.last_edge_frame: int | None = None
        self.last_cloud_frame: int | None = None
        self.last_fused_cloud_frame = -1
        self.pending: list[CloudResult] = []

    # -- time and frames ---------------------------------------------------------------------

    def capture_time(self, frame: int) -> float:
        return self.start_time_s + frame / self.fps

    def newest_frame_at(self, time: float) -> int:
        """Index of the newest frame captured at or before ``time`` (capped at the last one)."""
        frame = math.floor((time - self.start_time_s) * self.fps)
        while frame + 1 < self.num_frames and self.capture_time(frame + 1) <= time:
            frame += 1
        while frame >= 0 and self.capture_time(frame) > time:
            frame -= 1
        return min(frame, self.num_frames - 1)

    def recorded_index(self, frame: int) -> int:
        return frame % self.sequence.num_frames

    def image(self, frame: int, tracker: BoxTracker) -> np.ndarray | None:
        if not tracker.needs_pixels:
            return None
        assert self.sequence.frames is not None, "pixel trackers get frames at build time"
        return self.sequence.frames.read(self.recorded_index(frame))

    def motion_allows(self, frame: int) -> bool:
        motion = self.sequence.motion
        return motion is None or motion[self.recorded_index(frame)] >= self.policy.motion_threshold

    def first_events(self) -> list[Event]:
        return [FrameCaptured(self.capture_time(0), self, 0)]

    # -- camera and cloud communicator --------------------------------------------------------

    def on_capture(self, frame: int, time: float) -> list[Event]:
        """Handle a capture, and then every following capture that is the only thing to happen
        before the next queued event: while a capture's only follow-up is the next capture and
        the queue holds nothing earlier, the queue would deliver that capture next anyway, so it
        is handled here at once (frames that only age the display cost no queue round trip)."""
        events = self._capture(frame, time)
        while (
            len(events) == 1
            and type(following := events[0]) is FrameCaptured
            and following.time < self.next_event_time()
        ):
            events = self._capture(following.frame, following.time)
        return events

    def _capture(self, frame: int, time: float) -> list[Event]:
        self.newest_captured = frame
        cloud_every = self.policy.cloud_every
        if self.closed_loop:
            return [self.send_to_cloud(frame, time)]
        events: list[Event] = []
        if (
            cloud_every is not None
            and (self.last_cloud_frame is None or frame - self.last_cloud_frame >= cloud_every)
            and self.motion_allows(frame)
        ):
            self.last_cloud_frame = frame
            events.append(self.send_to_cloud(frame, time))
        following = frame + 1 if self.pipeline else frame + (cloud_every or 1)
        if following < self.num_frames:
            events.append(FrameCaptured(self.capture_time(following), self, following))
        if self.pipeline and not self.edge_scheduled and self.busy_until <= time:
            self.edge_scheduled = True
            if self.next_event_time() > time and all(event.time > time for event in events):
                # nothing else happens at this instant, so the pipeline step (the lowest
                # priority) would run next anyway: run it now rather than through the queue
                events.extend(self.on_edge_step(time) or ())
            else:
                events.append(EdgeStep(time, self))
        return events

    def send_to_cloud(self, frame: int, time: float) -> Event:
        request_bytes = int(self.sequence.encoded_bytes[self.recorded_index(frame)])
        request = CloudRequest(self, frame, time, request_bytes)
        self.timeline.requests.append(request)
        self.timeline.sent_frames.append(frame)
        arrival = self.uplink.transmit(send_time_s=time, num_bytes=request_bytes)
        inference = InferenceRequest(
            request_id=self.next_request_id(),
            device_id=self.device_id,
            frame_index=frame,
            payload=request,
        )
        return RequestAtServer(arrival, self.server, inference)

    def on_served(self, inference: InferenceRequest) -> list[Event]:
        request: CloudRequest = inference.payload
        answer_bytes = self.sequence.cloud.answer_bytes[self.recorded_index(request.frame)]
        request.response_bytes = int(answer_bytes)
        arrival = self.downlink.transmit(
            send_time_s=inference.finish_time, num_bytes=request.response_bytes
        )
        return [ResponseAtEdge(arrival, self, request)]

    def on_response(self, request: CloudRequest, time: float) -> list[Event] | None:
        request.response_time = time - request.send_time
        if self.closed_loop:
            # like a Locust user: wait m frames' worth of time after each answer, then send
            send_time = time + self.policy.cloud_every / self.fps
            if send_time > self.capture_time(self.num_frames - 1):
                return None
            return [FrameCaptured(send_time, self, self.newest_frame_at(send_time))]
        if not self.pipeline:
            return None
        boxes, labels, scores = self.sequence.cloud.frame(self.recorded_index(request.frame))
        frame, ready, tracker = request.frame, time, None
        if self.tracker_factory is not None and len(labels):
            tracker = self.tracker_factory()
            tracker.start(
                frame_index=frame,
                image=self.image(frame, tracker),
                ids=np.arange(len(labels), dtype=np.int64),
                boxes=boxes,
            )
            while frame < (target := self.newest_frame_at(ready)):
                frame = min(frame + self.policy.fast_track_stride, target)
                ready += self.tracker_latency.latency(batch_size=1, rng=self.rng)
                boxes, found = tracker.step(frame_index=frame, image=self.image(frame, tracker))
                found = found & proper_boxes(boxes)
                if not found.all():
                    boxes, labels, scores = boxes[found], labels[found], scores[found]
                    tracker = self._restarted(tracker, frame, boxes)
        request.ready_time = ready
        self.pending.append(CloudResult(request, ready, frame, boxes, labels, scores, tracker))
        return None

    def _restarted(self, tracker: BoxTracker, frame: int, boxes: np.ndarray) -> BoxTracker:
        tracker.start(
            frame_index=frame,
            image=self.image(frame, tracker),
            ids=np.arange(len(boxes), dtype=np.int64),
            boxes=boxes,
        )
        return tracker

    # -- edge pipeline ------------------------------------------------------------------------

    def on_edge_step(self, time: float) -> list[Event] | None:
        frame = self.newest_captured
        if frame <= self.last_processed:
            self.edge_scheduled = False
            return None
        latency, shown = self.process(frame, time)
        self.last_processed = frame
        done = time + latency
        self.busy_until = done
        timeline = self.timeline
        timeline.edge_busy_s += latency
        timeline.output_times.append(done)
        timeline.output_frames.append(frame)
        timeline.output_objects.append(shown)
        timeline.output_anchors.append(self.anchor)
        if frame + 1 < self.num_frames and self.capture_time(frame + 1) < done:
            return [EdgeStep(done, self)]
        self.edge_scheduled = False
        return None

    def process(self, frame: int, time: float) -> tuple[float, ObjectSet | None]:
        """Bring the objects to ``frame``: track, fuse ready cloud results, detect when due.

        Returns the compute time and the objects to show, or ``None`` when nothing but ageing
        happened and they follow from the anchor's closed form (evaluated when scored).
        """
        policy = self.policy
        anchor = self.anchor
        latency = 0.0
        action = 0
        if frame > anchor.frame and len(anchor.objects) and self.tracker is not None:
            latency += self.tracker_latency.latency(batch_size=1, rng=self.rng)
            action = TRACKED
        ready = [result for result in self.pending if result.ready_time <= time]
        edge_every = policy.edge_every
        edge_due = (
            edge_every is not None
            and (self.last_edge_frame is None or frame - self.last_edge_frame >= edge_every)
            and self.motion_allows(frame)
        )
        if not ready and not edge_due and anchor.velocities is not None:
            self.timeline.actions[frame] = action
            return latency, None

        objects = self._objects_at(frame)
        if ready:
            self.pending = [result for result in self.pending if result.ready_time > time]
            for result in sorted(ready, key=lambda r: (r.ready_time, r.request.frame)):
                if result.request.frame < self.last_fused_cloud_frame:
                    self.timeline.discarded_results += 1
                    continue
                boxes, labels, scores = self._cloud_boxes_at(result, frame)
                objects, self.next_object_id = react_fuse(
                    objects,
                    boxes=boxes,
                    labels=labels,
                    scores=scores,
                    source=Source.CLOUD,
                    iou_threshold=policy.iou_threshold,
                    decay=policy.decay,
                    unmatched_current=policy.unmatched_current,
                    next_id=self.next_object_id,
                )
                self.last_fused_cloud_frame = result.request.frame
                result.request.fused_frame = frame
                action |= CLOUD_FUSED
        if edge_due:
            self.last_edge_frame = frame
            boxes, labels, scores = self.sequence.edge.frame(self.recorded_index(frame))
            objects, self.next_object_id = react_fuse(
                objects,
                boxes=boxes,
                labels=labels,
                scores=scores,
                source=Source.EDGE,
                iou_threshold=policy.iou_threshold,
                decay=policy.decay,
                unmatched_current=policy.unmatched_current,
                next_id=self.next_object_id,
            )
            latency += self.edge_latency.latency(batch_size=1, rng=self.rng)
            action |= EDGE_DETECTED
        if action & (CLOUD_FUSED | EDGE_DETECTED):
            self._anchor_at(frame, objects)
        self.timeline.actions[frame] = action
        return latency, objects

    def output(self, index: int) -> ObjectSet:
        """The objects of the pipeline's ``index``-th output (evaluating a lazy one)."""
        stored = self.timeline.output_objects[index]
        if stored is not None:
            return stored
        return self.timeline.output_anchors[index].at(
            self.timeline.output_frames[index],
            decay=self.policy.decay,
            drop_below=self.policy.drop_threshold,
        )

    def _anchor_at(self, frame: int, objects: ObjectSet) -> None:
        """Restart tracking from freshly fused ``objects``."""
        tracker = self.tracker
        if tracker is None:
            velocities = np.zeros((len(objects), 4))
        else:
            tracker.start(
                frame_index=frame,
                image=self.image(frame, tracker),
                ids=objects.ids,
                boxes=objects.boxes,
            )
            velocities = tracker.velocities()
            if velocities is None:
                self.alive = np.ones(len(objects), dtype=bool)
        self.anchor = Anchor(frame=frame, objects=objects, velocities=velocities)

    def _objects_at(self, frame: int) -> ObjectSet:
        """The current objects aged to ``frame`` (stepping a pixel tracker once)."""
        anchor = self.anchor
        policy = self.policy
        if frame == anchor.frame or len(anchor.objects) == 0:
            return anchor.objects
        if anchor.velocities is not None:
            return anchor.at(frame, decay=policy.decay, drop_below=policy.drop_threshold)
        boxes, found = self.tracker.step(frame_index=frame, image=self.image(frame, self.tracker))
        objects = anchor.objects
        scores = objects.scores * decay_factor(policy.decay, frame - anchor.frame)
        self.alive &= found & proper_boxes(boxes) & (scores >= policy.drop_threshold)
        kept = self.alive
        return ObjectSet(
            objects.ids[kept],
            boxes[kept],
            objects.labels[kept],
            scores[kept],
            objects.sources[kept],
        )

    def _cloud_boxes_at(
        self, result: CloudResult, frame: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fast-tracked cloud detections, stepped on to ``frame`` if the pipeline is ahead."""
        boxes, labels, scores = result.boxes, result.labels, result.scores
        if result.tracker is not None and frame > result.frame:
            boxes, found = result.tracker.step(
                frame_index=frame, image=self.image(frame, result.tracker)
            )
            found = found & proper_boxes(boxes)
            if not found.all():
                boxes, labels, scores = boxes[found], labels[found], scores[found]
        return boxes, labels, scores


class FrameCaptured(Event):
    __slots__ = ("device", "frame")
    PRIORITY = 0

    def __init__(self, time: float, device: EdgeDevice, frame: int) -> None:
        super().__init__(time)
        self.device = device
        self.frame = frame

    def handle(self) -> Iterable[Event]:
        return self.device.on_capture(self.frame, self.time)


class ResponseAtEdge(Event):
    __slots__ = ("device", "request")
    PRIORITY = 5

    def __init__(self, time: float, device: EdgeDevice, request: CloudRequest) -> None:
        super().__init__(time)
        self.device = device
        self.request = request

    def handle(self) -> list[Event] | None:
        return self.device.on_response(self.request, self.time)


class EdgeStep(Event):
    __slots__ = ("device",)
    PRIORITY = 40

    def __init__(self, time: float, device: EdgeDevice) -> None:
        super().__init__(time)
        self.device = device

    def handle(self) -> Iterable[Event] | None:
        return self.device.on_edge_step(self.time)
