"""evaluate.py experiment=runespoor/drone/eval/compare: the released tiny cloud detector and a
train.py SR run score every restoration method side by side on a small drone world."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from edgecloud.cli.evaluate import evaluate
from edgecloud.cli.train import train
from edgecloud.data.detection_dataset import frame_to_tensor
from edgecloud.metrics.coco import evaluate_detections, small_object_ground_truth
from edgecloud.metrics.regions import small_box_mask
from edgecloud.models.weights import load_weights
from edgecloud.tasks.detection import prediction_to_detections
from tests.conftest import PROJECT_ROOT, TINY_WORLD_OVERRIDES, compose_config

pytestmark = pytest.mark.slow

DETECTOR = PROJECT_ROOT / "checkpoints" / "react_tiny_cloud.pt"
# The tiny world at the size the released detector was trained at (its objects at their
# trained size, so that it finds some and the tail classes are not empty): 3 short videos.
WORLD = [*TINY_WORLD_OVERRIDES, "data.prepare.config.width=640", "data.prepare.config.height=360"]
FRAME_STRIDE = 2
ROW_KEYS = {
    "mAP",
    "mAP50",
    "mAP75",
    "small_mAP",
    "small_mAP50",
    "tail_AP",
    "tail_normalized",
    "frame_mean",
    "frame_tail_90",
    "frame_tail_99",
    "episode_ap50",
    "psnr",
    "ssim",
    "bytes_per_frame",
    "restore_ms_per_frame",
    "frames",
    "ap",
    "ap50",
    "tail_classes",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Its own data dir: the session's tiny world is another size, and a world is regenerated
    whenever its configuration changes."""
    data_dir = tmp_path_factory.mktemp("detector_sized_world")
    cfg = compose_config(
        "train", overrides=WORLD, tmp_path=tmp_path_factory.mktemp("world"), data_dir=data_dir
    )
    instantiate(cfg.data).prepare_data()
    return data_dir


@pytest.fixture(scope="module")
def sr_checkpoint(tmp_path_factory, world) -> Path:
    """A standard SR run of one training and one validation batch."""
    run_dir = tmp_path_factory.mktemp("drone_sr")
    overrides = [
        "experiment=runespoor/drone/sr",
        *WORLD,
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=1",
        "+trainer.limit_val_batches=1",
        "logger=csv",
        "callbacks.rich_progress_bar=null",
    ]
    train(compose_config("train", overrides=overrides, tmp_path=run_dir, data_dir=world))
    return run_dir / "run" / "checkpoints" / "last.ckpt"


def _compare(tmp_path: Path, world: Path, *extra: str):
    overrides = [
        "experiment=runespoor/drone/eval/compare",
        *WORLD,
        f"ckpt_path={DETECTOR}",
        f"frame_stride={FRAME_STRIDE}",
        "runespoor.episode_length=3",
        *extra,
    ]
    return compose_config("evaluate", overrides=overrides, tmp_path=tmp_path, data_dir=world)


