"""evaluate.py experiment=clownfish/eval/record: four checkpoints in, an action recording out,
and the Clownfish simulator replays it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from edgecloud.cli.evaluate import evaluate
from edgecloud.cli.simulate import simulate
from edgecloud.recording.action import ActionRecording
from tests.conftest import TINY_ACTION_WORLD_OVERRIDES, compose_config

pytestmark = pytest.mark.slow

RECORD = [
    "experiment=clownfish/eval/record",
    *TINY_ACTION_WORLD_OVERRIDES,
    "warmup_calls=0",
    "cpu_threads=1",
    # the tiny world's 32 px windows, and a shallower remote model: CPU seconds, not minutes
    "model.input_size=32",
    "clownfish.siminet.local.input_size=32",
    "clownfish.remote.input_size=32",
    "clownfish.remote.net.depth=50",
    "clownfish.relevance.input_size=32",
]


def save_checkpoint(module: torch.nn.Module, path: Path) -> Path:
    """What Lightning's checkpoint holds that evaluation reads: weights and hyperparameters."""
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, data_dir, tiny_action_world) -> dict[str, Path]:
    """Untrained local, remote, SimiNet and relevance modules, saved as train.py would."""
    root = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    cfg = compose_config(
        "evaluate", overrides=[*RECORD, "ckpt_path=unused"], tmp_path=root, data_dir=data_dir
    )
    local = save_checkpoint(instantiate(cfg.model), root / "local.ckpt")
    return {
        "local": local,
        "remote": save_checkpoint(instantiate(cfg.clownfish.remote), root / "remote.ckpt"),
        "siminet": save_checkpoint(
            instantiate(cfg.clownfish.siminet, local_checkpoint=str(local)),
            root / "siminet.ckpt",
        ),
        "relevance": save_checkpoint(instantiate(cfg.clownfish.relevance), root / "relevance.ckpt"),
    }


def record_overrides(checkpoints: dict[str, Path], *, relevance: bool = True) -> list[str]:
    overrides = [
        *RECORD,
        f"ckpt_path={checkpoints['local']}",
        f"clownfish.remote_ckpt_path={checkpoints['remote']}",
        f"clownfish.siminet_ckpt_path={checkpoints['siminet']}",
    ]
    if relevance:
        overrides.append(f"clownfish.relevance_ckpt_path={checkpoints['relevance']}")
    return overrides


def test_record_writes_what_the_simulator_replays(checkpoints, tmp_path, data_dir):
    cfg = compose_config(
        "evaluate", overrides=record_overrides(checkpoints), tmp_path=tmp_path, data_dir=data_dir
    )
    metrics = evaluate(cfg)
    output_dir = tmp_path / "run"
    report = json.loads((output_dir / "metrics.json").read_text())
    assert report["metrics"] == pytest.approx(metrics)
    assert 0.0 <= metrics["val/local_acc"] <= 1.0 and 0.0 <= metrics["val/remote_acc"] <= 1.0
    assert metrics["val/local_latency_s"] > 0 and metrics["val/siminet_latency_s"] > 0

    recording = ActionRecording.open(output_dir / "recording")
    videos = instantiate(cfg.data).val_videos()
    assert list(recording.sequence_names) == [video.name for video in videos]
    assert recording.has_similarity and recording.has_relevance
    assert recording.manifest["models"]["remote"]["checkpoint"] == str(checkpoints["remote"])
    first = recording.sequence(videos[0].name)
    np.testing.assert_array_equal(first.frame_labels, videos[0].frame_labels())
    assert first.local_probs.shape == (first.num_windows, len(recording.class_names))

    simulate_cfg = compose_config(
        "simulate",
        overrides=[
            "scenario=clownfish",
            "method=clownfish_siminet",
            "network=delay_13ms",
            f"scenario.recording={output_dir / 'recording'}",
            "figure=none",
        ],
        tmp_path=tmp_path / "simulate",
        data_dir=data_dir,
    )
    results = simulate(simulate_cfg)
    assert 0.0 <= results["sim/accuracy"] <= 1.0
    assert results["sim/throughput_fps"] > 0


def test_without_record_nothing_is_written_but_the_scores(checkpoints, tmp_path, data_dir):
    overrides = [*record_overrides(checkpoints, relevance=False), "record=false"]
    cfg = compose_config("evaluate", overrides=overrides, tmp_path=tmp_path, data_dir=data_dir)
    metrics = evaluate(cfg)
    assert not (tmp_path / "run" / "recording").exists()
    assert "val/relevance_latency_s" not in metrics
    assert (tmp_path / "run" / "metrics.json").is_file()
