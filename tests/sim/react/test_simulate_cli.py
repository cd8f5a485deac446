"""``simulate(cfg)`` and ``build_react_scenario(cfg)`` on composed configs with toy recordings:
the offline upper bound, byte-for-byte determinism, bad input stopping before the simulation,
and every simulate experiment (and each value its sweep takes) building and running."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from edgecloud.cli.simulate import build_react_scenario, simulate
from edgecloud.recording.format import RecordingFormatError
from edgecloud.sim.network import ConstantRateLinkSpec, IdealLinkSpec, MahimahiLinkSpec
from tests.conftest import compose_config, experiment_names
from tests.sim.react import toy
from tests.sim.react.test_react_scenario import (
    offline_cloud_metrics,
    toy_frames,
    write_noisy_recording,
)

SIM_EXPERIMENTS = experiment_names(task="simulate")
NUM_FRAMES, FPS = 12, 10


@pytest.fixture
def recordings(tmp_path) -> tuple[Path, Path]:
    """Noisy edge and cloud recordings of the toy world with varying per-frame latencies, so
    the recorded (sample-mode) compute profiles draw from several values."""
    edge = write_noisy_recording(
        tmp_path / "edge", num_frames=NUM_FRAMES, fps=FPS, seed=1, latencies_s=(0.02, 0.05, 0.11)
    )
    cloud = write_noisy_recording(
        tmp_path / "cloud", num_frames=NUM_FRAMES, fps=FPS, seed=2, latencies_s=(0.03, 0.08, 0.2)
    )
    return edge, cloud


def compose(
    tmp_path: Path,
    data_dir: Path,
    recordings: tuple[Path, Path],
    *overrides: str,
    run: str = "job",
):
    """The simulate config with these recordings; the run directory is tmp_path/<run>/run."""
    edge, cloud = recordings
    return compose_config(
        "simulate",
        overrides=[
            f"scenario.recordings.edge={edge}",
            f"scenario.recordings.cloud={cloud}",
            f"scenario.frames_root={tmp_path / 'frames'}",
            f"scenario.motion_cache_dir={tmp_path / 'motion_cache'}",
            *overrides,
        ],
        tmp_path=tmp_path / run,
        data_dir=data_dir,
    )


def output_dir(tmp_path: Path, run: str = "job") -> Path:
    return tmp_path / run / "run"


# -- 4. offline upper bound through the CLI --------------------------------------------------


@pytest.mark.parametrize("detector", ["random", "noisy"])
def test_offline_upper_bound_cli_reproduces_offline_map(tmp_path, data_dir, detector):
    sequences = ("a", "b")
    edge = toy.write_recording(
        tmp_path / "edge", role="edge", num_frames=30, fps=FPS, latency_s=0.1, sequences=sequences
    )
    if detector == "random":  # seed 7: a few lucky boxes, mAP50 about 0.00045
        cloud = toy.write_recording(
            tmp_path / "cloud",
            role="cloud",
            num_frames=30,
            fps=FPS,
            latency_s=0.3,
            random_seed=7,
            sequences=sequences,
        )
    else:
        cloud = write_noisy_recording(
            tmp_path / "cloud", num_frames=30, fps=FPS, seed=5, sequences=sequences
        )
    cfg = compose(
        tmp_path,
        data_dir,
        (edge, cloud),
        "method=offline_upper_bound",
        "scenario.policy.detection_threshold=0",
        "figure=none",
    )
    metrics = simulate(cfg)
    expected = offline_cloud_metrics(cloud, sequences)
    assert expected["sim/mAP50"] > 0.0
    for key, value in expected.items():
        assert metrics[key] == value, key
    results = json.loads((output_dir(tmp_path) / "results.json").read_text())
    assert results["metrics"]["sim/mAP50"] == expected["sim/mAP50"]
    assert results["metrics"]["sim/mAP"] == expected["sim/mAP"]
    assert results["labels"]["method"] == "offline_upper_bound"
    assert metrics["sim/cloud_staleness_p99_frames"] == 0.0
    assert metrics["sim/response_time_p99_s"] == 0.0


def test_offline_upper_bound_method_composes_to_the_bound(tmp_path, data_dir, recordings):
    """Also inside the baselines experiment, whose own defaults pick wifi_30ms."""
    for extra in ([], ["experiment=react/sim/baselines"]):
        cfg = compose(tmp_path, data_dir, recordings, *extra, "method=offline_upper_bound")
        policy = cfg.scenario.policy
        assert (policy.edge_every, policy.cloud_every, policy.tracking) == (None, 1, False)
        scenario = build_react_scenario(cfg)
        assert isinstance(scenario.uplinks[0], IdealLinkSpec)
        assert isinstance(scenario.downlink, IdealLinkSpec)
        assert scenario.server_profile.mean_latency(1) == 0.0
        assert scenario.edge_profile.name == "edge (recorded)"


# -- 6. determinism --------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_results(tmp_path, data_dir, recordings):
    jitter = [
        "network=wifi_30ms",
        "network.uplink.jitter_s=0.005",
        "network.downlink.jitter_s=0.005",
        "scenario.policy.edge_every=2",
        "scenario.policy.cloud_every=3",
        "scenario.policy.detection_threshold=0.3",
    ]
    outputs = {}
    for run, seed in (("a", 0), ("b", 0), ("c", 1)):
        cfg = compose(tmp_path, data_dir, recordings, *jitter, f"seed={seed}", run=run)
        metrics = simulate(cfg)
        assert metrics["sim/requests"] == 4
        outputs[run] = output_dir(tmp_path, run)

    def read(run: str, name: str) -> bytes:
        return (outputs[run] / name).read_bytes()

    assert read("a", "results.json") == read("b", "results.json")
    assert read("a", "frames.csv") == read("b", "frames.csv")
    assert read("a", "results.json") != read("c", "results.json")
    # jitter and the sampled latencies make response times differ run to run
    results_a = json.loads(read("a", "results.json"))
    results_c = json.loads(read("c", "results.json"))
    assert results_a["response_times_s"] != results_c["response_times_s"]
    assert len(set(results_a["response_times_s"])) > 1

    saved = OmegaConf.load(outputs["a"] / "config.yaml")
    assert saved.seed == 0 and saved.network.uplink.jitter_s == 0.005
    assert "hydra" not in saved
    assert saved.scenario.recordings.cloud == str(recordings[1])
    png = read("a", "tide.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png == read("b", "tide.png")

    rows = read("a", "frames.csv").decode().splitlines()
    assert rows[0].split(",")[:3] == ["device", "sequence", "frame"]
    assert len(rows) == 1 + NUM_FRAMES
    assert set(results_a["labels"]) == {"method", "network", "tracker", "scenario", "devices"}


def test_response_cdf_figure_and_no_frames_csv(tmp_path, data_dir, recordings):
    cfg = compose(
        tmp_path,
        data_dir,
        recordings,
        "figure=response_cdf",
        "frames_csv=false",
        "scenario.policy.cloud_every=4",
    )
    simulate(cfg)
    out = output_dir(tmp_path)
    assert (out / "response_cdf.png").read_bytes().startswith(b"\x89PNG")
    assert not (out / "frames.csv").exists()
    assert not (out / "tide.png").exists()


# -- 7. bad input stops before the simulation ------------------------------------------------


def bad_trace(tmp_path: Path) -> Path:
    path = tmp_path / "bad.trace"
    path.write_text("1\n2\nx3\n4\n")
    return path


BAD_INPUTS = {
    "missing trace": (
        lambda tmp: ["network=lte_verizon", "network.uplink.trace_file=/nope"],
        "trace file not found: /nope",
    ),
    "malformed trace": (
        lambda tmp: ["network=lte_synthetic", f"network.downlink.trace_file={bad_trace(tmp)}"],
        "bad.trace:3: expected a non-negative integer millisecond, got 'x3'",
    ),
    "edge_every 0": (
        lambda tmp: ["scenario.policy.edge_every=0"],
        "policy.edge_every must be a positive whole number of frames or null (off), got 0",
    ),
    "cloud_every 0": (
        lambda tmp: ["scenario.policy.cloud_every=0"],
        "policy.cloud_every must be a positive whole number of frames or null (off), got 0",
    ),
    "both off": (
        lambda tmp: ["scenario.policy.cloud_every=null", "scenario.policy.edge_every=null"],
        "both off: nothing detects",
    ),
    "batch size the recorded profile lacks": (
        lambda tmp: ["scenario.server.batch_size=4"],
        "has no latency samples for batch size(s) [2, 3, 4]; it has [1]",
    ),
    "batch size the table lacks": (
        lambda tmp: [
            "compute@scenario.server_profile=react_v100_frcnn",
            "scenario.server.batch_size=6",
        ],
        "has no latency samples for batch size(s) [5, 6]; it has [1, 2, 3, 4]",
    ),
    "tracking without a tracker": (
        lambda tmp: ["tracker=none"],
        "scenario.policy.tracking is true but tracker=none",
    ),
    "jitter above delay": (
        lambda tmp: ["network.uplink.jitter_s=0.05"],
        "jitter_s (0.05) may not exceed delay_s (0.03)",
    ),
    "unknown sequence": (
        lambda tmp: ["scenario.sequences=[nope]"],
        "sequences ['nope'] are not in the recording",
    ),
    "shared without a count": (
        lambda tmp: ["scenario.devices.mode=shared"],
        "devices.count must be a positive integer, got None",
    ),
    "pixel tracker without frames": (
        lambda tmp: ["tracker=lk", f"scenario.frames_root={tmp / 'no_frames'}"],
        "the pixel tracker needs the recorded video's frames",
    ),
    "unknown figure": (lambda tmp: ["figure=bogus"], "figure must be one of"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_stops_before_the_simulation(tmp_path, data_dir, recordings, case):
    overrides, message = BAD_INPUTS[case]
    cfg = compose(tmp_path, data_dir, recordings, *overrides(tmp_path))
    with pytest.raises(Exception, match=re.escape(message)):
        simulate(cfg)
    out = output_dir(tmp_path)
    assert not (out / "results.json").exists()
    assert not (out / "frames.csv").exists()


def test_recording_of_a_newer_format_version_is_refused(tmp_path, data_dir, recordings):
    manifest = recordings[1] / "manifest.json"
    content = json.loads(manifest.read_text())
    content["version"] = 99
    manifest.write_text(json.dumps(content))
    cfg = compose(tmp_path, data_dir, recordings)
    with pytest.raises(Exception, match="recording version 99 is newer than this edgecloud"):
        simulate(cfg)
    assert not (output_dir(tmp_path) / "results.json").exists()


def test_recordings_of_different_classes_are_refused(tmp_path, data_dir, recordings):
    manifest = recordings[1] / "manifest.json"
    content = json.loads(manifest.read_text())
    content["class_names"] = ["car", "truck"]
    manifest.write_text(json.dumps(content))
    cfg = compose(tmp_path, data_dir, recordings)
    with pytest.raises(Exception, match="class_names differ from the edge recording"):
        build_react_scenario(cfg)


def recordings_of_different_videos(tmp_path: Path) -> tuple[Path, Path]:
    """Edge and cloud recordings of sequences "a" and "b" whose "b" differs in fps."""
    edge = toy.write_recording(
        tmp_path / "edge", role="edge", num_frames=8, fps=10, latency_s=0.1, sequences=("a", "b")
    )
    cloud = toy.write_recording(
        tmp_path / "cloud", role="cloud", num_frames=8, fps=10, latency_s=0.1, sequences=("a", "b")
    )
    manifest = cloud / "manifest.json"
    content = json.loads(manifest.read_text())
    content["sequences"][1]["fps"] = 5.0  # sequence "b" only
    manifest.write_text(json.dumps(content))
    return edge, cloud


def test_recordings_of_different_videos_fail_with_a_clear_message(tmp_path, data_dir):
    cfg = compose(tmp_path, data_dir, recordings_of_different_videos(tmp_path))
    message = "sequence 'b': fps is 5.0 in the cloud recording but 10.0 in the edge recording"
    with pytest.raises(RecordingFormatError, match=re.escape(message)):
        simulate(cfg)
    assert not (output_dir(tmp_path) / "results.json").exists()


def test_recordings_of_different_videos_are_refused_at_build(tmp_path, data_dir):
    cfg = compose(tmp_path, data_dir, recordings_of_different_videos(tmp_path))
    with pytest.raises(Exception, match="fps"):
        build_react_scenario(cfg)


# -- 8. every simulate experiment ------------------------------------------------------------


def sweep_overrides(cfg) -> list[str]:
    """One override per value each swept parameter takes."""
    params = cfg.hydra.sweeper.params or {}
    return [f"{key}={value}" for key, values in params.items() for value in str(values).split(",")]


@pytest.mark.parametrize("experiment", SIM_EXPERIMENTS)
def test_experiment_builds_sweeps_and_runs(tmp_path, data_dir, experiment):
    edge = toy.write_recording(
        tmp_path / "edge", role="edge", num_frames=NUM_FRAMES, fps=FPS, latency_s=0.05
    )
    cloud = toy.write_recording(
        tmp_path / "cloud", role="cloud", num_frames=NUM_FRAMES, fps=FPS, latency_s=0.2
    )
    toy_frames(tmp_path / "frames" / "toy", num_frames=NUM_FRAMES)
    recordings = (edge, cloud)
    base = [f"experiment={experiment}"]
    cfg = compose(tmp_path, data_dir, recordings, *base)
    assert cfg.hydra.runtime.choices.experiment == experiment
    build_react_scenario(cfg)

    sweeps = sweep_overrides(cfg)
    assert sweeps, f"{experiment} sweeps nothing"
    for number, override in enumerate(sweeps):
        swept = compose(tmp_path, data_dir, recordings, *base, override, run=f"sweep{number}")
        key, value = override.split("=", 1)
        if key in swept.hydra.runtime.choices:  # a config group
            assert swept.hydra.runtime.choices[key] == value, override
        else:
            assert str(OmegaConf.select(swept, key)) == value, override
        build_react_scenario(swept)

    # one tiny job; the scalability load runs 13 s instead of 10 minutes
    shorter = ["scenario.devices.duration_s=13"] if cfg.scenario.devices.duration_s else []
    cfg = compose(tmp_path, data_dir, recordings, *base, *shorter, run="tiny")
    metrics = simulate(cfg)
    out = output_dir(tmp_path, "tiny")
    results = json.loads((out / "results.json").read_text())
    assert results["metrics"] == pytest.approx(metrics, nan_ok=True)
    assert (out / "config.yaml").is_file()
    if cfg.scenario.devices.pipeline:
        assert metrics["sim/frames"] == NUM_FRAMES
        assert 0.0 <= metrics["sim/mAP50"] <= 1.0
        assert metrics["sim/processed_frames"] > 0
    else:
        assert metrics["sim/devices"] == cfg.scenario.devices.count
        assert metrics["sim/requests"] == metrics["sim/responses"] > 0
        assert metrics["sim/server_throughput_rps"] > 0
    figure = cfg.figure
    if figure == "tide":
        assert (out / "tide.png").is_file()
    elif figure == "response_cdf":
        assert (out / "response_cdf.png").is_file()


def test_network_experiment_links(tmp_path, data_dir, recordings):
    """The four links of the network sweep are what their names say."""
    kinds = {
        "wifi_30ms": ConstantRateLinkSpec,
        "wifi_50ms": ConstantRateLinkSpec,
        "lte_verizon": MahimahiLinkSpec,
        "lte_synthetic": MahimahiLinkSpec,
    }
    for network, kind in kinds.items():
        cfg = compose(
            tmp_path,
            data_dir,
            recordings,
            "experiment=react/sim/network",
            f"network={network}",
            "tracker=none",  # no frames needed to check the links
            "scenario.policy.tracking=false",
        )
        scenario = build_react_scenario(cfg)
        assert isinstance(scenario.uplinks[0], kind) and isinstance(scenario.downlink, kind)
        assert (scenario.policy.edge_every, scenario.policy.cloud_every) == (15, 45)
