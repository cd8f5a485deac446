"""Fig. 7 and Fig. 10 of the comparison (and their detection counterparts): valid PNGs, the
same bytes on every call, and no blank figure where there is nothing to draw."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from edgecloud.metrics.comparison_figures import (
    SUMMARIES,
    plot_class_iou,
    plot_class_scores,
    plot_frame_distribution,
    relative_class_scores,
)
from edgecloud.metrics.detection_comparison import compare_detection_methods
from edgecloud.metrics.method_comparison import MethodScores, compare_methods
from tests.metrics import test_detection_comparison as detection
from tests.metrics.test_method_comparison import CLASSES, scored, target

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def rows() -> dict[str, dict[str, object]]:
    """HR, and bilinear and ASR losing the pole (and ASR the sign) in some frames of two clips."""
    bilinear, asr = MethodScores(num_classes=len(CLASSES)), MethodScores(num_classes=len(CLASSES))
    for frame in range(8):
        lossy = target()
        lossy[1, 1] = 2
        if frame % 3 == 0:
            lossy[1, 2] = 2
        clip = frame // 4
        bilinear.add_frame(lossy, target(), clip_id=clip)
        asr.add_frame(target() if frame % 2 else lossy, target(), clip_id=clip)
    return compare_methods(
        {"bilinear": bilinear, "asr": asr, "hr": scored(target(), frames=8)},
        class_names=CLASSES,
        episode_length=2,
    )


def detection_rows() -> dict[str, dict[str, object]]:
    """HR, and bilinear losing the van and the bicycle in two of three frames."""
    lossy, perfect = detection.lossy(), detection.perfect()
    return compare_detection_methods(
        {
            "bilinear": detection.method(lossy, perfect, lossy),
            "hr": detection.method(perfect, perfect, perfect, restored=False),
        },
        frames=detection.frames(3),
        class_names=detection.CLASSES,
        episode_length=1,
    )


def plot_class_ap(rows, *, path) -> None:
    summaries = (("tail_AP", "tail mean"), ("mAP", "overall mAP"))
    plot_class_scores(rows, path=path, per_class_key="ap", score="AP", summaries=summaries)


def plot_frame_ap50(rows, *, path) -> None:
    plot_frame_distribution(rows, path=path, episodes_key="episode_ap50", score="AP50")


@pytest.mark.parametrize(
    ("plot", "make_rows"),
    [
        (plot_class_iou, rows),
        (plot_frame_distribution, rows),
        (plot_class_ap, detection_rows),
        (plot_frame_ap50, detection_rows),
    ],
)
def test_figure_is_a_deterministic_png(tmp_path, plot, make_rows) -> None:
    first, second = tmp_path / "a" / "figure.png", tmp_path / "b" / "figure.png"
    plot(make_rows(), path=first)
    plot(make_rows(), path=second)
    data = first.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and b"Software" not in data
    image = imread(first)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
    assert image.std() > 0
    assert second.read_bytes() == data


def test_the_rows_drawn_have_tail_classes_and_episodes() -> None:
    drawn = rows()
    assert drawn["hr"]["tail_classes"] == ["pole", "sign"]
    assert len(drawn["asr"]["episode_miou"]) == 4
    assert np.ptp(drawn["asr"]["episode_miou"]) > 0  # a distribution, not one value


def test_class_iou_without_tail_classes_is_an_error_not_a_blank_figure(tmp_path) -> None:
    everything_road = np.zeros((4, 4), np.uint8)
    no_tail = compare_methods(
        {"hr": scored(everything_road), "bilinear": scored(everything_road)},
        class_names=CLASSES,
    )
    with pytest.raises(ValueError, match="nothing to plot: tail_classes is empty"):
        plot_class_iou(no_tail, path=tmp_path / "fig7.png")
    assert not (tmp_path / "fig7.png").exists()


def test_a_method_without_episodes_is_listed_but_draws_nothing(tmp_path) -> None:
    short = rows()
    short["bilinear"] = {**short["bilinear"], "episode_miou": []}
    plot_frame_distribution(short, path=tmp_path / "fig10.png")
    assert (tmp_path / "fig10.png").read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(ValueError, match="nothing to plot: rows is empty"):
        plot_frame_distribution({}, path=tmp_path / "empty.png")


def test_class_bars_are_scores_over_hrs() -> None:
    drawn = rows()
    relative = relative_class_scores(drawn, per_class_key="iou", summaries=SUMMARIES)
    assert set(relative) == {"bilinear", "asr"}
    hr = drawn["hr"]
    for name, values in relative.items():
        expected = [drawn[name]["iou"][c] / hr["iou"][c] for c in hr["tail_classes"]]
        expected += [drawn[name]["tail_mIoU"] / hr["tail_mIoU"], drawn[name]["mIoU"] / hr["mIoU"]]
        np.testing.assert_allclose(values, expected)
    # a class HR never finds has no ratio
    blind = {**drawn, "hr": {**hr, "iou": {**hr["iou"], "pole": 0.0}}}
    assert np.isnan(relative_class_scores(blind, per_class_key="iou", summaries=())["asr"][0])
