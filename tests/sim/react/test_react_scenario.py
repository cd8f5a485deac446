"""REACT replays built directly from ReactScenario: hand-computed timelines (edge pipeline, cloud
round trips over constant, rate-limited and Mahimahi links), the offline upper bound against
the offline mAP, causality and display invariants under random latencies, the change detector
and the shared (many devices, one server) layout."""

from __future__ import annotations

import csv
import functools
import io
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections
from edgecloud.metrics.coco import evaluate_detections
from edgecloud.recording.detection import DetectionRecordingWriter
from edgecloud.recording.reader import DetectionRecording
from edgecloud.sim.compute import ComputeProfile
from edgecloud.sim.network import ConstantRateLinkSpec, IdealLinkSpec, MahimahiLinkSpec
from edgecloud.sim.react.device import CLOUD_FUSED, EDGE_DETECTED, TRACKED, EdgeDevice
from edgecloud.sim.react.policy import ReactPolicy
from edgecloud.sim.react.report import ReplayReport, displayed_outputs
from edgecloud.sim.react.scenario import DeviceLayout, ReactScenario, ServerSettings
from edgecloud.tracking import ConstantVelocityTracker
from tests.sim.react import toy

HEIGHT, WIDTH = 96, 160

# configs/scenario/react.yaml's policy
DEFAULT_POLICY = {
    "edge_every": 5,
    "cloud_every": 30,
    "detection_threshold": 0.5,
    "drop_threshold": 0.5,
    "decay": 0.99,
    "iou_threshold": 0.5,
    "unmatched_current": "keep",
    "fast_track_stride": 2,
    "motion_threshold": 0.0,
    "tracking": True,
    "display_deadline_frames": 1.0,
}


def make_policy(**changes) -> ReactPolicy:
    return ReactPolicy(**{**DEFAULT_POLICY, **changes})


def constant(latency_s: float, *, max_batch_size: int = 1) -> ComputeProfile:
    return ComputeProfile.constant(
        name=f"{latency_s} s", latency_s=latency_s, max_batch_size=max_batch_size
    )


def make_scenario(
    tmp_path: Path,
    *,
    edge: Path,
    cloud: Path,
    policy: ReactPolicy,
    uplink=None,
    downlink=None,
    server: ServerSettings | None = None,
    server_profile: ComputeProfile | None = None,
    edge_profile: ComputeProfile | None = None,
    tracker_factory=None,
    tracker_latency: ComputeProfile | None = None,
    layout: DeviceLayout | None = None,
    frames_root: Path | None = None,
    sequences=None,
) -> ReactScenario:
    return ReactScenario(
        edge_recording=edge,
        cloud_recording=cloud,
        sequences=sequences,
        frames_root=frames_root,
        motion_cache_dir=tmp_path / "motion_cache",
        policy=policy,
        layout=layout or DeviceLayout(mode="isolated"),
        uplink=uplink or IdealLinkSpec(),
        downlink=downlink or IdealLinkSpec(),
        server=server or ServerSettings(num_workers=1, batch_size=1, max_delay_s=0.0),
        server_profile=server_profile or constant(0.0),
        edge_profile=edge_profile,
        tracker_factory=tracker_factory,
        tracker_latency=tracker_latency or constant(0.0),
    )


def only_device(scenario: ReactScenario, *, seed: int = 0) -> EdgeDevice:
    (unit,) = list(scenario.run(seed=seed))
    (device,) = unit.devices
    return device


def shown_frames(device: EdgeDevice, deadline_frames: float = 1.0) -> list[int]:
    """The frame each displayed output is about (-1: nothing shown yet), per frame."""
    shown = displayed_outputs(device, deadline_frames=deadline_frames)
    frames = device.timeline.output_frames
    return [frames[i] if i >= 0 else -1 for i in shown]


def write_noisy_recording(
    root: Path,
    *,
    num_frames: int,
    fps: float,
    seed: int,
    sequences: tuple[str, ...] = ("toy",),
    latencies_s: tuple[float, ...] = (0.05,),
) -> Path:
    """The toy world (same ground truth as toy.write_recording) seen by a mediocre detector:
    the object jittered by a few pixels, sometimes with the wrong class or missed, plus 0-3
    random false positives, all with random scores; per-frame latencies drawn from
    ``latencies_s`` and JPEG sizes from 2-9 kB, so sample-mode profiles and traffic vary."""
    rng = np.random.default_rng(seed)
    with DetectionRecordingWriter(
        root, class_names=toy.CLASSES, model={"name": "noisy"}, device="test", jpeg_quality=90
    ) as writer:
        for name in sequences:
            detections, ground_truth = [], []
            for frame in range(num_frames):
                gt_box = np.array([toy.object_box(frame)], dtype=np.float32)
                ground_truth.append(
                    FrameAnnotations(boxes=gt_box, labels=np.array([1]), track_ids=np.array([7]))
                )
                found = rng.uniform() < 0.8
                n_false = int(rng.integers(0, 4))
                corner = rng.uniform(0, 120, (n_false, 2))
                boxes = np.vstack(
                    [gt_box + rng.normal(0, 3, (1, 4))] * found
                    + [np.hstack([corner, corner + rng.uniform(5, 30, (n_false, 2))])]
                )
                labels = np.concatenate(
                    [[1 if rng.uniform() < 0.8 else 2]] * found + [rng.integers(1, 3, n_false)]
                )
                detections.append(
                    FrameDetections(
                        boxes=boxes.astype(np.float32),
                        labels=labels.astype(np.int64),
                        scores=rng.uniform(0, 1, len(labels)).astype(np.float32),
                    )
                )
            writer.add_sequence(
                name,
                fps=fps,
                height=HEIGHT,
                width=WIDTH,
                detections=detections,
                ground_truth=ground_truth,
                latency_s=rng.choice(latencies_s, num_frames).tolist(),
                encoded_bytes=rng.integers(2000, 9000, num_frames).tolist(),
            )
    return root


