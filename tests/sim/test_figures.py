"""The paper's figures: each function writes a valid, non-empty PNG, byte for byte the same on
every call, and rejects inputs it cannot draw instead of writing a blank figure."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.image import imread

from edgecloud.sim import figures

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

FIGURE_CALLS = {
    "methods": (
        figures.plot_methods,
        {
            "values": {"react": 0.61, "edge_only": 0.41, "cloud_only": 0.55, "ef_edge_det": None},
            "metric": "sim/mAP50",
        },
    ),
    "heatmap": (
        figures.plot_heatmap,
        {
            "rows": [5, 10],
            "columns": [30, 45, 60],
            "values": np.array([[0.5, 0.6, math.nan], [0.4, 0.45, 0.3]]),
            "row_label": "edge every k",
            "column_label": "cloud every m",
            "metric": "sim/mAP50",
        },
    ),
    "tide": (
        figures.plot_tide,
        {
            "breakdowns": {
                "k=5, m=30": {"Cls": 1.2, "Loc": 5.3, "Both": 0.4, "Dupe": 0.1, "Bkg": 2.2},
                "k=20, m=100": {"Cls": 2.0, "Loc": 4.0, "Both": 1.0, "Dupe": 0.0, "Miss": 12.0},
            }
        },
    ),
    "cdf": (
        figures.plot_response_cdf,
        {"response_times": {"wifi_30ms": [0.1, 0.12, 0.2, 0.5], "lte": [0.3, 0.9], "none": []}},
    ),
    "cdf_with_accuracy": (
        figures.plot_response_cdf,
        {
            "response_times": {"wifi_30ms": [0.1, 0.12, 0.2], "lte": [0.3, 0.9]},
            "accuracy": {"wifi_30ms": 0.6, "lte": None},
        },
    ),
    "scaling": (
        figures.plot_scaling,
        {
            "devices": [2, 5, 10],
            "series": {
                "k80": {
                    "throughput": [1.0, 2.5, 4.0],
                    "p50": [0.2, 0.3, 0.9],
                    "p95": [0.3, 0.5, 2],
                },
                "v100": {"throughput": [1.0, 2.5, 5.0], "p50": [0.1, math.nan, 0.2]},
            },
        },
    ),
}


@pytest.mark.parametrize("name", FIGURE_CALLS)
def test_figure_is_a_deterministic_png(tmp_path, name):
    function, kwargs = FIGURE_CALLS[name]
    first, second = tmp_path / "a" / f"{name}.png", tmp_path / "b" / f"{name}.png"
    function(**kwargs, path=first)
    function(**kwargs, path=second)
    data = first.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert b"Software" not in data
    image = imread(first)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
    assert image.std() > 0  # something was drawn
    assert second.read_bytes() == data


def test_heatmap_of_only_missing_cells_still_draws(tmp_path):
    figures.plot_heatmap(
        rows=[5],
        columns=[30, 45],
        values=np.full((1, 2), math.nan),
        row_label="k",
        column_label="m",
        metric="sim/mAP50",
        path=tmp_path / "heatmap.png",
    )
    assert (tmp_path / "heatmap.png").read_bytes().startswith(PNG_SIGNATURE)


def test_heatmap_rejects_a_grid_of_the_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*\(2, 3\)"):
        figures.plot_heatmap(
            rows=[5, 10],
            columns=[30, 45, 60],
            values=np.zeros((2, 2)),
            row_label="k",
            column_label="m",
            metric="sim/mAP50",
            path=tmp_path / "heatmap.png",
        )
    assert not (tmp_path / "heatmap.png").exists()


def test_scaling_rejects_series_not_aligned_with_devices(tmp_path):
    with pytest.raises(ValueError, match="'k80' has 2 p95 values for 3 device counts"):
        figures.plot_scaling(
            devices=[2, 5, 10],
            series={"k80": {"throughput": [1, 2, 3], "p95": [0.1, 0.2]}},
            path=tmp_path / "scaling.png",
        )


@pytest.mark.parametrize(
    ("function", "kwargs"),
    [
        (figures.plot_methods, {"values": {}, "metric": "sim/mAP50"}),
        (figures.plot_tide, {"breakdowns": {}}),
        (figures.plot_response_cdf, {"response_times": {}}),
        (figures.plot_scaling, {"devices": [], "series": {}}),
    ],
)
def test_empty_input_is_an_error_not_a_blank_figure(tmp_path, function, kwargs):
    with pytest.raises(ValueError, match="nothing to plot"):
        function(**kwargs, path=tmp_path / "figure.png")
