"""Compute profiles: validation, sampling, the recording and benchmark constructors, and the
shipped ``configs/compute`` tables (each instantiates; each REACT table reproduces the Fig. 7
plateau its comment derives it from)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections
from edgecloud.recording.detection import DetectionRecordingWriter, RecordingFormatError
from edgecloud.sim.compute import ComputeProfile

COMPUTE_CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "compute"
LATENCIES = {"seq_a": [0.010, 0.020, 0.030], "seq_b": [0.040, 0.050]}


def write_recording(root: Path) -> Path:
    """A two-sequence recording with empty frames and the latencies of ``LATENCIES``."""
    with DetectionRecordingWriter(
        root,
        class_names=["car"],
        model={"name": "tiny_detector"},
        device="Test GPU",
        jpeg_quality=90,
    ) as writer:
        for name, latencies in LATENCIES.items():
            writer.add_sequence(
                name,
                fps=30.0,
                height=64,
                width=96,
                detections=[FrameDetections() for _ in latencies],
                ground_truth=[FrameAnnotations() for _ in latencies],
                latency_s=latencies,
                encoded_bytes=[1000] * len(latencies),
            )
    return root


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return write_recording(tmp_path / "recording")


def write_benchmark(path: Path, profiles: object) -> Path:
    path.write_text(json.dumps({"profiles": profiles}), encoding="utf-8")
    return path


BENCHMARK = [
    {"model": "frcnn", "device": "V100", "batch_size": 1, "latency_s": [0.09, 0.11]},
    {"model": "frcnn", "device": "V100", "batch_size": 2, "latency_s": [0.15]},
    {"model": "frcnn", "device": "K80", "batch_size": 1, "latency_s": [0.3]},
    {"model": "retinanet", "device": "V100", "batch_size": 1, "latency_s": [0.07]},
]


# --- construction and validation ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "samples": {1: [0.1]}}, "name must be a non-empty string"),
        ({"name": "p", "samples": {1: [0.1]}, "mode": "median"}, "mode must be one of"),
        ({"name": "p", "samples": {}}, "samples must be a non-empty mapping"),
        ({"name": "p", "samples": [0.1]}, "samples must be a non-empty mapping"),
        ({"name": "p", "samples": {0: [0.1]}}, "batch sizes must be integers >= 1, got 0"),
        ({"name": "p", "samples": {"1": [0.1]}}, "batch sizes must be integers >= 1, got '1'"),
        ({"name": "p", "samples": {True: [0.1]}}, "batch sizes must be integers >= 1"),
        ({"name": "p", "samples": {1: []}}, "batch size 1: no latency samples"),
        ({"name": "p", "samples": {2: 0.1}}, "batch size 2: latencies must be a sequence"),
        ({"name": "p", "samples": {1: "0.1"}}, "latencies must be a sequence"),
        ({"name": "p", "samples": {1: ["0.1"]}}, "latencies must be numbers"),
        ({"name": "p", "samples": {1: [0.1, float("nan")]}}, "must be finite and >= 0"),
        ({"name": "p", "samples": {1: [float("inf")]}}, "must be finite and >= 0"),
        ({"name": "p", "samples": {1: [-0.01]}}, "must be finite and >= 0"),
    ],
)
def test_invalid_profiles_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ComputeProfile(**kwargs)


def test_samples_are_copied_and_read_only():
    source = np.array([0.1, 0.2])
    profile = ComputeProfile(name="p", samples={2: source, 1: [0.05]})
    source[0] = 9.0
    assert profile.batch_sizes == (1, 2)
    assert profile.mean_latency(2) == pytest.approx(0.15)


def test_sample_mode_draws_uniformly_among_the_samples_and_is_deterministic_per_seed():
    samples = [0.1, 0.2, 0.4]
    profile = ComputeProfile(name="p", samples={1: samples})
    draws = [profile.latency(batch_size=1, rng=np.random.default_rng(7)) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    sequence_a = [profile.latency(batch_size=1, rng=rng_a) for _ in range(30_000)]
    sequence_b = [profile.latency(batch_size=1, rng=rng_b) for _ in range(30_000)]
    assert sequence_a == sequence_b
    values, counts = np.unique(sequence_a, return_counts=True)
    assert values.tolist() == samples
    # Each frequency is 1/3 with a standard error of 0.0027; 0.015 is over 5 of them.
    np.testing.assert_allclose(counts / len(sequence_a), 1 / 3, atol=0.015)
    assert all(isinstance(value, float) for value in sequence_a[:10])


def test_mean_mode_returns_the_mean_and_leaves_the_generator_alone():
    profile = ComputeProfile(name="p", samples={1: [0.1, 0.3], 2: [0.5]}, mode="mean")
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert profile.latency(batch_size=1, rng=rng) == pytest.approx(0.2)
    assert profile.latency(batch_size=2, rng=rng) == 0.5
    assert rng.bit_generator.state == state
    assert profile.mean_latency(1) == pytest.approx(0.2)


def test_unknown_batch_size_names_the_profile_and_its_sizes():
    profile = ComputeProfile(name="gpu", samples={1: [0.1], 2: [0.2]})
    with pytest.raises(
        ValueError, match=r"'gpu' has no latency samples for batch size 3; it has \[1, 2\]"
    ):
        profile.latency(batch_size=3, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch size 4"):
        profile.mean_latency(4)


def test_require_batch_sizes_lists_every_missing_size():
    profile = ComputeProfile(name="gpu", samples={1: [0.1], 2: [0.2]})
    profile.require_batch_sizes(2)
    with pytest.raises(ValueError) as error:
        profile.require_batch_sizes(4)
    assert str(error.value) == (
        "compute profile 'gpu' has no latency samples for batch size(s) [3, 4]; it has [1, 2]"
    )
    gappy = ComputeProfile(name="gappy", samples={1: [0.1], 3: [0.2]})
    with pytest.raises(ValueError, match=r"batch size\(s\) \[2\]; it has \[1, 3\]"):
        gappy.require_batch_sizes(3)
    with pytest.raises(ValueError, match="max_batch_size must be an integer >= 1"):
        profile.require_batch_sizes(0)


def test_constant_is_deterministic_for_every_batch_size():
    profile = ComputeProfile.constant(name="fixed", latency_s=0.25, max_batch_size=3)
    assert profile.batch_sizes == (1, 2, 3)
    assert profile.mode == "mean"
    rng = np.random.default_rng(0)
    assert [profile.latency(batch_size=b, rng=rng) for b in (1, 2, 3)] == [0.25] * 3
    zero = ComputeProfile.constant(name="zero", latency_s=0.0)
    assert zero.batch_sizes == (1,)
    assert zero.latency(batch_size=1, rng=rng) == 0.0
    with pytest.raises(ValueError, match="max_batch_size must be an integer >= 1, got 0"):
        ComputeProfile.constant(name="bad", latency_s=0.1, max_batch_size=0)
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        ComputeProfile.constant(name="bad", latency_s=-1.0)


# --- from_recording ----------------------------------------------------------------------


def test_from_recording_uses_every_frame_of_every_sequence_at_batch_one(recording):
    profile = ComputeProfile.from_recording(recording=recording)
    assert profile.name == "tiny_detector on Test GPU (recorded)"
    assert profile.batch_sizes == (1,)
    assert profile.mode == "sample"
    every = [value for values in LATENCIES.values() for value in values]
    assert profile.mean_latency(1) == pytest.approx(np.mean(every))
    rng = np.random.default_rng(0)
    assert {profile.latency(batch_size=1, rng=rng) for _ in range(500)} == set(every)
    named = ComputeProfile.from_recording(recording=str(recording), name="edge", mode="mean")
    assert (named.name, named.latency(batch_size=1, rng=rng)) == ("edge", pytest.approx(0.03))


def test_from_recording_of_a_missing_directory_names_it(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(RecordingFormatError, match=re.escape(str(missing))):
        ComputeProfile.from_recording(recording=missing)


# --- from_benchmark ----------------------------------------------------------------------


def test_from_benchmark_picks_the_model_and_device(tmp_path):
    file = write_benchmark(tmp_path / "bench.json", BENCHMARK)
    profile = ComputeProfile.from_benchmark(file=file, model="frcnn", device="V100", mode="mean")
    assert profile.name == "frcnn on V100"
    assert profile.batch_sizes == (1, 2)
    assert profile.mean_latency(1) == pytest.approx(0.10)
    assert profile.mean_latency(2) == pytest.approx(0.15)
    k80 = ComputeProfile.from_benchmark(file=str(file), model="frcnn", device="K80")
    assert (k80.batch_sizes, k80.mode) == ((1,), "sample")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        (json.dumps({"profile": []}), "needs a top-level 'profiles' list"),
        (json.dumps([1, 2]), "needs a top-level 'profiles' list"),
        (json.dumps({"profiles": [3]}), "profiles[0] must be an object"),
        (
            json.dumps({"profiles": [{"model": "frcnn", "device": "V100", "latency_s": [0.1]}]}),
            "profiles[0] is missing ['batch_size']",
        ),
        (
            json.dumps({"profiles": [{**BENCHMARK[0], "batch_size": 0}]}),
            "profiles[0]: 'batch_size' must be an integer >= 1, got 0",
        ),
        (
            json.dumps({"profiles": [{**BENCHMARK[0], "model": 5}]}),
            "profiles[0]: 'model' and 'device' must be strings",
        ),
        (
            json.dumps({"profiles": [BENCHMARK[0], {**BENCHMARK[1], "latency_s": 0.1}]}),
            "profiles[1]: 'latency_s' must be a list of seconds",
        ),
        (
            json.dumps({"profiles": [{**BENCHMARK[0], "latency_s": []}]}),
            "profiles[0] latency_s: no latency samples",
        ),
        (
            json.dumps({"profiles": [{**BENCHMARK[0], "latency_s": [0.1, -1]}]}),
            "profiles[0] latency_s: latencies must be finite and >= 0",
        ),
        (
            json.dumps({"profiles": [BENCHMARK[0], BENCHMARK[1], BENCHMARK[0]]}),
            "profiles[2] repeats batch size 1 of model 'frcnn' on device 'V100'",
        ),
        (
            json.dumps({"profiles": BENCHMARK[2:]}),
            "no entries for model 'frcnn' on device 'V100'; it has (model, device) "
            "[('frcnn', 'K80'), ('retinanet', 'V100')]",
        ),
    ],
)
def test_bad_benchmark_files_name_the_file_and_the_problem(tmp_path, content, message):
    file = tmp_path / "bench.json"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        ComputeProfile.from_benchmark(file=file, model="frcnn", device="V100")
    assert str(file) in str(error.value)


def test_missing_benchmark_file_is_named(tmp_path):
    missing = tmp_path / "absent.json"
    with pytest.raises(FileNotFoundError, match=re.escape(f"benchmark file {missing}")):
        ComputeProfile.from_benchmark(file=missing, model="frcnn", device="V100")


# --- shipped tables ----------------------------------------------------------------------


def load_config(path: Path, recording: Path) -> ComputeProfile:
    """Instantiate one ``configs/compute`` file the way Hydra would, pointing any recording
    reference (mandatory ``???`` or an interpolation into the scenario) at ``recording`` and a
    benchmark file reference at a one-entry benchmark written next to it."""
    config = OmegaConf.load(path)
    if "recording" in config.keys():  # noqa: SIM118 -- `in config` is False for a ??? value
        config.recording = str(recording)
    if "file" in config.keys():  # noqa: SIM118
        benchmark = recording.parent / "benchmark.json"
        entry = {"model": "net", "device": "cpu", "batch_size": 1, "latency_s": [0.01, 0.02]}
        benchmark.write_text(json.dumps({"profiles": [entry]}))
        config.file, config.model, config.device = str(benchmark), "net", "cpu"
    return instantiate(config)


def test_every_compute_config_instantiates(recording):
    paths = sorted(COMPUTE_CONFIGS.glob("*.yaml"))
    assert {"zero.yaml", "from_recording.yaml"} <= {path.name for path in paths}
    for path in paths:
        profile = load_config(path, recording)
        assert isinstance(profile, ComputeProfile), path
        profile.latency(batch_size=1, rng=np.random.default_rng(0))
    zero = load_config(COMPUTE_CONFIGS / "zero.yaml", recording)
    zero.require_batch_sizes(64)
    assert zero.mean_latency(64) == 0.0
    replayed = load_config(COMPUTE_CONFIGS / "from_recording.yaml", recording)
    assert (replayed.batch_sizes, replayed.mode) == ((1,), "sample")


@pytest.mark.parametrize("gpu", ["v100", "p40", "m60", "k80"])
def test_react_tables_reproduce_the_plateau_they_are_derived_from(recording, gpu):
    path = COMPUTE_CONFIGS / f"react_{gpu}_frcnn.yaml"
    plateau = re.search(r"Fig\. 7 plateau: ([0-9.]+) req/s", path.read_text(encoding="utf-8"))
    assert plateau is not None, f"{path} must state the Fig. 7 plateau it is derived from"
    profile = load_config(path, recording)
    profile.require_batch_sizes(4)
    assert profile.mode == "mean"
    assert 4 / profile.mean_latency(4) == pytest.approx(float(plateau.group(1)), rel=0.05)
    # Batching helps: throughput b / latency(b) grows with b, as on a server GPU.
    throughput = [b / profile.mean_latency(b) for b in (1, 2, 3, 4)]
    assert throughput == sorted(throughput)


def test_react_tables_keep_the_paper_ordering_of_gpus(recording):
    plateau = {
        gpu: 4 / load_config(COMPUTE_CONFIGS / f"react_{gpu}_frcnn.yaml", recording).mean_latency(4)
        for gpu in ("k80", "m60", "p40", "v100")
    }
    assert plateau["k80"] < plateau["m60"] < plateau["p40"] <= plateau["v100"]
    assert plateau["v100"] > 17 and plateau["p40"] > 17 and 5 < plateau["k80"] < 6


def test_compute_and_server_do_not_import_torch():
    code = "import sys, edgecloud.sim.compute, edgecloud.sim.server; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