def textured_background(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 1.5)


def write_frames(directory: Path, images: list[np.ndarray]) -> Path:
    """RGB frames as ``0000001.jpg``, ``0000002.jpg``, ... (the VisDrone layout)."""
    directory.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images, start=1):
        ok = cv2.imwrite(
            str(directory / f"{index:07d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        )
        assert ok
    return directory


def toy_frames(directory: Path, *, num_frames: int) -> Path:
    """The toy world's video: a bright textured block at toy.object_box(frame) on a dark,
    textured background, for pixel trackers."""
    background = textured_background() // 3
    texture = textured_background(seed=1) // 2 + 120
    images = []
    for frame in range(num_frames):
        image = background.copy()
        x1, y1, x2, y2 = (round(v) for v in toy.object_box(frame))
        image[y1:y2, x1:x2] = texture[: y2 - y1, : x2 - x1]
        images.append(image)
    return write_frames(directory, images)


# -- 1. edge pipeline timing -----------------------------------------------------------------


def test_golden_edge_timing(tmp_path):
    """fps 8, edge 0.1875 s (both binary-exact): the pipeline skips every third frame."""
    edge, cloud = toy.write_pair(
        tmp_path, num_frames=16, fps=8, edge_latency_s=0.1875, cloud_latency_s=0.1
    )
    policy = make_policy(edge_every=1, cloud_every=None, tracking=False)
    device = only_device(make_scenario(tmp_path, edge=edge, cloud=cloud, policy=policy))
    timeline = device.timeline

    # frame 0 at 0 -> 0.1875 (newest: 1) -> 0.375 = capture of 3 -> 0.5625 (newest: 4) -> 0.75 =
    # capture of 6 -> ...
    expected_frames = [0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15]
    assert timeline.output_frames == expected_frames
    assert timeline.output_times == [0.1875 * (i + 1) for i in range(len(expected_frames))]
    assert timeline.actions == dict.fromkeys(expected_frames, EDGE_DETECTED)
    assert timeline.edge_busy_s == 0.1875 * len(expected_frames)
    assert timeline.requests == []

    assert shown_frames(device) == [-1, 0, 1, 1, 3, 4, 4, 6, 7, 7, 9, 10, 10, 12, 13, 13]
    # frame 2's deadline is 3/8 = 0.375, exactly when frame 1's output is published
    assert timeline.output_times[1] == 3 / 8
    # everything displayed is the edge's detection of the frame it is about (no tracking)
    for output_frame, objects in zip(
        timeline.output_frames, map(device.output, range(len(timeline.output_frames))), strict=True
    ):
        assert objects.labels.tolist() == [2]
        assert objects.boxes.tolist() == [toy.object_box(output_frame)]
        np.testing.assert_array_equal(objects.scores, [np.float32(0.9)])

    frames_csv = io.StringIO()
    report = ReplayReport(
        class_names=tuple(toy.CLASSES),
        deadline_frames=1.0,
        score_accuracy=True,
        score_tide=False,
        usd_per_1000_requests=1.0,
        frames_csv=frames_csv,
    )
    report.add(next(make_scenario(tmp_path, edge=edge, cloud=cloud, policy=policy).run(seed=0)))
    metrics = report.results()["metrics"]
    rows = list(csv.DictReader(io.StringIO(frames_csv.getvalue())))
    assert [int(row["frame"]) for row in rows] == list(range(16))
    assert [row["capture_s"] for row in rows] == [f"{j / 8:.6f}" for j in range(16)]
    assert [int(row["processed"]) for row in rows] == [int(j in expected_frames) for j in range(16)]
    assert [row["edge_detected"] for row in rows] == [row["processed"] for row in rows]
    assert {row["tracked"] for row in rows} == {row["cloud_fused"] for row in rows} == {"0"}
    assert {row["cloud_sent"] for row in rows} == {"0"}
    assert [int(row["shown_frame"]) for row in rows] == shown_frames(device)
    assert [int(row["display_staleness_frames"]) for row in rows] == [
        -1, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 2,
    ]  # fmt: skip
    assert [int(row["shown_objects"]) for row in rows] == [0] + [1] * 15
    assert metrics["sim/processed_frames"] == len(expected_frames)
    assert metrics["sim/edge_detections"] == len(expected_frames)
    assert metrics["sim/requests"] == 0
    assert metrics["sim/cost_usd"] == 0.0
    assert report.counts["edge_busy_s"] == 11 * 0.1875
    # display staleness over frames 1..15
    staleness = [f - s for f, s in enumerate(shown_frames(device)) if s >= 0]
    assert report.display_staleness == staleness == [1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 2]
    assert metrics["sim/display_staleness_mean_frames"] == pytest.approx(20 / 15)


def test_edge_utilisation_of_a_half_busy_edge(tmp_path):
    """fps 8, edge 1/16 s on every frame: the edge works half of each frame period."""
    edge = toy.write_recording(
        tmp_path / "edge", role="edge", num_frames=8, fps=8, latency_s=1 / 16
    )
    cloud = toy.write_recording(
        tmp_path / "cloud", role="cloud", num_frames=8, fps=8, latency_s=0.1
    )
    policy = make_policy(edge_every=1, cloud_every=None, tracking=False)
    device = only_device(make_scenario(tmp_path, edge=edge, cloud=cloud, policy=policy))
    assert device.timeline.output_frames == list(range(8))
    assert device.timeline.output_times == [j / 8 + 1 / 16 for j in range(8)]
    report = ReplayReport(
        class_names=tuple(toy.CLASSES),
        deadline_frames=1.0,
        score_accuracy=False,
        score_tide=False,
        usd_per_1000_requests=1.0,
    )
    report.add(next(make_scenario(tmp_path, edge=edge, cloud=cloud, policy=policy).run(seed=0)))
    assert report.results()["metrics"]["sim/edge_utilisation"] == 0.5


def test_edge_utilisation_of_a_saturated_edge_is_at_most_one(tmp_path):
    edge, cloud = toy.write_pair(
        tmp_path, num_frames=16, fps=8, edge_latency_s=0.1875, cloud_latency_s=0.1
    )
    policy = make_policy(edge_every=1, cloud_every=None, tracking=False)
    report = ReplayReport(
        class_names=tuple(toy.CLASSES),
        deadline_frames=1.0,
        score_accuracy=False,
        score_tide=False,
        usd_per_1000_requests=1.0,
    )
    report.add(next(make_scenario(tmp_path, edge=edge, cloud=cloud, policy=policy).run(seed=0)))
    assert report.results()["metrics"]["sim/edge_utilisation"] == pytest.approx(1.0)


def test_display_deadline_zero_shows_only_outputs_published_at_capture(tmp_path):
    """With deadline 0 a frame is scored against what was shown at its own capture."""
    edge, cloud = toy.write_pair(
        tmp_path, num_frames=16, fps=8, edge_latency_s=0.1875, cloud_latency_s=0.1
    )
    policy = make_policy(
        edge_every=1, cloud_every=None, tracking=False, display_deadline_frames=0.0
    )
    device = only_device(make_scenario(tmp_path, edge=edge, cloud=cloud, policy=policy))
    # outputs: frame 0 at 0.1875 (between captures 1 and 2), frame 1 at 0.375 = capture of 3, ...
    assert shown_frames(device, deadline_frames=0.0) == [
        -1, -1, 0, 1, 1, 3, 4, 4, 6, 7, 7, 9, 10, 10, 12, 13,
    ]  # fmt: skip


# -- 2, 3. cloud round trips -----------------------------------------------------------------


def cloud_timing_scenario(tmp_path: Path, *, uplink, encoded_bytes: int = 3000) -> ReactScenario:
    """fps 10, cloud every 5, no edge detector, motion tracker (free), server 0.05 s, downlink
    0.1 s with no rate limit."""
    edge = toy.write_recording(tmp_path / "edge", role="edge", num_frames=10, fps=10, latency_s=0.1)
    cloud = toy.write_recording(
        tmp_path / "cloud",
        role="cloud",
        num_frames=10,
        fps=10,
        latency_s=0.05,
        encoded_bytes=encoded_bytes,
    )
    return make_scenario(
        tmp_path,
        edge=edge,
        cloud=cloud,
        policy=make_policy(edge_every=None, cloud_every=5),
        uplink=uplink,
        downlink=ConstantRateLinkSpec(rate_mbps=None, delay_s=0.1),
        server_profile=constant(0.05),
        tracker_factory=ConstantVelocityTracker,
    )


def test_golden_cloud_timing(tmp_path):
    device = only_device(
        cloud_timing_scenario(tmp_path, uplink=ConstantRateLinkSpec(rate_mbps=None, delay_s=0.1))
    )
    timeline = device.timeline
    assert timeline.sent_frames == [0, 5]
    first, second = timeline.requests
    # sent at 0, at the server at 0.1, done at 0.15, back on the edge at 0.25
    assert first.frame == 0 and first.send_time == 0.0
    assert first.request_bytes == 3000
    assert first.response_time == pytest.approx(0.25, abs=1e-12)
    # fast-tracking is free: ready at once, at the newest frame by 0.25 (frame 2); the pipeline
    # fuses it into the next frame it starts, frame 3 at 0.3
    assert first.ready_time == pytest.approx(0.25, abs=1e-12)
    assert first.fused_frame == 3
    assert second.frame == 5 and second.send_time == 0.5
    assert second.response_time == pytest.approx(0.25, abs=1e-12)
    assert second.fused_frame == 8
    # the server's answer: the recorded detections as JSON
    assert first.response_bytes == len(
        b'{"objects":[{"label":1,"box":[10.0,10.0,30.0,30.0],"score":0.95}]}'
    )

    # no edge detector: the pipeline only tracks, at zero cost, at every capture
    assert timeline.output_frames == list(range(10))
    assert timeline.output_times == [device.capture_time(j) for j in range(10)]
    assert timeline.edge_busy_s == 0.0
    assert {j: a & CLOUD_FUSED for j, a in timeline.actions.items()} == {
        j: CLOUD_FUSED if j in (3, 8) else 0 for j in range(10)
    }
    assert not any(a & EDGE_DETECTED for a in timeline.actions.values())
    assert timeline.actions[4] & TRACKED

    shown = displayed_outputs(device, deadline_frames=1.0)
    assert [int(i) for i in shown] == list(range(10))
    for frame in range(3):
        assert len(device.output(shown[frame])) == 0
    for frame in range(3, 10):
        objects = device.output(shown[frame])
        assert objects.labels.tolist() == [1], frame
    # fused as detected (the constant-velocity tracker has no velocity yet), then decayed
    fused = device.output(3)
    assert fused.boxes.tolist() == [toy.object_box(0)]
    np.testing.assert_allclose(fused.scores, [np.float32(0.95)])
    np.testing.assert_allclose(device.output(4).scores, [np.float32(0.95) * 0.99])

    report = ReplayReport(
        class_names=tuple(toy.CLASSES),
        deadline_frames=1.0,
        score_accuracy=True,
        score_tide=False,
        usd_per_1000_requests=1.0,
    )
    report.add(next(cloud_timing_scenario(tmp_path / "again", uplink=IdealLinkSpec()).run(seed=0)))
    metrics = report.results()["metrics"]
    assert metrics["sim/requests"] == 2 and metrics["sim/responses"] == 2
    assert metrics["sim/cost_usd"] == pytest.approx(0.002)
    assert metrics["sim/bytes_up"] == 6000


@pytest.mark.parametrize(
    ("stride", "ready_time", "fused_frame"),
    [
        # back at 0.25: 0 -> 2 (newest) ready 0.31; 2 -> 3 (newest at 0.31) ready 0.37
        (2, 0.37, 4),
        # 0 -> 1 (0.31) -> 2 (0.37) -> 3 (0.43) -> 4 (0.49), caught up with frame 4
        (1, 0.49, 5),
    ],
)
def test_golden_fast_track_with_costly_tracker_steps(tmp_path, stride, ready_time, fused_frame):
    """As the golden cloud case, but each tracker step takes 0.06 s."""
    edge, cloud = toy.write_pair(
        tmp_path, num_frames=10, fps=10, edge_latency_s=0.1, cloud_latency_s=0.05
    )
    device = only_device(
        make_scenario(
            tmp_path,
            edge=edge,
            cloud=cloud,
            policy=make_policy(edge_every=None, cloud_every=5, fast_track_stride=stride),
            uplink=ConstantRateLinkSpec(rate_mbps=None, delay_s=0.1),
            downlink=ConstantRateLinkSpec(rate_mbps=None, delay_s=0.1),
            server_profile=constant(0.05),
            tracker_factory=ConstantVelocityTracker,
            tracker_latency=constant(0.06),
        )
    )
    first = device.timeline.requests[0]
    assert first.response_time == pytest.approx(0.25, abs=1e-12)
    assert first.ready_time == pytest.approx(ready_time, abs=1e-12)
    assert first.fused_frame == fused_frame
    # no objects, nothing to track: frames up to the fusion are published at capture; each
    # frame after it costs one tracker step
    expected = [device.capture_time(j) for j in range(fused_frame + 1)] + [
        device.capture_time(j) + 0.06 for j in range(fused_frame + 1, 10)
    ]
    np.testing.assert_allclose(device.timeline.output_times, expected, rtol=0, atol=1e-12)
    assert device.timeline.edge_busy_s == pytest.approx(0.06 * (9 - fused_frame))


def test_cloud_staleness_reported(tmp_path):
    device_scenario = cloud_timing_scenario(
        tmp_path, uplink=ConstantRateLinkSpec(rate_mbps=None, delay_s=0.1)
    )
    report = ReplayReport(
        class_names=tuple(toy.CLASSES),
        deadline_frames=1.0,
        score_accuracy=False,
        score_tide=False,
        usd_per_1000_requests=1.0,
    )
    for unit in device_scenario.run(seed=0):
        report.add(unit)
    results = report.results()
    assert report.cloud_staleness == [3, 3]
    assert results["metrics"]["sim/cloud_staleness_mean_frames"] == 3.0
    assert results["response_times_s"] == pytest.approx([0.25, 0.25], abs=1e-12)


def test_rate_limited_uplink_adds_serialization(tmp_path):
    """8 Mbps and 10,000-byte frames: 0.01 s of serialization before the 0.1 s delay."""
    device = only_device(
        cloud_timing_scenario(
            tmp_path,
            uplink=ConstantRateLinkSpec(rate_mbps=8.0, delay_s=0.1),
            encoded_bytes=10_000,
        )
    )
    first, second = device.timeline.requests
    assert first.request_bytes == 10_000
    assert first.response_time == pytest.approx(0.01 + 0.1 + 0.05 + 0.1, abs=1e-12)
    assert second.response_time == pytest.approx(0.26, abs=1e-12)
    # back at 0.26 (newest frame 2), fused into frame 3
    assert (first.fused_frame, second.fused_frame) == (3, 8)


def test_mahimahi_uplink(tmp_path):
    """A trace of one packet per millisecond (a single line "1", looping every 1 ms): a
    3000-byte frame is two 1500-byte packets."""
    trace = tmp_path / "one_per_ms.trace"
    trace.write_text("1\n")
    uplink = MahimahiLinkSpec(trace_file=trace, propagation_delay_s=0.02)
    device = only_device(cloud_timing_scenario(tmp_path, uplink=uplink, encoded_bytes=3000))
    first, second = device.timeline.requests
    # sent at 0: packets in the 1 and 2 ms opportunities, + 20 ms -> server at 0.022, done
    # 0.072, edge at 0.172 (newest frame 1) -> fused into frame 2
    assert first.response_time == pytest.approx(0.172, abs=1e-12)
    assert first.fused_frame == 2
    # sent at 0.5: the 500 ms opportunity is usable -> 500, 501 ms -> 0.521 -> 0.571 -> 0.671
    assert second.response_time == pytest.approx(0.171, abs=1e-12)
    assert second.fused_frame == 7


def test_zero_latency_cloud_is_fused_into_its_own_frame(tmp_path):
    """Ideal links and a zero-latency server: a response to frame j arrives at j's capture,
    before the pipeline starts j (event priorities), so it is fused into j itself."""
    edge, cloud = toy.write_pair(
        tmp_path, num_frames=10, fps=10, edge_latency_s=0.1, cloud_latency_s=0.0
    )
    device = only_device(
        make_scenario(
            tmp_path,
            edge=edge,
            cloud=cloud,
            policy=make_policy(edge_every=None, cloud_every=3),
            tracker_factory=ConstantVelocityTracker,
        )
    )
    assert [(r.frame, r.fused_frame, r.response_time) for r in device.timeline.requests] == [
        (0, 0, 0.0),
        (3, 3, 0.0),
        (6, 6, 0.0),
        (9, 9, 0.0),
    ]


# -- 4. offline upper bound ------------------------------------------------------------------


def offline_cloud_metrics(cloud: Path, sequences: tuple[str, ...]) -> dict[str, float]:
    recording = DetectionRecording.open(cloud)
    ground_truth, detections, sizes = [], [], []
    for name in sequences:
        sequence = recording.sequence(name)
        for frame in range(sequence.num_frames):
            ground_truth.append(sequence.ground_truth(frame))
            detections.append(sequence.detections(frame))
            sizes.append((sequence.height, sequence.width))
    return evaluate_detections(
        ground_truth=ground_truth,
        detections=detections,
        class_names=recording.class_names,
        image_sizes=sizes,
    ).as_dict(prefix="sim/")


@pytest.mark.parametrize("detector", ["random", "noisy"])
def test_offline_upper_bound_reproduces_offline_map(tmp_path, detector):
    sequences = ("a", "b")
    edge = toy.write_recording(
        tmp_path / "edge", role="edge", num_frames=15, fps=10, latency_s=0.1, sequences=sequences
    )
    if detector == "random":  # seed 7: one lucky box, mAP50 0.0015
        cloud = toy.write_recording(
            tmp_path / "cloud",
            role="cloud",
            num_frames=15,
            fps=10,
            latency_s=0.3,
            sequences=sequences,
            random_seed=7,
        )
    else:
        cloud = write_noisy_recording(
            tmp_path / "cloud", num_frames=15, fps=10, seed=3, sequences=sequences
        )
    scenario = make_scenario(
        tmp_path,
        edge=edge,
        cloud=cloud,
        policy=make_policy(edge_every=None, cloud_every=1, tracking=False, detection_threshold=0.0),
        server_profile=constant(0.0, max_batch_size=64),
        tracker_factory=ConstantVelocityTracker,
    )
    report = ReplayReport(
        class_names=scenario.class_names,
        deadline_frames=1.0,
        score_accuracy=True,
        score_tide=False,
        usd_per_1000_requests=1.0,
    )
    for unit in scenario.run(seed=0):
        (device,) = unit.devices
        assert [r.fused_frame for r in device.timeline.requests] == list(range(15))
        report.add(unit)
    metrics = report.results()["metrics"]
    expected = offline_cloud_metrics(cloud, sequences)
    assert 0.0 < expected["sim/mAP50"] < 1.0
    assert 0.0 < expected["sim/mAP"] < expected["sim/mAP50"]
    for key, value in expected.items():
        assert metrics[key] == value, key
    assert set(report.cloud_staleness) == {0}
    assert set(report.display_staleness) == {0}


# -- 5. causality under random latencies -----------------------------------------------------


def random_trace(path: Path, *, seed: int) -> Path:
    """A bursty Mahimahi trace: 400 ms with 0-3 packet opportunities per millisecond."""
    rng = np.random.default_rng(seed)
    per_ms = rng.integers(0, 4, 400)
    per_ms[-1] = max(per_ms[-1], 1)
    lines = [str(ms) for ms in range(1, 401) for _ in range(per_ms[ms - 1])]
    path.write_text("\n".join(lines) + "\n")
    return path


def check_causality(device: EdgeDevice, *, deadline_frames: float) -> None:
    timeline = device.timeline
    times = np.asarray(timeline.output_times)
    frames = np.asarray(timeline.output_frames)
    assert len(times) == len(frames) == len(timeline.output_objects) == len(timeline.actions)
    assert np.all(np.diff(times) >= 0), "outputs published out of time order"
    assert np.all(np.diff(frames) > 0), "output frames not increasing"
    # nothing is published before its frame was captured, and a frame is only processed after
    # the previous one is done: its start is max(capture, previous output)
    starts = np.maximum(
        [device.capture_time(int(f)) for f in frames], np.concatenate([[0.0], times[:-1]])
    )
    assert np.all(times >= starts)
    start_of = dict(zip(frames.tolist(), starts.tolist(), strict=True))
    output_time_of = dict(zip(frames.tolist(), times.tolist(), strict=True))

    for request in timeline.requests:
        assert request.send_time == device.capture_time(request.frame)
        assert math.isfinite(request.response_time), "every request is answered"
        assert request.response_time >= 0
        assert request.ready_time >= request.send_time + request.response_time - 1e-12
        if request.fused_frame >= 0:
            assert request.fused_frame >= request.frame
            assert timeline.actions[request.fused_frame] & CLOUD_FUSED
            assert start_of[request.fused_frame] >= request.ready_time
            assert output_time_of[request.fused_frame] >= request.ready_time
    # a result is consumed by the first frame the pipeline starts once it is ready: fused
    # there, or discarded if a newer frame's result was fused before
    discarded = 0
    for request in timeline.requests:
        if request.ready_time <= starts[-1]:
            first = int(frames[np.argmax(starts >= request.ready_time)])
            if request.fused_frame >= 0:
                assert request.fused_frame == first
            else:
                discarded += 1
                assert any(
                    r.frame > request.frame and 0 <= r.fused_frame <= first
                    for r in timeline.requests
                )
        else:
            assert request.fused_frame == -1
    assert discarded == timeline.discarded_results
    fused_frames = [r.fused_frame for r in timeline.requests if r.fused_frame >= 0]
    assert sorted(fused_frames) == fused_frames
    assert {f for f, a in timeline.actions.items() if a & CLOUD_FUSED} == set(fused_frames)

    shown = displayed_outputs(device, deadline_frames=deadline_frames)
    for frame, index in enumerate(shown.tolist()):
        deadline = device.start_time_s + (frame + deadline_frames) / device.fps
        if index >= 0:
            assert frames[index] <= frame, "shows an output about a later frame"
            assert times[index] <= deadline, "shows an output published after the deadline"
        # it is the newest such output
        following = index + 1
        if following < len(frames):
            assert frames[following] > frame or times[following] > deadline


@pytest.mark.parametrize("seed", [0, 1])
def test_causality_under_random_latencies(tmp_path, seed):
    sequences = ("a", "b")
    edge = toy.write_recording(
        tmp_path / "edge",
        role="edge",
        num_frames=60,
        fps=30,
        latency_s=0.05,
        sequences=sequences,
        random_seed=10 + seed,
    )
    cloud = toy.write_recording(
        tmp_path / "cloud",
        role="cloud",
        num_frames=60,
        fps=30,
        latency_s=0.05,
        sequences=sequences,
        random_seed=20 + seed,
        encoded_bytes=6000,
    )
    scenario = make_scenario(
        tmp_path,
        edge=edge,
        cloud=cloud,
        policy=make_policy(
            edge_every=2, cloud_every=3, detection_threshold=0.3, fast_track_stride=2
        ),
        uplink=MahimahiLinkSpec(
            trace_file=random_trace(tmp_path / "up.trace", seed=seed),
            propagation_delay_s=0.02,
            random_start=True,
        ),
        downlink=ConstantRateLinkSpec(rate_mbps=5.0, delay_s=0.04, jitter_s=0.03),
        server=ServerSettings(num_workers=2, batch_size=2, max_delay_s=0.01),
        server_profile=ComputeProfile(
            name="server", samples={1: [0.02, 0.09, 0.2], 2: [0.05, 0.3]}, mode="sample"
        ),
        edge_profile=ComputeProfile(
            name="edge", samples={1: [0.0, 0.02, 0.07, 0.13, 0.26]}, mode="sample"
        ),
        tracker_factory=functools.partial(ConstantVelocityTracker, velocity_smoothing=0.5),
        tracker_latency=ComputeProfile(
            name="tracker", samples={1: [0.0, 0.004, 0.03]}, mode="sample"
        ),
    )
    fused = discarded = 0
    for unit in scenario.run(seed=seed):
        (device,) = unit.devices
        check_causality(device, deadline_frames=1.0)
        assert device.timeline.sent_frames == list(range(0, 60, 3))
        assert unit.server.requests_served == len(device.timeline.requests)
        assert min(unit.server.queue_waits) >= 0
        assert unit.horizon_s >= device.capture_time(device.num_frames)
        assert unit.horizon_s >= max(
            r.send_time + r.response_time for r in device.timeline.requests
        )
        fused += sum(r.fused_frame >= 0 for r in device.timeline.requests)
        discarded += device.timeline.discarded_results
    # the properties were checked on something
    assert fused > 10
    assert discarded > 0


def test_same_seed_same_timeline(tmp_path):
    edge = toy.write_recording(
        tmp_path / "edge", role="edge", num_frames=40, fps=30, latency_s=0.05, random_seed=1
    )
    cloud = toy.write_recording(
        tmp_path / "cloud", role="cloud", num_frames=40, fps=30, latency_s=0.05, random_seed=2
    )
    scenario = make_scenario(
        tmp_path,
        edge=edge,
        cloud=cloud,
        policy=make_policy(edge_every=2, cloud_every=3),
        downlink=ConstantRateLinkSpec(rate_mbps=None, delay_s=0.05, jitter_s=0.04),
        edge_profile=ComputeProfile(name="edge", samples={1: [0.01, 0.05, 0.12]}),
        tracker_factory=ConstantVelocityTracker,
    )

    def summary(seed):
        timeline = only_device(scenario, seed=seed).timeline
        return (
            timeline.output_times,
            timeline.output_frames,
            [(r.response_time, r.fused_frame) for r in timeline.requests],
        )

    assert summary(5) == summary(5)
    assert summary(5) != summary(6)


# -- 9. change detector ----------------------------------------------------------------------


def test_change_detector_fires_only_on_moving_frames(tmp_path):
    """Frames 0-7 are identical, from frame 8 on the scene pans 3 px per frame: the detectors
    run on frame 0 (motion[0] = inf) and on the moving frames only."""
    num_frames, first_moving = 16, 8
    background = textured_background(seed=4)
    images = [
        np.roll(background, 3 * max(0, frame - first_moving + 1), axis=1)
        for frame in range(num_frames)
    ]
    frames_root = tmp_path / "frames"
    write_frames(frames_root / "toy", images)
    edge, cloud = toy.write_pair(
        tmp_path, num_frames=num_frames, fps=10, edge_latency_s=0.01, cloud_latency_s=0.01
    )
    scenario = make_scenario(
        tmp_path,
        edge=edge,
        cloud=cloud,
        policy=make_policy(edge_every=1, cloud_every=1, motion_threshold=1.0, tracking=False),
        frames_root=frames_root,
    )
    assert scenario.needs_frames
    device = only_device(scenario)
    motion = device.sequence.motion
    assert motion[0] == math.inf
    assert np.all(motion[1:first_moving] < 1.0)
    assert np.all(motion[first_moving:] > 1.0)

    moving = [0, *range(first_moving, num_frames)]
    timeline = device.timeline
    assert timeline.output_frames == list(range(num_frames))  # every frame is processed
    assert [f for f, a in sorted(timeline.actions.items()) if a & EDGE_DETECTED] == moving
    assert timeline.sent_frames == moving
    # the motion cache was written, and a second build reads it
    assert list((tmp_path / "motion_cache").glob("frame_motion_*.npy"))
    again = only_device(scenario)
    np.testing.assert_array_equal(again.sequence.motion, motion)


def test_change_detector_without_frames_root_fails_at_build(tmp_path):
    edge, cloud = toy.write_pair(
        tmp_path, num_frames=4, fps=10, edge_latency_s=0.01, cloud_latency_s=0.01
    )
    with pytest.raises(FileNotFoundError, match="change detector"):
        make_scenario(
            tmp_path,
            edge=edge,
            cloud=cloud,
            policy=make_policy(motion_threshold=1.0),
            frames_root=tmp_path / "nope",
        )


def test_pixel_tracker_needs_as_many_frames_as_the_recording(tmp_path):
    from edgecloud.tracking import LucasKanadeTracker

    edge, cloud = toy.write_pair(
        tmp_path, num_frames=6, fps=10, edge_latency_s=0.01, cloud_latency_s=0.01
    )
    frames_root = tmp_path / "frames"
    toy_frames(frames_root / "toy", num_frames=5)
    scenario = make_scenario(
        tmp_path,
        edge=edge,
        cloud=cloud,
        policy=make_policy(edge_every=2, cloud_every=3),
        tracker_factory=LucasKanadeTracker,
        frames_root=frames_root,
    )
    with pytest.raises(ValueError, match="5 image files, but the recording has 6 frames"):
        list(scenario.run(seed=0))


def test_pixel_tracker_follows_the_toy_object(tmp_path):
    """LK on the toy frames: edge every 4 frames, the tracked box follows the object."""
    from edgecloud.tracking import LucasKanadeTracker

    edge, cloud = toy.write_pair(
        tmp_path, num_frames=12, fps=10, edge_latency_s=0.01, cloud_latency_s=0.01
    )
    frames_root = tmp_path / "frames"
    toy_frames(frames_root / "toy", num_frames=12)
    device = only_device(
        make_scenario(
            tmp_path,
            edge=edge,
            cloud=cloud,
            policy=make_policy(edge_every=4, cloud_every=None),
            tracker_factory=LucasKanadeTracker,
            tracker_latency=constant(0.005),
            frames_root=frames_root,
        )
    )
    timeline = device.timeline
    assert timeline.output_frames == list(range(12))
    for frame, objects in zip(
        timeline.output_frames, map(device.output, range(len(timeline.output_frames))), strict=True
    ):
        assert timeline.actions[frame] & EDGE_DETECTED == (EDGE_DETECTED if frame % 4 == 0 else 0)
        (box,) = objects.boxes.tolist()
        np.testing.assert_allclose(box, toy.object_box(frame), atol=1.5)


# -- 10. shared layout -----------------------------------------------------------------------


def test_shared_load_generators(tmp_path):
    """3 devices on one server, 0.3 s apart, each sending every 4th frame of a 10-frame video
    looped to 2.5 s (25 frames); the server takes 0.15 s per request, so requests queue."""
    edge = toy.write_recording(
        tmp_path / "edge", role="edge", num_frames=10, fps=10, latency_s=0.05
    )
    cloud = toy.write_recording(
        tmp_path / "cloud", role="cloud", num_frames=10, fps=10, latency_s=0.15, encoded_bytes=4321
    )
    scenario = make_scenario(
        tmp_path,
        edge=edge,
        cloud=cloud,
        policy=make_policy(edge_every=None, cloud_every=4),
        server_profile=constant(0.15),
        layout=DeviceLayout(
            mode="shared", count=3, duration_s=2.5, start_spacing_s=0.3, pipeline=False
        ),
        tracker_factory=ConstantVelocityTracker,
    )
    (unit,) = list(scenario.run(seed=0))
    assert [d.device_id for d in unit.devices] == [0, 1, 2]
    sent = list(range(0, 25, 4))
    for device in unit.devices:
        timeline = device.timeline
        assert device.num_frames == 25
        assert device.start_time_s == pytest.approx(0.3 * device.device_id)
        assert timeline.sent_frames == sent
        assert [r.send_time for r in timeline.requests] == [device.capture_time(f) for f in sent]
        assert all(r.request_bytes == 4321 for r in timeline.requests)
        assert all(r.response_time >= 0.15 - 1e-12 for r in timeline.requests)
        # load generators run no pipeline
        assert timeline.output_frames == [] and timeline.actions == {}
        assert all(r.fused_frame == -1 and math.isnan(r.ready_time) for r in timeline.requests)
    requests = 3 * len(sent)
    stats = unit.server
    assert stats.requests_served == requests == stats.batches
    assert sum(stats.busy_time_per_worker) == pytest.approx(0.15 * requests)
    assert max(stats.queue_waits) > 0  # 0.6 + 0.8 k and 0.4 k collide
    assert unit.horizon_s >= 0.6 + 2.5

    report = ReplayReport(
        class_names=scenario.class_names,
        deadline_frames=1.0,
        score_accuracy=False,
        score_tide=False,
        usd_per_1000_requests=2.0,
    )
    report.add(unit)
    metrics = report.results()["metrics"]
    assert metrics["sim/devices"] == 3
    assert metrics["sim/frames"] == 75
    assert metrics["sim/requests"] == metrics["sim/responses"] == requests
    assert metrics["sim/processed_frames"] == 0
    assert metrics["sim/server_mean_batch_size"] == 1.0
    assert metrics["sim/cost_usd"] == pytest.approx(requests * 2.0 / 1000)
    assert metrics["sim/bytes_up"] == requests * 4321
    assert metrics["sim/server_throughput_rps"] == pytest.approx(requests / unit.horizon_s)


def test_shared_devices_replay_sequences_round_robin_and_loop(tmp_path):
    """Pipelines on: device d replays sequence d mod 2, looped past its 6 recorded frames; with
    the edge detector on every frame and no tracking each output is the recorded frame's box."""
    sequences = ("s0", "s1")
    edge = toy.write_recording(
        tmp_path / "edge", role="edge", num_frames=6, fps=10, latency_s=0.02, sequences=sequences
    )
    cloud = toy.write_recording(
        tmp_path / "cloud", role="cloud", num_frames=6, fps=10, latency_s=0.02, sequences=sequences
    )
    scenario = make_scenario(
        tmp_path,
        edge=edge,
        cloud=cloud,
        policy=make_policy(edge_every=1, cloud_every=5, tracking=False),
        layout=DeviceLayout(mode="shared", count=3, duration_s=1.5, start_spacing_s=0.05),
        server_profile=constant(0.02),
    )
    (unit,) = list(scenario.run(seed=0))
    assert [d.sequence.name for d in unit.devices] == ["s0", "s1", "s0"]
    for device in unit.devices:
        timeline = device.timeline
        assert device.num_frames == 15
        assert timeline.output_frames == list(range(15))
        check_causality(device, deadline_frames=1.0)
        for frame, objects in zip(
            timeline.output_frames,
            map(device.output, range(len(timeline.output_frames))),
            strict=True,
        ):
            edge_box = toy.object_box(frame % 6)
            assert edge_box in objects.boxes.tolist(), frame
    assert unit.server.requests_served == 3 * 3


def test_closed_loop_load_generator_waits_after_each_answer(tmp_path):
    """Like a Locust user: send, wait for the answer, wait m frames' worth of time, send again.

    fps 10, m = 20 (2 s), server 0.5 s, ideal links: sends at 0, 2.5, 5.0, 7.5; the next one
    (10.0 s) would come after the last frame (9.9 s)."""
    edge, cloud = toy.write_pair(
        tmp_path, num_frames=100, fps=10, edge_latency_s=0.01, cloud_latency_s=0.01
    )
    scenario = make_scenario(
        tmp_path,
        edge=edge,
        cloud=cloud,
        policy=make_policy(edge_every=None, cloud_every=20),
        server_profile=constant(0.5),
        layout=DeviceLayout(mode="shared", count=1, pipeline=False, load="closed"),
    )
    device = only_device(scenario)
    requests = device.timeline.requests
    assert [r.send_time for r in requests] == [0.0, 2.5, 5.0, 7.5]
    assert device.timeline.sent_frames == [0, 25, 50, 75]
    assert all(r.response_time == 0.5 for r in requests)


def test_closed_loop_needs_load_generators():
    with pytest.raises(ValueError, match="pipeline=false"):
        DeviceLayout(mode="shared", count=1, pipeline=True, load="closed")


def test_each_device_can_have_its_own_uplink(tmp_path):
    """A list of uplink specs gives device d the spec d mod len: 0.1 s and 0.3 s one-way here."""
    edge, cloud = toy.write_pair(
        tmp_path, num_frames=20, fps=10, edge_latency_s=0.01, cloud_latency_s=0.01
    )
    scenario = make_scenario(
        tmp_path,
        edge=edge,
        cloud=cloud,
        policy=make_policy(edge_every=None, cloud_every=10),
        uplink=[
            ConstantRateLinkSpec(rate_mbps=None, delay_s=0.1),
            ConstantRateLinkSpec(rate_mbps=None, delay_s=0.3),
        ],
        layout=DeviceLayout(mode="shared", count=3, pipeline=False),
        server=ServerSettings(num_workers=3, batch_size=1, max_delay_s=0.0),
    )
    (unit,) = list(scenario.run(seed=0))
    response_times = [
        sorted({round(r.response_time, 9) for r in device.timeline.requests})
        for device in unit.devices
    ]
    assert response_times == [[0.1], [0.3], [0.1]]
