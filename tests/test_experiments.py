"""Every experiment composes, instantiates and runs one training and one validation batch."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import open_dict

from edgecloud.cli.train import train
from edgecloud.data.formats.d2city import D2CityBox, D2CityTrack, write_d2city_xml
from edgecloud.data.formats.visdrone_det import VisDroneDetRow, write_visdrone_det_annotations
from edgecloud.data.relevance_dataset import RELEVANCE_CLASS_NAMES
from edgecloud.utils.config import check_config
from tests.conftest import (
    TINY_ACTION_WORLD_OVERRIDES,
    TINY_URBAN_WORLD_OVERRIDES,
    TINY_WORLD_OVERRIDES,
    compose_config,
    experiment_names,
    shrink_model,
)

# Training experiments; those under an eval/ folder are for evaluate.py only.
EXPERIMENTS = [name for name in experiment_names() if "/eval/" not in name]
EVAL_EXPERIMENTS = experiment_names(task="evaluate")
TINY_HEIGHT, TINY_WIDTH = 96, 160


def _write_d2city_clip(directory: Path, name: str, *, num_frames: int) -> None:
    """A moving grey car on a dark road, as an mp4 with its D2-City XML."""
    directory.mkdir(parents=True, exist_ok=True)
    boxes = []
    with av.open(str(directory / f"{name}.mp4"), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = TINY_WIDTH, TINY_HEIGHT, "yuv420p"
        for frame in range(num_frames):
            image = np.full((TINY_HEIGHT, TINY_WIDTH, 3), 40, dtype=np.uint8)
            x = 10 + 8 * frame
            image[30:60, x : x + 40] = 200
            boxes.append(D2CityBox(frame=frame, xtl=x, ytl=30, xbr=x + 40, ybr=60))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    write_d2city_xml(
        directory / f"{name}.xml",
        [D2CityTrack(track_id=0, label="car", boxes=tuple(boxes))],
        num_frames=num_frames,
        width=TINY_WIDTH,
        height=TINY_HEIGHT,
    )


@pytest.fixture(scope="session")
def d2city_dir(data_dir: Path) -> Path:
    root = data_dir / "d2city"
    _write_d2city_clip(root / "train", "clip_a", num_frames=6)
    _write_d2city_clip(root / "val", "clip_b", num_frames=6)
    return root


def _clownfish_overrides(experiment: str, data_dir: Path) -> list[str]:
    """The tiny action world for every Clownfish experiment, also for the PKU-MMD variants
    (it is written in PKU-MMD's layout); SimiNet runs on an untrained local model."""
    overrides = [f"experiment={experiment}", *TINY_ACTION_WORLD_OVERRIDES]
    if "_pkummd" in experiment:
        overrides = [o for o in overrides if not o.startswith("data.prepare")]
        overrides.append(f"data.train_videos.root={data_dir / 'action_world'}")
    if "siminet" in experiment:
        overrides.append("model.allow_untrained_local=true")
    return overrides


@pytest.fixture(scope="session")
def segmenter_checkpoint(tmp_path_factory) -> Path:
    """A Lightning-style checkpoint of the (untrained) configured segmentation model, the
    frozen analytics model of the ASR and CloudSeg experiments."""
    run_dir = tmp_path_factory.mktemp("segmenter_run")
    cfg = compose_config(
        "train",
        overrides=["experiment=runespoor/segmenter"],
        tmp_path=run_dir,
        data_dir=run_dir,
    )
    module = instantiate(cfg.model)
    path = run_dir / "segmenter.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    return path


def _write_visdrone_det_split(root: Path, sizes: list[tuple[int, int]]) -> None:
    """Noise images in VisDrone2019-DET layout, each with two pedestrians (small at a 1%
    threshold), a car, a bus and an ignored region."""
    rng = np.random.default_rng(0)
    for index, (height, width) in enumerate(sizes):
        image = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
        # (left, top, width, height, category): pedestrian 1, car 4, bus 9, ignored 0
        objects = [
            (10, 10, 6, 10, 1),
            (40, 60, 6, 10, 1),
            (70, 20, 20, 12, 4),
            (100, 40, 50, 30, 9),
        ]
        rows = []
        for left, top, box_w, box_h, category in objects:
            image[top : top + box_h, left : left + box_w] = 60 + 20 * category
            rows.append(VisDroneDetRow(left, top, box_w, box_h, 1, category, 0, 0))
        rows.append(VisDroneDetRow(0, 80, 20, 10, 0, 0, 0, 0))
        name = f"{index:07d}_00000_d_0000001"
        (root / "images").mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(root / "images" / f"{name}.jpg"), image)
        write_visdrone_det_annotations(root / "annotations" / f"{name}.txt", rows)