def _direct_scores(cfg) -> dict[str, object]:
    """What the comparison measures on its own terms, computed apart from it: the released
    detector on every evaluated original frame scored by the repo's COCO code (all boxes, and
    the small ones alone), and the size of OpenCV's JPEG of each frame downscaled 4x."""
    module = instantiate(cfg.model)
    load_weights(module.net, DETECTOR)
    net = module.net.eval()
    ground_truth, small_ground_truth, detections, sizes, num_bytes = [], [], [], [], []
    for video in instantiate(cfg.data).val_videos():
        for index in range(0, len(video), FRAME_STRIDE):
            frame, annotations = video.frames.read(index), video.annotations[index]
            height, width = frame.shape[:2]
            with torch.inference_mode():
                detections.append(prediction_to_detections(net([frame_to_tensor(frame)])[0]))
            small = small_box_mask(
                annotations.boxes, image_size=(height, width), max_area_fraction=0.001
            )
            ground_truth.append(annotations)
            small_ground_truth.append(small_object_ground_truth(annotations, small=small))
            sizes.append((height, width))
            downscaled = cv2.resize(frame, (width // 4, height // 4), interpolation=cv2.INTER_AREA)
            _, encoded = cv2.imencode(
                ".jpg", cv2.cvtColor(downscaled, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]
            )
            num_bytes.append(len(encoded))
    common = {"detections": detections, "class_names": module.class_names, "image_sizes": sizes}
    return {
        "all": evaluate_detections(ground_truth=ground_truth, **common),
        "small": evaluate_detections(ground_truth=small_ground_truth, **common),
        "bytes_per_frame": float(np.mean(num_bytes)),
        "frames": len(sizes),
    }


def test_detection_compare_scores_every_method_side_by_side(tmp_path, world, sr_checkpoint) -> None:
    cfg = _compare(tmp_path, world, f"runespoor.sr_checkpoints.sr={sr_checkpoint}")
    metrics = evaluate(cfg)
    run_dir = tmp_path / "run"
    report = json.loads((run_dir / "metrics.json").read_text())
    methods = report["methods"]
    assert sorted(methods) == ["bicubic", "bilinear", "hr", "sr"]
    assert report["knobs"] == "x4_q90" and report["small_box_fraction"] == 0.001
    assert all(set(row) == ROW_KEYS for row in methods.values())
    assert metrics["sr/mAP"] == pytest.approx(methods["sr"]["mAP"])

    direct = _direct_scores(cfg)
    hr = methods["hr"]
    for class_name, ap in direct["all"].per_class_ap.items():
        assert hr["ap"][class_name] == (None if ap is None else pytest.approx(ap, abs=1e-12))
    assert hr["mAP"] == pytest.approx(direct["all"].map, abs=1e-12)
    assert hr["small_mAP"] == pytest.approx(direct["small"].map, abs=1e-12)
    for name in ("bilinear", "bicubic", "sr"):
        row = methods[name]
        assert row["bytes_per_frame"] == pytest.approx(direct["bytes_per_frame"])
        assert row["frames"] == direct["frames"]
        assert 5.0 < row["psnr"] < 60.0 and 0.0 < row["ssim"] <= 1.0
        assert row["restore_ms_per_frame"] > 0.0
    assert hr["psnr"] is None and hr["bytes_per_frame"] is None  # nothing restored or sent

    # the tail: the worst half of the classes by bilinear's AP over HR's, for every method
    bilinear = methods["bilinear"]["ap"]
    ratios = {
        name: bilinear[name] / hr["ap"][name]
        for name in cfg.data.class_names
        if hr["ap"][name] and bilinear[name] is not None
    }
    expected = sorted(ratios, key=lambda name: ratios[name])[: len(ratios) // 2]
    assert expected, "the released detector found too few classes on HR for a tail"
    assert all(row["tail_classes"] == expected for row in methods.values())
    assert hr["tail_normalized"] == pytest.approx(1.0)
    assert methods["sr"]["tail_AP"] == pytest.approx(
        np.mean([methods["sr"]["ap"][name] for name in expected])
    )

    # one video of 12 frames, every 2nd evaluated: two episodes of 3
    assert all(len(row["episode_ap50"]) == 2 for row in methods.values())
    text = (run_dir / "comparison.md").read_text()
    assert text.startswith("# Restoration methods for detection at x4_q90 (6 frames")
    for figure in ("fig8_class_ap.png", "fig10_frame_distribution.png"):
        assert (run_dir / figure).read_bytes().startswith(b"\x89PNG")


def test_an_sr_checkpoint_of_another_scale_fails_naming_it(tmp_path, world, sr_checkpoint):
    cfg = _compare(
        tmp_path, world, f"runespoor.sr_checkpoints.asr={sr_checkpoint}", "runespoor.scale=2"
    )
    with pytest.raises(ValueError, match=r"last\.ckpt does not fit the configured SR network"):
        evaluate(cfg)


def test_there_is_no_knob_recording_for_detection(tmp_path, world):
    with pytest.raises(ValueError, match=r"recording is for runespoor\.task=segmentation"):
        evaluate(_compare(tmp_path, world, "record=true"))
