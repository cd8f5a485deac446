"""train → evaluate round trip, resume from last.ckpt, and the recording evaluate writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from edgecloud.cli.evaluate import evaluate
from edgecloud.cli.train import train
from edgecloud.recording.detection import DetectionRecording
from tests.conftest import TINY_WORLD_OVERRIDES, compose_config

pytestmark = pytest.mark.slow

TRAIN_OVERRIDES = [
    "experiment=react/tiny_edge",
    *TINY_WORLD_OVERRIDES,
    "trainer.max_epochs=2",
    "logger=csv",
    "callbacks=model_checkpoint",
    "data.val_frame_stride=1",
]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, data_dir, tiny_world) -> tuple[Path, dict[str, float]]:
    run_dir = tmp_path_factory.mktemp("train")
    cfg = compose_config("train", overrides=TRAIN_OVERRIDES, tmp_path=run_dir, data_dir=data_dir)
    metrics = train(cfg)
    return run_dir / "run", metrics


def test_train_writes_checkpoints_and_metrics(trained_run):
    output_dir, metrics = trained_run
    assert (output_dir / "checkpoints" / "last.ckpt").is_file()
    report = json.loads((output_dir / "metrics.json").read_text())
    assert report["metrics"]["val/mAP50"] == pytest.approx(metrics["val/mAP50"])
    assert Path(report["best_checkpoint"]).is_file()
    assert (output_dir / "csv").is_dir()


def test_checkpoint_loads_with_weights_only(trained_run):
    output_dir, _ = trained_run
    checkpoint = torch.load(output_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["hyper_parameters"]["class_names"][0] == "pedestrian"


def test_evaluate_reproduces_the_training_metric_and_records(trained_run, tmp_path, data_dir):
    output_dir, train_metrics = trained_run
    cfg = compose_config(
        "evaluate",
        overrides=[
            "experiment=react/tiny_edge",
            *TINY_WORLD_OVERRIDES,
            f"ckpt_path={output_dir / 'checkpoints' / 'last.ckpt'}",
            "record=true",
            "warmup_calls=0",
        ],
        tmp_path=tmp_path,
        data_dir=data_dir,
    )
    metrics = evaluate(cfg)

    # The last epoch's validation saw the same frames with the same weights.
    assert metrics["val/mAP50"] == pytest.approx(train_metrics["val/mAP50"], abs=1e-6)
    assert metrics["val/mAP"] == pytest.approx(train_metrics["val/mAP"], abs=1e-6)

    recording = DetectionRecording.open(tmp_path / "run" / "recording")
    assert tuple(recording.class_names[:2]) == ("pedestrian", "people")
    (name,) = recording.sequence_names
    sequence = recording.sequence(name)
    assert sequence.num_frames == 12
    assert (sequence.height, sequence.width) == (96, 160)
    assert (sequence.latency_s > 0).all()
    assert (sequence.encoded_bytes > 500).all()
    # no score threshold: the detector's per-image limit, not a threshold, bounds the boxes
    assert all(len(sequence.detections(i)) == 100 for i in range(sequence.num_frames))


def test_resume_continues_from_last_checkpoint(trained_run, tmp_path, data_dir):
    output_dir, _ = trained_run
    cfg = compose_config(
        "train",
        overrides=[
            *[o for o in TRAIN_OVERRIDES if not o.startswith("trainer.max_epochs")],
            "trainer.max_epochs=3",
            f"ckpt_path={output_dir / 'checkpoints' / 'last.ckpt'}",
        ],
        tmp_path=tmp_path,
        data_dir=data_dir,
    )
    train(cfg)
    resumed = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    original = torch.load(output_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert original["epoch"] == 1
    assert resumed["epoch"] == 2
    assert resumed["global_step"] == original["global_step"] * 3 // 2
