"""train.py's segmenter and SR runs feed evaluate.py's comparison of restoration methods."""

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
from edgecloud.data.formats.cityscapes import load_image, load_train_ids, read_cityscapes
from edgecloud.metrics.segmentation import accumulated_miou
from edgecloud.recording.knobs import KnobRecording
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


def test_compare_draws_its_figures_beside_the_table(tmp_path, data_dir, tiny_urban_world):
    """Without training: an untrained segmenter's weights, the interpolation baselines only."""
    checkpoint = tmp_path / "untrained.ckpt"
    overrides = [
        "experiment=runespoor/eval/compare",
        *TINY_URBAN_WORLD_OVERRIDES,
        f"ckpt_path={checkpoint}",
        "runespoor.episode_length=1",
    ]
    cfg = compose_config("evaluate", overrides=overrides, tmp_path=tmp_path, data_dir=data_dir)
    torch.manual_seed(0)
    torch.save({"state_dict": instantiate(cfg.model).state_dict()}, checkpoint)
    evaluate(cfg)
    run_dir = tmp_path / "run"
    methods = json.loads((run_dir / "metrics.json").read_text())["methods"]
    frames = len(read_cityscapes(data_dir / "urban_world", split="val"))
    for row in methods.values():
        assert len(row["episode_miou"]) == frames  # one frame per episode
        assert np.mean(row["episode_miou"]) == pytest.approx(row["frame_mean"])
    assert (run_dir / "fig10_frame_distribution.png").read_bytes().startswith(b"\x89PNG")
    assert (run_dir / "fig7_class_iou.png").is_file() == bool(methods["hr"]["tail_classes"])
    assert "episode" not in (run_dir / "comparison.md").read_text()