@pytest.fixture(scope="session")
def visdrone_det_dir(data_dir: Path) -> Path:
    """A tiny VisDrone2019-DET root; validation images come in two sizes, one of them not a
    multiple of the SR scale."""
    root = data_dir / "visdrone_det"
    _write_visdrone_det_split(root / "train", [(TINY_HEIGHT, TINY_WIDTH)] * 4)
    _write_visdrone_det_split(root / "val", [(TINY_HEIGHT, TINY_WIDTH), (98, 150)])
    return root


@pytest.fixture(scope="session")
def detector_checkpoint(tmp_path_factory) -> Path:
    """A Lightning-style checkpoint of the (untrained) tiny cloud detector, the frozen
    analytics model of the detection ASR experiments."""
    run_dir = tmp_path_factory.mktemp("detector_run")
    cfg = compose_config(
        "train", overrides=["experiment=react/tiny_cloud"], tmp_path=run_dir, data_dir=run_dir
    )
    module = instantiate(cfg.model)
    path = run_dir / "detector.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    return path


def _runespoor_detection_overrides(experiment: str, checkpoint: Path, data_dir: Path) -> list[str]:
    """The tiny drone world (or a tiny VisDrone2019-DET root), crops the tiny frames hold,
    boxes small under 1% of them (so that the tiny world has some) and the detector at the
    tiny frames' size; ASR trains through an untrained tiny cloud detector."""
    overrides = [
        f"experiment={experiment}",
        *TINY_WORLD_OVERRIDES,
        "data.crop_size=[64,96]",
        "data.small_box_fraction=0.01",
        f"model.analytics.net.min_size={TINY_HEIGHT}",
        f"model.analytics.net.max_size={TINY_WIDTH}",
    ]
    if experiment.startswith("runespoor/visdrone/"):
        overrides = [o for o in overrides if not o.startswith("data.prepare")]
        root = data_dir / "visdrone_det"
        overrides += [f"data.train_videos.root={root}/train", f"data.val_videos.root={root}/val"]
    if experiment.endswith("/asr"):
        overrides.append(f"model.analytics_checkpoint={checkpoint}")
    return overrides


def _runespoor_overrides(experiment: str, checkpoint: Path, data_dir: Path) -> list[str]:
    """The tiny urban world (also for the Cityscapes variants: it is written in Cityscapes'
    layout); the analytics objectives train through an untrained segmenter."""
    overrides = [f"experiment={experiment}", *TINY_URBAN_WORLD_OVERRIDES]
    if experiment.startswith("runespoor/cityscapes/"):
        overrides = [o for o in overrides if not o.startswith("data.prepare")]
        world = data_dir / "urban_world"
        overrides += [f"data.train_frames.root={world}", f"data.val_frames.root={world}"]
    if experiment.endswith(("/asr", "/cloudseg")):
        overrides.append(f"model.analytics_checkpoint={checkpoint}")
    return overrides


def _shrink_action_model(cfg) -> None:
    """Action models (and SimiNet's local model) see 16x16 clips so CPU tests stay fast."""
    with open_dict(cfg):
        for node in (cfg.model, cfg.model.get("local")):
            if node is not None and node.get("input_size") is not None:
                node.input_size = 16


