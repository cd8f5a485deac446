"""Clownfish outputs beyond the metrics: similarity traces, lag buckets, sweep tables, the
figures, and the grid benchmark's smoke run."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from edgecloud.sim.clownfish import figures
from edgecloud.sim.clownfish.report import _lag_metrics, bucket_lags
from edgecloud.sim.clownfish.synthetic import SyntheticSettings, synthetic_sequences
from edgecloud.sim.clownfish.traces import (
    euclidean_similarity,
    separation_auc,
    trace_metrics,
    trace_snippets,
)
from tests.script_modules import load_script


def test_separation_auc():
    assert separation_auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert separation_auc(np.array([0.1]), np.array([0.9])) == 0.0
    assert separation_auc(np.array([0.5, 0.5]), np.array([0.5])) == 0.5
    assert np.isnan(separation_auc(np.array([0.5]), np.array([])))


def test_euclidean_similarity_is_normalised_by_sqrt_2():
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert euclidean_similarity(probs).tolist() == pytest.approx([0.0, 0.0, 1.0])


def test_traces_centre_on_the_first_action_onset():
    sequences = synthetic_sequences(
        count=3, seed=2, settings=SyntheticSettings(num_frames=1200, num_actions=4, feature_dim=6)
    )
    snippets = trace_snippets(sequences, num_videos=2, radius=5)
    assert len(snippets) == 2
    for snippet in snippets:
        assert len(snippet.labels) == 10
        assert snippet.labels[4] == 0 and snippet.labels[5] >= 1
        assert set(snippet.scores) == {"siminet", "cosine", "euclidean", "feature_cosine", "oracle"}
    metrics = trace_metrics(sequences)
    assert "traces/oracle/auc" not in metrics  # the ground truth is the reference, not a score
    assert 0.9 < metrics["traces/siminet/auc"] <= 1.0
    assert metrics["traces/siminet/mean_same"] > metrics["traces/siminet/mean_transition"]


def test_lags_are_bucketed_beyond_ten_but_counted_exactly():
    counts = Counter({"0": 2, "1": 5, "12": 2, "30": 1, "late": 2})
    metrics = _lag_metrics("sim/", counts)
    assert metrics["sim/lag_fraction/1"] == 5 / 12
    assert metrics["sim/lag_fraction/9"] == 0.0
    assert metrics["sim/lag_fraction/10+"] == 3 / 12
    assert metrics["sim/lag_fraction/late"] == 2 / 12
    assert metrics["sim/lag_within_1"] == 7 / 12
    assert metrics["sim/lag_mean"] == (5 + 24 + 30) / 10
    assert metrics["sim/lag_max"] == 30
    assert bucket_lags(dict(counts)) == {"0": 2, "1": 5, "10+": 3, "late": 2}


def test_figures_write_pngs(tmp_path):
    rows = [
        {"method": m, "interval": n, "lag": d, "accuracy": 0.5, "f1": 0.5, "frame_reduction": 0.1}
        for m in ("clownfish_siminet", "clownfish_fixma")
        for n in (1, 6)
        for d in (0, 2)
    ]
    figures.plot_grid(
        rows=rows,
        references={"edge_only": (0.4, 0.4), "cloud_only": (0.6, 0.6)},
        periodic_limit={1: 0.0, 6: 1 / 3},
        path=tmp_path / "grid.png",
    )
    phases = [
        {"name": "A", "start_s": 0.0, "end_s": 10.0},
        {"name": "C", "start_s": 10.0, "end_s": float("inf")},
    ]
    figures.plot_throughput(
        series={"a": [30.0, 29.0, None], "b": [20.0]},
        bin_s=5.0,
        phases=phases,
        path=tmp_path / "t.png",
    )
    figures.plot_lags(
        distributions={"a": {"0": 0.5, "1": 0.4, "late": 0.1}, "b": {"10+": 1.0}},
        path=tmp_path / "l.png",
    )
    figures.plot_timed_run(
        label="x", bins=[30.0], bin_s=5.0, lag_counts={"1": 3, "40": 1}, path=tmp_path / "r.png"
    )
    for name in ("grid", "t", "l", "r"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    # the same numbers give the same bytes
    figures.plot_lags(distributions={"a": {"0": 1.0}}, path=tmp_path / "x.png")
    figures.plot_lags(distributions={"a": {"0": 1.0}}, path=tmp_path / "y.png")
    assert (tmp_path / "x.png").read_bytes() == (tmp_path / "y.png").read_bytes()


def test_grid_benchmark_smoke(tmp_path, capsys):
    module = load_script("benchmarks", "clownfish_grid")
    output = tmp_path / "grid.json"
    report = module.main(
        [
            "--videos",
            "3",
            "--frames",
            "400",
            "--classes",
            "4",
            "--intervals",
            "1",
            "6",
            "--lags",
            "0",
            "2",
            "--output",
            str(output),
        ]
    )
    assert json.loads(output.read_text()) == json.loads(json.dumps(report))
    assert report["configurations"] == 4 * 2 * 2
    for grid in report["grids"].values():
        assert grid["best_s"] > 0 and grid["fused_windows_per_s"] > 0
        assert set(grid["references"]) >= {"edge_only", "cloud_only"}
    assert "fused windows/s" in capsys.readouterr().out
