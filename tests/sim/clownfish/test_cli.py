"""``simulate(cfg)`` with ``scenario=clownfish``: every Clownfish experiment composes, builds
for each value its sweep takes, runs at a tiny size and aggregates into its tables and figures;
results are byte-identical for the same seed; the recording adapter; configuration errors."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf, open_dict

from edgecloud.cli.simulate import build_clownfish_scenario, simulate
from edgecloud.sim.clownfish import inputs
from edgecloud.sim.clownfish.inputs import ClownfishSequence, load_sequences
from edgecloud.sim.clownfish.sweep import aggregate_clownfish_sweep
from edgecloud.sim.clownfish.synthetic import SyntheticSettings, synthetic_sequences
from edgecloud.sim.network.piecewise import PiecewiseRateLinkSpec
from tests.conftest import compose_config, experiment_names

CLOWNFISH_EXPERIMENTS = experiment_names(task="simulate", scenario="clownfish")
TINY = "scenario.synthetic={count:12,seed:3,num_frames:240,num_actions:4}"


def compose(tmp_path: Path, data_dir: Path, *overrides: str, run: str = "job"):
    return compose_config(
        "simulate",
        overrides=["scenario=clownfish", TINY, *overrides],
        tmp_path=tmp_path / run,
        data_dir=data_dir,
    )


def sweep_combinations(cfg) -> list[list[str]]:
    """Every job of the experiment's sweep, as override lists."""
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    if not params:
        return []
    axes = [
        [f"{key}={value}" for value in str(values).split(",")] for key, values in params.items()
    ]
    return [list(combination) for combination in itertools.product(*axes)]


def test_the_clownfish_experiments_are_found():
    assert CLOWNFISH_EXPERIMENTS == [
        "clownfish/sim/bandwidth",
        "clownfish/sim/fig7_grid",
        "clownfish/sim/filtering",
        "clownfish/sim/network_latency",
        "clownfish/sim/similarity_traces",
        "clownfish/sim/table3",
    ]
    assert not any(name.startswith("clownfish/") for name in experiment_names(task="simulate"))