def _overrides(
    experiment: str, data_dir: Path, segmenter: Path | None, detector: Path | None = None
) -> list[str]:
    """Tiny data for every experiment: the synthetic world (also for the VisDrone variants,
    since it is written in VisDrone's format), a D2-City fixture, a VisDrone2019-DET fixture,
    the tiny action world or the tiny urban world."""
    if experiment.startswith("clownfish/"):
        return _clownfish_overrides(experiment, data_dir)
    if experiment.startswith(("runespoor/drone/", "runespoor/visdrone/")):
        return _runespoor_detection_overrides(experiment, detector, data_dir)
    if experiment.startswith("runespoor/"):
        return _runespoor_overrides(experiment, segmenter, data_dir)
    overrides = [f"experiment={experiment}", "data.num_workers=0", "data.batch_size=2"]
    if experiment.startswith("react/d2city/"):
        return [*overrides, "data.train_frame_stride=1", "data.val_frame_stride=1"]
    overrides += TINY_WORLD_OVERRIDES
    if experiment.startswith("react/visdrone/"):
        overrides = [o for o in overrides if not o.startswith("data.prepare")]
        world = data_dir / "drone_world"
        overrides += [
            f"data.train_videos.root={world}/train",
            f"data.val_videos.root={world}/val",
        ]
    return overrides


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_and_instantiates(
    experiment, tmp_path, data_dir, segmenter_checkpoint, detector_checkpoint
):
    cfg = compose_config(
        "train",
        overrides=_overrides(experiment, data_dir, segmenter_checkpoint, detector_checkpoint),
        tmp_path=tmp_path,
        data_dir=data_dir,
    )
    check_config(cfg, required=("data", "model", "trainer"))
    datamodule = instantiate(cfg.data)
    module = instantiate(cfg.model)
    trainer = instantiate(cfg.trainer)
    # a relevance filter's targets are background/action, whatever the data's action classes
    relevance = cfg.data._target_.endswith("RelevanceDataModule")
    expected = list(RELEVANCE_CLASS_NAMES) if relevance else list(cfg.data.class_names)
    assert datamodule.class_names == expected
    assert module.class_names == datamodule.class_names
    assert trainer.max_epochs == cfg.trainer.max_epochs


@pytest.mark.parametrize("experiment", EVAL_EXPERIMENTS)
def test_eval_experiment_composes_and_instantiates(experiment, tmp_path, data_dir):
    """evaluate.py's experiments compose with the evaluate config and resolve once given their
    checkpoints' paths, and their data and model groups instantiate (running them takes real
    checkpoints: tests/test_*_record.py and tests/test_runespoor*_compare.py)."""
    overrides = [f"experiment={experiment}", "ckpt_path=checkpoint.ckpt"]
    if experiment.startswith("clownfish/"):
        overrides.append("clownfish.remote_ckpt_path=remote.ckpt")
    cfg = compose_config("evaluate", overrides=overrides, tmp_path=tmp_path, data_dir=data_dir)
    check_config(cfg, required=("data", "model", "paths"))
    datamodule = instantiate(cfg.data)
    module = instantiate(cfg.model)
    assert module.class_names == datamodule.class_names
    if cfg.get("runespoor") is not None:
        # evaluate.py dispatches on it
        assert cfg.runespoor.task in ("segmentation", "detection")


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_fast_dev_run(
    experiment,
    tmp_path,
    data_dir,
    tiny_world,
    tiny_action_world,
    tiny_urban_world,
    d2city_dir,
    visdrone_det_dir,
    segmenter_checkpoint,
    detector_checkpoint,
):
    overrides = [
        *_overrides(experiment, data_dir, segmenter_checkpoint, detector_checkpoint),
        "debug=fdr",
        "callbacks=none",
    ]
    cfg = compose_config("train", overrides=overrides, tmp_path=tmp_path, data_dir=data_dir)
    shrink_model(cfg, height=TINY_HEIGHT, width=TINY_WIDTH)
    if experiment.startswith("clownfish/"):
        _shrink_action_model(cfg)
    metrics = train(cfg)
    assert np.isfinite(metrics["train/loss"])
    if experiment.startswith("clownfish/"):
        # one validation batch may hold only background windows, which val/acc ignores
        assert np.isnan(metrics["val/acc"]) or 0.0 <= metrics["val/acc"] <= 1.0
        assert cfg.optimized_metric == "val/acc_best"
    elif experiment.endswith("/segmenter"):
        assert 0.0 <= metrics["val/mIoU"] <= 1.0
    elif experiment.startswith(("runespoor/drone/", "runespoor/visdrone/")):
        assert metrics["val/psnr"] > 0.0
        if experiment.endswith("/asr"):
            assert 0.0 <= metrics["val/mAP50"] <= 1.0
            assert 0.0 <= metrics["val/small_mAP50"] <= 1.0
            assert np.isfinite(metrics["train/analytics"])
    elif experiment.startswith("runespoor/"):
        assert metrics["val/psnr"] > 0.0
        if experiment.endswith(("/asr", "/cloudseg")):
            assert 0.0 <= metrics["val/mIoU"] <= 1.0
            assert np.isfinite(metrics["train/analytics"])
    else:
        assert 0.0 <= metrics["val/mAP50"] <= 1.0


