"""train.py's segmenter and SR runs feed evaluate.py's comparison of restoration methods."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgecloud.cli.evaluate import evaluate
from edgecloud.cli.train import train
from edgecloud.data.formats.cityscapes import load_image, read_cityscapes
from tests.conftest import TINY_URBAN_WORLD_OVERRIDES, compose_config

pytestmark = pytest.mark.slow

SHORT_RUN = ["trainer.max_epochs=1", "logger=csv", "callbacks.rich_progress_bar=null"]


def _train(experiment: str, tmp_path_factory, data_dir: Path) -> Path:
    run_dir = tmp_path_factory.mktemp(experiment.replace("/", "_"))
    overrides = [f"experiment={experiment}", *TINY_URBAN_WORLD_OVERRIDES, *SHORT_RUN]
    train(compose_config("train", overrides=overrides, tmp_path=run_dir, data_dir=data_dir))
    return run_dir / "run" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, data_dir, tiny_urban_world) -> dict[str, Path]:
    return {
        "segmenter": _train("runespoor/segmenter", tmp_path_factory, data_dir),
        "sr": _train("runespoor/sr", tmp_path_factory, data_dir),
    }


def _compare(checkpoints, tmp_path, data_dir, *extra: str):
    overrides = [
        "experiment=runespoor/eval/compare",
        *TINY_URBAN_WORLD_OVERRIDES,
        f"ckpt_path={checkpoints['segmenter']}",
        f"runespoor.sr_checkpoints.sr={checkpoints['sr']}",
        "runespoor.episode_length=1",
        *extra,
    ]
    return compose_config("evaluate", overrides=overrides, tmp_path=tmp_path, data_dir=data_dir)


def test_compare_scores_every_method_side_by_side(checkpoints, tmp_path, data_dir) -> None:
    metrics = evaluate(_compare(checkpoints, tmp_path, data_dir))
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    methods = report["methods"]
    assert sorted(methods) == ["bicubic", "bilinear", "hr", "sr"]
    assert report["knobs"] == "x4_q90"
    assert metrics["sr/mIoU"] == pytest.approx(methods["sr"]["mIoU"])
    # the bytes are those of the real JPEG of every downscaled val frame
    frames = read_cityscapes(data_dir / "urban_world", split="val")
    sizes = []
    for frame in frames:
        image = load_image(frame)
        small = cv2.resize(
            image, (image.shape[1] // 4, image.shape[0] // 4), interpolation=cv2.INTER_AREA
        )
        _, encoded = cv2.imencode(
            ".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]
        )
        sizes.append(len(encoded))
    for name in ("bilinear", "bicubic", "sr"):
        assert methods[name]["bytes_per_frame"] == pytest.approx(np.mean(sizes))
        assert 5.0 < methods[name]["psnr"] < 60.0 and 0.0 < methods[name]["ssim"] <= 1.0
        assert methods[name]["frames"] == len(frames)
    assert methods["hr"]["psnr"] is None  # nothing restored: NaN, written as null
    # the tail is the worst half of the classes HR scores above zero (the untrained
    # segmenter may score too few: then there is none)
    scored_by_hr = sum(bool(value) for value in methods["hr"]["iou"].values())
    assert len(methods["hr"]["tail_classes"]) == (scored_by_hr // 2 if scored_by_hr > 1 else 0)
    if methods["hr"]["tail_classes"]:
        assert methods["hr"]["tail_normalized"] == pytest.approx(1.0)
    text = (tmp_path / "run" / "comparison.md").read_text()
    assert text.startswith("# Restoration methods at x4_q90")


def test_an_sr_checkpoint_of_another_scale_fails_naming_it(checkpoints, tmp_path, data_dir):
    cfg = _compare(checkpoints, tmp_path, data_dir, "runespoor.scale=2")
    with pytest.raises(ValueError, match=r"last\.ckpt does not fit the configured SR network"):
        evaluate(cfg)