@pytest.mark.parametrize("experiment", CLOWNFISH_EXPERIMENTS)
def test_experiment_builds_sweeps_runs_and_aggregates(tmp_path, data_dir, experiment):
    base = [f"experiment={experiment}"]
    cfg = compose(tmp_path, data_dir, *base)
    assert cfg.hydra.runtime.choices.experiment == experiment
    assert cfg.scenario.name == "clownfish"
    build_clownfish_scenario(cfg)

    jobs = sweep_combinations(cfg)
    callback = OmegaConf.select(cfg, "hydra.callbacks.aggregate")
    if not jobs:  # a single run: the grid or the traces
        metrics = simulate(cfg)
        out = tmp_path / "job" / "run"
        results = json.loads((out / "results.json").read_text())
        assert results["metrics"] == pytest.approx(metrics, nan_ok=True)
        assert (out / "config.yaml").is_file()
        figure = {"ideal": "grid.png", "traces": "similarity.png"}[cfg.scenario.mode]
        assert (out / figure).is_file()
        if cfg.scenario.mode == "ideal":
            assert len(results["grid"]) == 4 * 10 * 4
            assert (out / "grid.csv").is_file() and (out / "references.md").is_file()
            assert metrics["ideal/periodic_limit/nw6"] == pytest.approx(1 / 3)
        else:
            assert metrics["traces/siminet/auc"] > metrics["traces/cosine/auc"]
            assert (out / "traces.csv").is_file()
        return

    assert callback is not None, f"{experiment} sweeps but aggregates nothing"
    sweep_dir = tmp_path / "sweep"
    for number, overrides in enumerate(jobs):
        swept = compose(tmp_path, data_dir, *base, *overrides, run=f"compose{number}")
        for override in overrides:
            key, value = override.split("=", 1)
            assert swept.hydra.runtime.choices[key] == value, override
        job_dir = sweep_dir / str(number)
        with open_dict(swept):
            swept.paths.output_dir = str(job_dir)
        metrics = simulate(swept)
        (job_dir / ".hydra").mkdir(parents=True)
        (job_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        assert metrics["sim/videos"] == (cfg.scenario.max_videos or 12)
        assert 0.0 <= metrics["sim/accuracy"] <= 1.0
        assert metrics["sim/throughput_fps"] > 0
    written = aggregate_clownfish_sweep(sweep_dir=sweep_dir, figures_to_draw=list(callback.figures))
    names = {path.name for path in written}
    assert "table.md" in names
    assert names >= {f"{figure}.png" for figure in callback.figures}
    table = (sweep_dir / "table.md").read_text()
    assert table.count("\n|") >= len(jobs) + 1


def test_bandwidth_experiment_times_its_phases_by_video(tmp_path, data_dir):
    cfg = compose(tmp_path, data_dir, "experiment=clownfish/sim/bandwidth")
    scenario = build_clownfish_scenario(cfg)
    assert isinstance(scenario.uplink, PiecewiseRateLinkSpec)
    video_s = 240 / 30
    phases = scenario.phases
    assert [p.name for p in phases] == ["A", "B", "C", "A"]
    assert [p.start_s for p in phases] == pytest.approx([0, 3 * video_s, 6 * video_s, 9 * video_s])
    metrics = simulate(
        compose(
            tmp_path,
            data_dir,
            "experiment=clownfish/sim/bandwidth",
            "method=clownfish_cloud_only",
            run="cloud",
        )
    )
    # cloud-only needs about 8 Mbps: it keeps 30 fps unshaped but not at 5 Mbps
    assert metrics["sim/phase/C/throughput_fps"] < 0.8 * metrics["sim/phase/A/throughput_fps"]
    siminet = simulate(compose(tmp_path, data_dir, "experiment=clownfish/sim/bandwidth"))
    assert siminet["sim/phase/C/throughput_fps"] == pytest.approx(
        siminet["sim/phase/A/throughput_fps"], rel=0.05
    )
    assert siminet["sim/phase/C/lag_mean"] > siminet["sim/phase/A/lag_mean"]


def test_same_seed_gives_byte_identical_results(tmp_path, data_dir):
    outputs = {}
    for run, seed in (("a", 0), ("b", 0), ("c", 1)):
        cfg = compose(
            tmp_path,
            data_dir,
            "method=clownfish_siminet",
            "network=wifi_30ms",
            "network.uplink.jitter_s=0.005",
            "network.downlink.jitter_s=0.005",
            "scenario.max_videos=3",
            f"seed={seed}",
            run=run,
        )
        simulate(cfg)
        outputs[run] = tmp_path / run / "run"

    def read(run: str, name: str) -> bytes:
        return (outputs[run] / name).read_bytes()

    assert read("a", "results.json") == read("b", "results.json")
    assert read("a", "windows.csv") == read("b", "windows.csv")
    assert read("a", "results.json") != read("c", "results.json")


def test_a_react_method_is_refused_with_a_hint(tmp_path, data_dir):
    cfg = compose_config(
        "simulate", overrides=["scenario=clownfish", TINY], tmp_path=tmp_path, data_dir=data_dir
    )
    with pytest.raises(ValueError, match="method=clownfish_siminet"):
        build_clownfish_scenario(cfg)


def test_unknown_policy_keys_are_refused(tmp_path, data_dir):
    cfg = compose(tmp_path, data_dir, "method=clownfish_siminet", "+scenario.policy.edge_every=5")
    with pytest.raises(ValueError, match="edge_every"):
        build_clownfish_scenario(cfg)


def test_recorded_profiles_sum_local_and_siminet(tmp_path, data_dir):
    cfg = compose(tmp_path, data_dir, "method=clownfish_siminet", "scenario.profile_mode=mean")
    scenario = build_clownfish_scenario(cfg)
    local = np.concatenate([s.local_latency_s + s.siminet_latency_s for s in scenario.sequences])
    assert scenario.worker_profile.mean_latency(1) == pytest.approx(local.mean())
    remote = np.concatenate([s.remote_latency_s for s in scenario.sequences])
    assert scenario.server_profile.mean_latency(1) == pytest.approx(remote.mean())
    cosine = build_clownfish_scenario(
        compose(tmp_path, data_dir, "method=clownfish_cosine", "scenario.profile_mode=mean")
    )
    local = np.concatenate([s.local_latency_s for s in cosine.sequences])
    assert cosine.worker_profile.mean_latency(1) == pytest.approx(local.mean())
    table = build_clownfish_scenario(
        compose(
            tmp_path, data_dir, "method=clownfish_siminet", "+compute@scenario.worker_profile=zero"
        )
    )
    assert table.worker_profile.mean_latency(1) == 0.0


class FakeRecording:
    """What ``ActionRecording.open(root)`` is expected to give: ``sequence_names`` and
    ``sequence(name)`` with the arrays as attributes."""

    def __init__(self, sequences: list[ClownfishSequence]) -> None:
        self._sequences = {s.name: s for s in sequences}
        self.sequence_names = list(self._sequences)

    def sequence(self, name: str) -> SimpleNamespace:
        source = self._sequences[name]
        attributes = {key: getattr(source, key) for key in source.__dataclass_fields__}
        attributes.pop("relevance")  # optional: an older recording may lack it
        return SimpleNamespace(**attributes)


def test_recording_adapter(tmp_path, data_dir, monkeypatch):
    sequences = synthetic_sequences(
        count=3, seed=1, settings=SyntheticSettings(num_frames=200, num_actions=3)
    )
    monkeypatch.setattr(inputs, "open_action_recording", lambda root: FakeRecording(sequences))
    loaded = load_sequences("anywhere", names=["syn_0002", "syn_0000"], max_videos=1)
    assert [s.name for s in loaded] == ["syn_0002"]
    assert loaded[0].relevance is None
    np.testing.assert_array_equal(loaded[0].local_probs, sequences[2].local_probs)
    with pytest.raises(ValueError, match="not in the recording"):
        load_sequences("anywhere", names=["nope"], max_videos=None)

    cfg = compose_config(
        "simulate",
        overrides=["scenario=clownfish", "method=clownfish_siminet", "scenario.recording=x"],
        tmp_path=tmp_path,
        data_dir=data_dir,
    )
    assert cfg.scenario.recording == "x"
    metrics = simulate(cfg)
    assert metrics["sim/videos"] == 3


def write_action_recording(root: Path, sequences, *, siminet: bool = True) -> Path:
    """``sequences`` written with the recording format's own writer."""
    from edgecloud.recording.action import ActionRecordingWriter

    classes = sequences[0].num_classes
    with ActionRecordingWriter(
        root,
        class_names=[f"action{k}" for k in range(1, classes + 1)],
        window_size=sequences[0].window_size,
        window_stride=sequences[0].window_stride,
        models={"local": "synthetic", "remote": "synthetic"},
        device="none",
        frame_size=(171, 128),
    ) as writer:
        for s in sequences:
            writer.add_sequence(
                s.name,
                fps=s.fps,
                num_frames=s.num_frames,
                window_starts=s.window_starts,
                frame_labels=s.frame_labels,
                window_labels=s.window_labels,
                local_probs=s.local_probs.astype(np.float32),
                remote_probs=s.remote_probs.astype(np.float32),
                local_features=s.local_features.astype(np.float32),
                similarity=s.similarity if siminet else None,
                relevance=s.relevance,
                local_latency_s=s.local_latency_s,
                remote_latency_s=s.remote_latency_s,
                siminet_latency_s=s.siminet_latency_s if siminet else None,
                relevance_latency_s=s.relevance_latency_s,
                frame_bytes=s.frame_bytes,
            )
    return root


def test_replays_a_recording_written_by_the_action_recorder(tmp_path, data_dir):
    settings = SyntheticSettings(num_frames=300, num_actions=3, feature_dim=4)
    sequences = synthetic_sequences(count=2, seed=6, settings=settings)
    with_siminet = write_action_recording(tmp_path / "rec", sequences)
    without = write_action_recording(tmp_path / "rec_nosim", sequences, siminet=False)
    (loaded, _) = load_sequences(with_siminet, names=None, max_videos=None)
    np.testing.assert_allclose(loaded.local_probs, sequences[0].local_probs, atol=1e-6)
    np.testing.assert_array_equal(loaded.frame_bytes, sequences[0].frame_bytes)
    assert loaded.relevance_latency_s is not None

    def run(recording: Path, method: str, run_name: str) -> dict:
        cfg = compose_config(
            "simulate",
            overrides=[
                "scenario=clownfish",
                f"method={method}",
                "network=delay_13ms",
                f"scenario.recording={recording}",
            ],
            tmp_path=tmp_path / run_name,
            data_dir=data_dir,
        )
        return simulate(cfg)

    assert run(with_siminet, "clownfish_siminet", "a")["sim/videos"] == 2
    # the filtering baseline's worker latency defaults to the recorded relevance model's
    assert run(with_siminet, "clownfish_filtering", "b")["sim/requests"] > 0
    assert run(without, "clownfish_cosine", "c")["sim/videos"] == 2
    with pytest.raises(ValueError, match="no SimiNet"):
        run(without, "clownfish_siminet", "d")


def test_missing_recording_names_the_path(tmp_path, data_dir):
    cfg = compose_config(
        "simulate",
        overrides=["scenario=clownfish", "method=clownfish_siminet"],
        tmp_path=tmp_path,
        data_dir=data_dir,
    )
    assert cfg.scenario.recording.endswith("logs/demo/clownfish_record/recording")
    with pytest.raises(FileNotFoundError, match="clownfish_record/recording"):
        simulate(cfg)


def test_sequence_validation():
    (sequence,) = synthetic_sequences(
        count=1, seed=0, settings=SyntheticSettings(num_frames=100, num_actions=2)
    )
    fields = {key: getattr(sequence, key) for key in sequence.__dataclass_fields__}
    with pytest.raises(ValueError, match="window_starts"):
        ClownfishSequence(**{**fields, "window_starts": fields["window_starts"] + 1})
    with pytest.raises(ValueError, match="similarity"):
        ClownfishSequence(**{**fields, "similarity": fields["similarity"] + 2})
    with pytest.raises(ValueError, match="remote_probs"):
        ClownfishSequence(**{**fields, "remote_probs": fields["remote_probs"][:, :1]})
    assert not sequence.local_probs.flags.writeable
