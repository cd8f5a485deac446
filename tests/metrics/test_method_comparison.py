"""Side-by-side scores of restoration methods, on hand-made label maps."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgecloud.metrics.method_comparison import (
    MethodScores,
    compare_methods,
    comparison_markdown,
)
from edgecloud.metrics.tail import frame_tail_accuracy
from edgecloud.utils.jsonio import write_json_report

CLASSES = ["road", "pole", "sky", "sign"]


def target() -> np.ndarray:
    """A 4x4 map: road on the bottom half, sky on top, one pole and one sign pixel."""
    labels = np.zeros((4, 4), np.uint8)
    labels[:2] = 2
    labels[1, 1] = 1
    labels[1, 2] = 3
    return labels


def scored(prediction: np.ndarray, frames: int = 2) -> MethodScores:
    scores = MethodScores(num_classes=len(CLASSES))
    for _ in range(frames):
        scores.add_frame(prediction, target(), clip_id="clip")
    return scores


def test_rows_hold_overall_tail_and_frame_scores() -> None:
    hr = target()
    bilinear = target()
    bilinear[1, 1] = 2  # pole lost to sky: pole IoU 0, sky IoU 6/7
    rows = compare_methods(
        {"hr": scored(hr), "bilinear": scored(bilinear)},
        class_names=CLASSES,
        episode_length=1,
    )
    # tail classes: the worst half (2 of 4) of bilinear/HR: pole (0), then sky (6/7)
    assert rows["bilinear"]["tail_classes"] == ["pole", "sky"]
    assert rows["hr"]["mIoU"] == 1.0 and rows["hr"]["tail_normalized"] == 1.0
    assert math.isclose(rows["bilinear"]["mIoU"], (1 + 0 + 6 / 7 + 1) / 4)
    assert math.isclose(rows["bilinear"]["tail_mIoU"], (0 + 6 / 7) / 2)
    assert math.isclose(rows["bilinear"]["tail_normalized"], (6 / 7) / 2)
    assert rows["bilinear"]["iou"]["pole"] == 0.0
    # one frame per episode: every episode is the frame's own mIoU
    assert math.isclose(rows["bilinear"]["frame_mean"], rows["bilinear"]["mIoU"])
    assert math.isclose(rows["bilinear"]["pixel_acc"], 15 / 16)
    assert rows["bilinear"]["frames"] == 2
    assert math.isnan(rows["hr"]["psnr"])  # HR restores nothing


def test_frame_tails_come_from_episodes_of_each_clip() -> None:
    scores = MethodScores(num_classes=len(CLASSES))
    worse = target()
    worse[1, 1:3] = 2  # pole and sign lost: mIoU (1 + 0 + 6/8 + 0) / 4
    for clip, prediction in (("a", target()), ("a", target()), ("b", worse), ("b", worse)):
        scores.add_frame(prediction, target(), clip_id=clip)
    rows = compare_methods(
        {"hr": scored(target()), "bilinear": scores}, class_names=CLASSES, episode_length=2
    )
    worst = (1 + 0 + 6 / 8 + 0) / 4
    assert math.isclose(rows["bilinear"]["frame_mean"], (1 + worst) / 2)
    assert math.isclose(rows["bilinear"]["frame_tail_99"], worst + 0.01 * (1 - worst))


def test_restored_frames_add_psnr_ssim_and_bytes() -> None:
    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    restored = original.copy()
    restored[0, 0, 0] ^= 1
    scores = MethodScores(num_classes=len(CLASSES))
    scores.add_frame(
        np.zeros((16, 16), np.uint8),
        np.zeros((16, 16), np.uint8),
        clip_id=0,
        restored=restored,
        original=original,
        num_bytes=1200,
    )
    assert math.isclose(scores.psnr[0], 10 * math.log10(255**2 * 16 * 16 * 3), rel_tol=1e-9)
    assert 0.99 < scores.ssim[0] < 1.0 and scores.num_bytes == [1200]
    with pytest.raises(ValueError, match="come together"):
        scores.add_frame(
            np.zeros((16, 16), np.uint8), np.zeros((16, 16), np.uint8), clip_id=0, restored=restored
        )


def test_reference_and_tail_baseline_are_required() -> None:
    with pytest.raises(ValueError, match="'hr'"):
        compare_methods({"bilinear": scored(target())}, class_names=CLASSES)
    with pytest.raises(ValueError, match="'bicubic'"):
        compare_methods({"hr": scored(target())}, class_names=CLASSES, tail_baseline="bicubic")


def test_markdown_lists_tail_classes_first() -> None:
    bilinear = target()
    bilinear[1, 1] = 2
    rows = compare_methods(
        {"hr": scored(target()), "bilinear": scored(bilinear)}, class_names=CLASSES
    )
    text = comparison_markdown(rows, title="x4_q90")
    lines = text.splitlines()
    assert lines[0] == "# x4_q90"
    assert any(line.startswith("| bilinear | 71.43 |") for line in lines)
    class_rows = [
        line.split(" |")[0] for line in lines if line.startswith("| ") and "(tail)" in line
    ]
    assert class_rows == ["| pole (tail)", "| sky (tail)"]


def test_without_two_normalisable_classes_the_tail_is_empty_and_nan() -> None:
    everything_road = np.zeros((4, 4), np.uint8)  # HR scores only road (IoU 8/16 > 0)
    rows = compare_methods(
        {"hr": scored(everything_road), "bilinear": scored(everything_road)},
        class_names=CLASSES,
    )
    assert rows["bilinear"]["tail_classes"] == []
    assert math.isnan(rows["bilinear"]["tail_mIoU"]) and math.isnan(rows["hr"]["tail_normalized"])
    assert math.isclose(rows["bilinear"]["mIoU"], (8 / 16) / 4)


def test_rows_keep_the_episodes_and_the_markdown_ignores_them() -> None:
    scores = MethodScores(num_classes=len(CLASSES))
    worse = target()
    worse[1, 1:3] = 2
    for clip, prediction in (("a", target()), ("a", worse), ("b", worse), ("b", worse)):
        scores.add_frame(prediction, target(), clip_id=clip)
    rows = compare_methods(
        {"hr": scored(target()), "bilinear": scores}, class_names=CLASSES, episode_length=2
    )
    expected = frame_tail_accuracy(scores.frame_miou, clip_ids=scores.clip_ids, episode_length=2)
    episodes = rows["bilinear"]["episode_miou"]
    assert isinstance(episodes, list) and all(type(value) is float for value in episodes)
    assert episodes == expected.episodes.tolist()
    worst = (1 + 0 + 6 / 8 + 0) / 4
    assert episodes == pytest.approx([(1 + worst) / 2, worst])
    assert rows["hr"]["episode_miou"] == [1.0]
    without = {
        name: {k: v for k, v in row.items() if k != "episode_miou"} for name, row in rows.items()
    }
    assert comparison_markdown(rows, title="t") == comparison_markdown(without, title="t")


def test_rows_with_episodes_are_written_as_strict_json(tmp_path) -> None:
    rows = compare_methods(
        {"hr": scored(target()), "bilinear": scored(target(), frames=3)},
        class_names=CLASSES,
        episode_length=2,
    )
    write_json_report(tmp_path / "metrics.json", {"methods": rows})
    methods = json.loads((tmp_path / "metrics.json").read_text())["methods"]
    assert methods["bilinear"]["episode_miou"] == rows["bilinear"]["episode_miou"] == [1.0]
