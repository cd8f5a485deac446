"""The Runespoor scenario on a hand-built knob recording: CAC switches to the tail
configuration one response after a tail burst starts and back after it ends, AWStream reacts
only after a profiling round, the standard policy never switches, and the timing is exact.
Over a hand-built Mahimahi trace the measured bandwidth estimate picks the configuration."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from edgecloud.cli.simulate import simulate
from edgecloud.control.recording_profile import profile_recording
from edgecloud.data.degradation import Knobs
from edgecloud.metrics.segmentation import accumulated_miou
from edgecloud.recording.knobs import KnobRecording, KnobRecordingWriter
from edgecloud.sim.network import ConstantRateLinkSpec, IdealLinkSpec, MahimahiLinkSpec
from edgecloud.sim.network.piecewise import PiecewiseRateLinkSpec
from edgecloud.sim.runespoor.replay import frame_stream
from edgecloud.sim.runespoor.report import TABLE5_COLUMNS, switches
from edgecloud.sim.runespoor.run import ProfilingSettings, run_runespoor, split_clips
from edgecloud.sim.runespoor.scenario import EdgeSettings, simulate_method
from tests.conftest import compose_config

# standard: low resolution, high quality; tail: higher resolution, lower quality, same bytes
STANDARD, TAIL = Knobs(scale=4, quality=90), Knobs(scale=2, quality=40)
FPS = 10.0
FRAMES = 40
BURST = range(10, 16)  # tail frames of the replayed clip
LATENCY_S = 0.05  # restore + segment, per frame and configuration
CLASSES = 2


def _clip(
    tail_frames, *, ordinary=(0.8, 0.7), tail=(0.2, 0.6), frame_bytes=(1000, 1000)
) -> dict[str, np.ndarray]:
    """Ordinary frames: the standard configuration scores 0.8, the tail one 0.7 and the
    prediction shows 5% small regions; tail frames: 0.2 and 0.6, and 0.1% small regions
    (or the given scores and sizes of the two configurations)."""
    is_tail = np.zeros(FRAMES, dtype=bool)
    is_tail[list(tail_frames)] = True
    frame_miou = np.where(is_tail, np.array(tail)[:, None], np.array(ordinary)[:, None])
    union = np.full((2, FRAMES, CLASSES), 1000, np.int64)
    intersection = np.round(frame_miou[..., None] * union).astype(np.int64)
    small = np.where(is_tail, 0.001, 0.05)
    hr_union = np.full((FRAMES, CLASSES), 1000, np.int64)
    return {
        "frame_bytes": np.repeat(np.array(frame_bytes, np.int64)[:, None], FRAMES, axis=1),
        "intersection": intersection,
        "union": union,
        "frame_miou": frame_miou,
        "small_ratio": np.stack([small, small]),
        "restore_latency_s": np.full((2, FRAMES), LATENCY_S / 2),
        "segment_latency_s": np.full((2, FRAMES), LATENCY_S / 2),
        "hr_intersection": hr_union,
        "hr_union": hr_union,
        "hr_frame_miou": np.ones(FRAMES),
        "hr_small_ratio": small,
        "gt_small_ratio": small,
    }


@pytest.fixture
def recording(tmp_path):
    root = tmp_path / "knobs"
    writer = KnobRecordingWriter(
        root, class_names=["road", "pole"], knobs=[STANDARD, TAIL], metadata={}
    )
    writer.add_clip("profile_000000", fps=FPS, arrays=_clip(range(0, 40, 8)))
    writer.add_clip("replay_000001", fps=FPS, arrays=_clip(BURST))
    writer.close()
    return root


# a recording whose standard configuration is small (500 bytes, 0.6) and LARGE big and better
# (2000 bytes, 0.9): the policy sends LARGE from 2000 * 8 * FPS bit/s up
LARGE = Knobs(scale=2, quality=90)
LARGE_FROM_BPS = 2000 * 8 * FPS


@pytest.fixture
def sized_recording(tmp_path):
    root = tmp_path / "sized"
    writer = KnobRecordingWriter(
        root, class_names=["road", "pole"], knobs=[STANDARD, LARGE], metadata={}
    )
    for name, tail_frames in (("profile_000000", range(0, 40, 8)), ("replay_000001", BURST)):
        arrays = _clip(tail_frames, ordinary=(0.6, 0.9), tail=(0.3, 0.5), frame_bytes=(500, 2000))
        writer.add_clip(name, fps=FPS, arrays=arrays)
    writer.close()
    return root


@pytest.fixture
def fading_trace(tmp_path):
    """100-byte packets, one per millisecond (800 kbit/s) for 2 s, then one per 10 ms
    (80 kbit/s) for 2 s; no propagation delay."""
    path = tmp_path / "fading.up"
    path.write_text("".join(f"{ms}\n" for ms in [*range(1, 2001), *range(2010, 4001, 10)]))
    return MahimahiLinkSpec(trace_file=path, packet_bytes=100)


def _run(recording, tmp_path, *, methods, uplink=None, edge=None, **kwargs):
    return run_runespoor(
        recording_root=recording,
        methods=methods,
        profiling=ProfilingSettings(profiling_clips=1),
        edge={"header_bytes": 0, "response_bytes": 0, "estimate_delay_s": 0.0, **(edge or {})},
        duration_s=None,
        uplink=uplink or ConstantRateLinkSpec(rate_mbps=0.1, delay_s=0.0),
        downlink=IdealLinkSpec(),
        server_profile=None,
        seed=0,
        output_dir=tmp_path,
        **kwargs,
    )


def test_cac_switches_to_the_tail_configuration_after_a_burst_and_back(recording, tmp_path):
    results = _run(recording, tmp_path, methods=["standard", "runespoor"])
    # 1000 bytes at 0.1 Mbps take 80 ms, the server 50 ms: a frame's response arrives 130 ms
    # after its capture, so the frame captured 200 ms after it is the first to react
    first_tail, last_tail = BURST[0], BURST[-1]
    switches = results["switches"]["runespoor"]
    assert [(s["frame"], s["to"], s["cause"]) for s in switches] == [
        (first_tail + 2, TAIL.name, "tail"),
        (last_tail + 3, STANDARD.name, "tail"),
    ]
    assert switches[0]["trigger_frame"] == first_tail
    assert switches[0]["delay_s"] == pytest.approx(0.2)
    assert results["switches"]["standard"] == []
    metrics = results["metrics"]
    assert metrics["sim/runespoor/tail_switch_delay_median_s"] == pytest.approx(0.2)
    assert metrics["sim/runespoor/end_to_end_mean_s"] == pytest.approx(0.13)
    assert metrics["sim/runespoor/uplink_s"] == pytest.approx(0.08)
    # accuracy: the standard configuration scores 0.2 on all six tail frames; CAC sends
    # four of them with the tail configuration (0.6) and two ordinary frames with it (0.7)
    standard_miou = (34 * 0.8 + 6 * 0.2) / 40
    cac_miou = (32 * 0.8 + 2 * 0.7 + 2 * 0.2 + 4 * 0.6) / 40
    assert metrics["sim/standard/miou"] == pytest.approx(standard_miou, abs=1e-3)
    assert metrics["sim/runespoor/miou"] == pytest.approx(cac_miou, abs=1e-3)
    assert metrics["sim/runespoor/mbps"] == pytest.approx(metrics["sim/standard/mbps"])
    assert metrics["sim/runespoor/frames_in_tail"] == 6
    # the threshold separates 0.1% from 5% small regions and catches every tail frame
    assert 0.001 < metrics["profile/threshold"] <= 0.05
    assert metrics["profile/fit_recall"] == 1.0


def test_awstream_follows_its_profiling_rounds_and_pays_for_them(recording, tmp_path):
    results = _run(recording, tmp_path, methods=["awstream"], edge={"profiling_period_s": 1.2})
    rounds_at = [0, 12, 24, 36]  # a round starts with the first frame at or after each period
    # each round sends both configurations' bytes behind its frame
    metrics = results["metrics"]
    duration = FRAMES / FPS
    assert metrics["sim/awstream/profiling_mbps"] == pytest.approx(
        8 * 2000 * len(rounds_at) / duration / 1e6
    )
    # the round on frame 12 (inside the burst) picks the tail configuration; the one on frame
    # 24 (ordinary again) picks the standard one
    switches = results["switches"]["awstream"]
    assert [(s["to"], s["cause"], s["trigger_frame"]) for s in switches] == [
        (TAIL.name, "profiling", 12),
        (STANDARD.name, "profiling", 24),
    ]
    assert switches[0]["delay_s"] > 0.1


def test_bandwidth_changes_pick_the_policy_for_the_new_rate(recording, tmp_path):
    # 1000-byte frames at 10 fps need 0.08 Mbps: below that nothing fits and the smallest
    # configuration is sent; the bandwidth cause is reported
    uplink = PiecewiseRateLinkSpec(
        segments=[
            {"name": "fast", "duration_s": 2.0, "rate_mbps": 1.0},
            {"name": "slow", "duration_s": None, "rate_mbps": 0.05},
        ]
    )
    results = _run(recording, tmp_path, methods=["standard"], uplink=uplink)
    per_second_rows = results["per_second"]["standard"]
    assert per_second_rows["bandwidth_mbps"] == [1.0, 1.0, 0.05, 0.05]
    # the slow link queues frames: latency grows second by second
    frames = np.genfromtxt(tmp_path / "frames.csv", delimiter=",", names=True, dtype=None)
    latency = frames["response_s"] - frames["capture_s"]
    assert np.all(np.diff(latency[20:]) > 0)


def test_per_second_accuracy_is_relative_to_hr(recording, tmp_path):
    results = _run(recording, tmp_path, methods=["standard"])
    rows = results["per_second"]["standard"]
    # second 1 holds frames 10..19: six tail frames at 0.2, four ordinary at 0.8
    assert rows["relative"][1] == pytest.approx((6 * 0.2 + 4 * 0.8) / 10, abs=1e-3)
    assert rows["mbps"] == pytest.approx([0.08] * 4)


def test_accumulated_miou_skips_classes_absent_everywhere() -> None:
    intersection = np.array([[1, 0, 0], [3, 0, 0]])
    union = np.array([[2, 4, 0], [2, 0, 0]])
    assert accumulated_miou(intersection, union) == pytest.approx((4 / 4 + 0 / 4) / 2)
    assert np.isnan(accumulated_miou(intersection[:, 2:], union[:, 2:]))


def test_split_needs_clips_on_both_sides() -> None:
    assert split_clips(["a", "b", "c"], profiling_clips=2) == (["a", "b"], ["c"])
    with pytest.raises(ValueError, match="profiling_clips must leave clips on both sides"):
        split_clips(["a", "b"], profiling_clips=2)


def test_simulate_py_runs_the_scenario_byte_for_byte_again(recording, tmp_path, data_dir):
    outputs = []
    for run in ("a", "b"):
        cfg = compose_config(
            "simulate",
            overrides=[
                "experiment=runespoor/sim/fig12",
                f"scenario.recording={recording}",
                "scenario.profiling.profiling_clips=1",
            ],
            tmp_path=tmp_path / run,
            data_dir=data_dir,
        )
        metrics = simulate(cfg)
        outputs.append(tmp_path / run / "run")
        assert metrics["sim/runespoor/relative_miou"] > metrics["sim/standard/relative_miou"]
    for name in ("results.json", "per_second.csv", "frames.csv", "fig12.png", "table5.md"):
        assert (outputs[0] / name).read_bytes() == (outputs[1] / name).read_bytes()
    results = json.loads((outputs[0] / "results.json").read_text())
    assert results["replay"]["frames"] == 250  # 25 s at 10 fps, the replay clip looped


def test_a_trace_uplink_is_refused_for_the_bandwidth_estimate(
    recording, tmp_path, fading_trace
) -> None:
    for uplink in (IdealLinkSpec(), fading_trace):
        with pytest.raises(ValueError, match="constant or piecewise-rate uplink"):
            _run(recording, tmp_path, methods=["standard"], uplink=uplink)


def test_over_a_trace_the_measured_estimate_picks_the_configuration(
    sized_recording, fading_trace
) -> None:
    recording = KnobRecording.open(sized_recording)
    profile = profile_recording(recording, clip_names=["profile_000000"])
    stream = frame_stream(recording, clip_names=["replay_000001"])
    settings = EdgeSettings(
        tail_threshold=profile.threshold_fit.threshold,
        header_bytes=0,
        response_bytes=0,
        bandwidth_estimator="throughput",
        initial_estimate_mbps=0.5,
    )
    run = simulate_method(
        method="standard",
        stream=stream,
        profiles=list(profile.profiles),
        settings=settings,
        uplink_spec=fading_trace,
        downlink_spec=IdealLinkSpec(),
        server_profile=None,
        seed=0,
    )
    log = run.frames
    large = stream.knobs.index(LARGE)
    # the configuration follows the estimate: LARGE exactly when its bytes fit
    np.testing.assert_array_equal(log.knob == large, log.bandwidth_bps >= LARGE_FROM_BPS)
    # the estimate is the harmonic mean of the goodput of the last five frames whose response
    # had come back by the capture; a frame's transmission starts when it is sent or when the
    # frame before it was delivered (here the responses come back in order)
    assert np.all(np.diff(log.response_s) >= 0)
    capture = np.arange(stream.num_frames) / FPS
    start = np.maximum(capture, np.r_[0.0, log.uplink_arrival_s[:-1]])
    goodput = 8 * log.sent_bytes / (log.uplink_arrival_s - start)
    for n in range(stream.num_frames):
        known = goodput[:n][log.response_s[:n] <= capture[n]][-5:]
        expected = known.size / np.sum(1 / known) if known.size else 0.5e6
        assert log.bandwidth_bps[n] == pytest.approx(expected, rel=1e-12), n
    # by hand: frame 0 goes out on the initial 0.5 Mbit/s; its 20 packets take 20 ms, so
    # frame 1 sees 800 kbit/s. From 2 s a LARGE frame takes 0.2 s and its response comes back
    # 0.05 s later: frame 20's at 2.24 s, 21's at 2.44 s, 22's at 2.64 s, so the estimate at
    # frame 27 holds three slow frames (84, 80, 80 kbit/s) and two fast ones, 127 kbit/s
    assert log.bandwidth_bps[:2] == pytest.approx([0.5e6, 800e3])
    assert log.bandwidth_bps[27] == pytest.approx(5 / (2 * 0.019 / 16e3 + (0.19 + 0.4) / 16e3))
    assert [(s["frame"], s["to"], s["cause"]) for s in switches(run)] == [
        (27, STANDARD.name, "bandwidth")
    ]


def test_cellular_experiment_runs_byte_for_byte_again_and_writes_table5(
    recording, tmp_path, data_dir
):
    outputs = []
    for run in ("a", "b"):
        cfg = compose_config(
            "simulate",
            overrides=[
                "experiment=runespoor/sim/cellular",
                f"scenario.recording={recording}",
                "scenario.profiling.profiling_clips=1",
            ],
            tmp_path=tmp_path / run,
            data_dir=data_dir,
        )
        assert cfg.scenario.edge.bandwidth_estimator == "throughput"
        assert cfg.scenario.edge.uplink_delay_s == 0.02  # the uplink trace's propagation delay
        simulate(cfg)
        outputs.append(tmp_path / run / "run")
    for name in ("results.json", "per_second.csv", "frames.csv", "fig12.png", "table5.md"):
        assert (outputs[0] / name).read_bytes() == (outputs[1] / name).read_bytes()
    results = json.loads((outputs[0] / "results.json").read_text())
    methods = list(cfg.scenario.methods)
    # every method measured its own sends
    estimates = [results["per_second"][method]["bandwidth_mbps"] for method in methods]
    assert estimates[0] != estimates[1] or estimates[1] != estimates[2]
    # table5.md holds results.json's latency breakdown in ms, one row per method
    rows = [
        line for line in (outputs[0] / "table5.md").read_text().splitlines() if line.startswith("|")
    ]
    assert rows[0] == "| method | " + " | ".join(h for _, h in TABLE5_COLUMNS) + " |"
    assert [row.split("|")[1].strip() for row in rows[2:]] == methods
    for method, row in zip(methods, rows[2:], strict=True):
        cells = [float(cell) for cell in re.findall(r"\| ([0-9.]+)", row)]
        expected = [
            round(1000 * results["metrics"][f"sim/{method}/{key}"], 1) for key, _ in TABLE5_COLUMNS
        ]
        assert cells == expected