def _jpeg_bytes(image: np.ndarray, *, scale: int, quality: int) -> int:
    """Bytes of the real JPEG of ``image`` downscaled by ``scale``."""
    small = cv2.resize(
        image, (image.shape[1] // scale, image.shape[0] // scale), interpolation=cv2.INTER_AREA
    )
    _, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    return len(encoded)


def test_compare_trims_frames_that_the_scale_does_not_divide(checkpoints, tmp_path, data_dir):
    # 96x48 frames at x5: every method, HR included, is scored on the top-left 95x45
    evaluate(
        _compare(
            checkpoints, tmp_path, data_dir, "runespoor.scale=5", "runespoor.sr_checkpoints.sr=null"
        )
    )
    methods = json.loads((tmp_path / "run" / "metrics.json").read_text())["methods"]
    frames = read_cityscapes(data_dir / "urban_world", split="val")
    sizes = [_jpeg_bytes(load_image(frame)[:45, :95], scale=5, quality=90) for frame in frames]
    assert methods["bicubic"]["bytes_per_frame"] == pytest.approx(np.mean(sizes))
    assert sorted(methods) == ["bicubic", "bilinear", "hr"]
    for method in methods.values():
        assert method["frames"] == len(frames)


def test_an_sr_checkpoint_of_another_scale_fails_naming_it(checkpoints, tmp_path, data_dir):
    cfg = _compare(checkpoints, tmp_path, data_dir, "runespoor.scale=2")
    with pytest.raises(ValueError, match=r"last\.ckpt does not fit the configured SR network"):
        evaluate(cfg)


def _record(checkpoints, tmp_path, data_dir, *extra: str):
    overrides = [
        "experiment=runespoor/eval/record",
        *TINY_URBAN_WORLD_OVERRIDES,
        f"ckpt_path={checkpoints['segmenter']}",
        "runespoor.scales=[2,4]",
        "runespoor.qualities=[50,90]",
        f"runespoor.sr_checkpoints.x4={checkpoints['sr']}",
        *extra,
    ]
    return compose_config("evaluate", overrides=overrides, tmp_path=tmp_path, data_dir=data_dir)


def test_knob_recording_holds_every_configuration_of_every_val_frame(
    checkpoints, tmp_path, data_dir
) -> None:
    metrics = evaluate(_record(checkpoints, tmp_path, data_dir))
    recording = KnobRecording.open(tmp_path / "run" / "recording")
    assert [k.name for k in recording.knobs] == ["x2_q50", "x2_q90", "x4_q50", "x4_q90"]
    restorers = recording.manifest["metadata"]["restorers"]
    assert restorers == {"x2": "bicubic", "x4": str(checkpoints["sr"])}
    frames = read_cityscapes(data_dir / "urban_world", split="val")
    (name,) = recording.clip_names
    clip = recording.clip(name)
    assert clip.num_frames == len(frames)
    for f, frame in enumerate(frames):
        image = load_image(frame)
        for k, knob in enumerate(recording.knobs):
            small = cv2.resize(
                image,
                (image.shape[1] // knob.scale, image.shape[0] // knob.scale),
                interpolation=cv2.INTER_AREA,
            )
            _, encoded = cv2.imencode(
                ".jpg",
                cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, knob.quality],
            )
            assert clip.arrays["frame_bytes"][k, f] == len(encoded)
    # the union of a class over a frame covers at least its ground-truth pixels
    target_pixels = np.array(
        [np.bincount(load_train_ids(f).ravel(), minlength=256)[:19] for f in frames]
    )
    assert np.all(clip.arrays["hr_union"] >= target_pixels)
    assert np.all(clip.arrays["union"] >= target_pixels[None])
    assert np.all(clip.arrays["restore_latency_s"] > 0)
    hr = accumulated_miou(clip.arrays["hr_intersection"], clip.arrays["hr_union"])
    assert metrics["hr/mIoU"] == pytest.approx(hr)
    x4_q90 = accumulated_miou(clip.arrays["intersection"][3], clip.arrays["union"][3])
    assert metrics["x4_q90/mIoU"] == pytest.approx(x4_q90)
    # bytes per frame x 8 bits x 17 fps
    mbps = clip.arrays["frame_bytes"][3].mean() * 8 * 17 / 1e6
    assert metrics["x4_q90/mbps"] == pytest.approx(mbps)
    run_dir = tmp_path / "run"
    assert (run_dir / "knobs.md").read_text().count("\n| x") == 4
    assert (run_dir / "fig11.png").stat().st_size > 0


def test_knob_recording_trims_frames_to_a_multiple_of_every_scale(
    checkpoints, tmp_path, data_dir
) -> None:
    # 96x48 frames at x2 and x5: every configuration and HR see the top-left 90x40 (multiples
    # of 10), so that they are scored on the same pixels
    cfg = _record(
        checkpoints,
        tmp_path,
        data_dir,
        "runespoor.scales=[2,5]",
        "runespoor.qualities=[90]",
        "runespoor.sr_checkpoints.x4=null",
    )
    evaluate(cfg)
    recording = KnobRecording.open(tmp_path / "run" / "recording")
    clip = recording.clip(recording.clip_names[0])
    frames = read_cityscapes(data_dir / "urban_world", split="val")
    for f, frame in enumerate(frames):
        image = load_image(frame)[:40, :90]
        for k, knob in enumerate(recording.knobs):
            expected = _jpeg_bytes(image, scale=knob.scale, quality=knob.quality)
            assert clip.arrays["frame_bytes"][k, f] == expected
        target = load_train_ids(frame)[:40, :90]
        assert np.all(clip.arrays["hr_union"][f] >= np.bincount(target.ravel(), minlength=256)[:19])
        # correctly labelled pixels cannot outnumber the trimmed frame's
        assert clip.arrays["hr_intersection"][f].sum() <= 90 * 40


def test_knob_recording_refuses_an_sr_checkpoint_for_an_unrecorded_scale(
    checkpoints, tmp_path, data_dir
) -> None:
    cfg = _record(
        checkpoints, tmp_path, data_dir, f"runespoor.sr_checkpoints.x8={checkpoints['sr']}"
    )
    with pytest.raises(ValueError, match=r"\['x8'\], which are not among runespoor.scales"):
        evaluate(cfg)