def test_unknown_key_fails_at_composition(tmp_path, data_dir):
    with pytest.raises(ConfigCompositionException, match="batchsize"):
        compose_config(
            "train", overrides=["data.batchsize=4"], tmp_path=tmp_path, data_dir=data_dir
        )


def test_unknown_experiment_fails_at_composition(tmp_path, data_dir):
    with pytest.raises(ConfigCompositionException, match="no_such_model"):
        compose_config(
            "train",
            overrides=["experiment=react/no_such_model"],
            tmp_path=tmp_path,
            data_dir=data_dir,
        )


def test_missing_value_is_reported_before_any_work(tmp_path, data_dir):
    cfg = compose_config(
        "train", overrides=["data=coco_json"], tmp_path=tmp_path, data_dir=data_dir
    )
    with pytest.raises(ValueError, match=r"Missing mandatory value: data.class_names"):
        check_config(cfg, required=("data",))


def test_missing_value_without_interpolation_is_named(tmp_path, data_dir):
    cfg = compose_config(
        "train",
        overrides=["data=coco_json", "data.class_names=[car]"],
        tmp_path=tmp_path,
        data_dir=data_dir,
    )
    with pytest.raises(ValueError, match=r"missing \(\?\?\?\): data.train_videos.annotation_file"):
        check_config(cfg, required=("data",))


def test_model_takes_num_classes_from_data(tmp_path, data_dir):
    cfg = compose_config(
        "train",
        overrides=["data=d2city", "model=fcos_r50_fpn"],
        tmp_path=tmp_path,
        data_dir=data_dir,
    )
    assert cfg.model.net.num_classes == 12
    with open_dict(cfg):
        cfg.data.class_names = ["car", "bus"]
    assert cfg.model.net.num_classes == 2


@pytest.mark.slow
def test_ddp_sim_trains_in_two_processes_and_scores_all_ranks(tmp_path, data_dir, tiny_world):
    overrides = [
        *_overrides("react/tiny_edge", data_dir, segmenter=None),
        "trainer=ddp_sim",
        "debug=fdr",
        "data.train_frame_stride=1",
    ]
    cfg = compose_config("train", overrides=overrides, tmp_path=tmp_path, data_dir=data_dir)
    metrics = train(cfg)
    assert np.isfinite(metrics["train/loss"])
    assert 0.0 <= metrics["val/mAP50"] <= 1.0
