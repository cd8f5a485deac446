"""Sweep aggregation on hand-written sweep directories: what summary.csv holds, where heatmap
values land, how jobs are labelled, which sweeps are errors, and the Hydra callback and CLI
that run it."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

from edgecloud.sim.sweep import (
    AggregateSweep,
    SweepError,
    aggregate_sweep,
    collect_sweep,
    format_table,
    heatmap_grid,
    job_labels,
    main,
    scaling_series,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIDE = {"sim/tide/Cls": 1.0, "sim/tide/Loc": 4.0, "sim/tide/Both": 0.5}


def write_job(
    sweep_dir: Path,
    number: int,
    *,
    overrides: list[str],
    metrics: dict,
    labels: dict | None = None,
    response_times: list[float] | None = None,
    config: dict | None = None,
) -> Path:
    """One job directory as simulate.py and Hydra leave it."""
    job_dir = sweep_dir / str(number)
    (job_dir / ".hydra").mkdir(parents=True)
    (job_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    results = {
        "metrics": metrics,
        "response_times_s": response_times or [],
        "labels": labels or {"method": "react", "network": "wifi_30ms", "devices": 1},
    }
    (job_dir / "results.json").write_text(json.dumps(results, sort_keys=True))
    if config is not None:
        (job_dir / "config.yaml").write_text(yaml.safe_dump(config))
    return job_dir


@pytest.fixture
def heatmap_sweep(tmp_path) -> Path:
    """Edge every k in {5, 10} x cloud every m in {30, 45, 60}, job (10, 60) missing."""
    sweep_dir = tmp_path / "sweep"
    cells = [(5, 30), (5, 45), (5, 60), (10, 30), (10, 45)]
    for number, (edge, cloud) in enumerate(cells):
        write_job(
            sweep_dir,
            number,
            overrides=[
                f"scenario.policy.edge_every={edge}",
                f"scenario.policy.cloud_every={cloud}",
            ],
            metrics={"sim/mAP50": edge / 100 + cloud / 1000, "sim/requests": number},
        )
    return sweep_dir


@pytest.fixture
def methods_sweep(tmp_path) -> Path:
    """The baselines sweep: one job per method, ef-edge-det without mAP."""
    sweep_dir = tmp_path / "methods"
    for number, (method, ap50) in enumerate(
        [("react", 0.6), ("edge_only", 0.4), ("cloud_only", 0.5), ("ef_edge_det", None)]
    ):
        write_job(
            sweep_dir,
            number,
            overrides=["experiment=react/sim/baselines", f"method={method}"],
            metrics={"sim/mAP50": ap50, "sim/response_time_p50_s": 0.1 * (number + 1), **TIDE},
            response_times=[0.1, 0.2 * (number + 1)],
        )
    return sweep_dir


def test_collect_sweep_reads_jobs_in_numeric_order(tmp_path):
    sweep_dir = tmp_path / "sweep"
    for number in (10, 2, 0):
        write_job(
            sweep_dir,
            number,
            overrides=["+extra=1", "++forced=x", "~deleted", f"seed={number}"],
            metrics={"sim/mAP50": number / 10},
        )
    (sweep_dir / "not_a_job").mkdir()
    (sweep_dir / "multirun.yaml").write_text("{}\n")

    jobs = collect_sweep(sweep_dir)

    assert [job.number for job in jobs] == [0, 2, 10]
    assert jobs[2].overrides == {"extra": "1", "forced": "x", "seed": "10"}
    assert jobs[2].metric("sim/mAP50") == 1.0
    assert math.isnan(jobs[2].metric("sim/absent"))


def test_setting_falls_back_to_labels_then_config(tmp_path):
    write_job(
        tmp_path,
        0,
        overrides=["scenario.policy.edge_every=5"],
        metrics={},
        labels={"method": "edge_only", "devices": 3},
        config={"scenario": {"policy": {"cloud_every": None, "tracking": True}}},
    )
    job = collect_sweep(tmp_path)[0]
    assert job.setting("scenario.policy.edge_every") == "5"
    assert job.setting("method") == "edge_only"
    assert job.setting("scenario.devices.count") == "3"
    assert job.setting("scenario.policy.cloud_every") == "null"
    assert job.setting("scenario.policy.tracking") == "true"
    assert job.setting("scenario.policy") is None  # not a scalar
    assert job.setting("compute") is None


def test_summary_has_one_row_per_job_with_overrides_and_metrics(heatmap_sweep):
    path = aggregate_sweep(sweep_dir=heatmap_sweep, figure="none")

    assert path == heatmap_sweep / "summary.csv"
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 5
    assert list(rows[0])[:3] == ["job", "scenario.policy.edge_every", "scenario.policy.cloud_every"]
    assert [row["job"] for row in rows] == ["0", "1", "2", "3", "4"]
    assert rows[4]["scenario.policy.edge_every"] == "10"
    assert rows[4]["scenario.policy.cloud_every"] == "45"
    assert float(rows[4]["sim/mAP50"]) == 10 / 100 + 45 / 1000
    assert rows[4]["sim/requests"] == "4"
    assert rows[4]["labels/method"] == "react"
    summary = json.loads((heatmap_sweep / "summary.json").read_text())
    assert [job["job"] for job in summary["jobs"]] == [0, 1, 2, 3, 4]
    assert summary["jobs"][1]["overrides"]["scenario.policy.cloud_every"] == "45"
    assert summary["jobs"][1]["metrics"]["sim/requests"] == 1


def test_summary_leaves_missing_and_undefined_metrics_empty(methods_sweep):
    write_job(methods_sweep, 4, overrides=["method=react"], metrics={"sim/requests": 7})
    aggregate_sweep(sweep_dir=methods_sweep, figure="none")
    with open(methods_sweep / "summary.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows[3]["sim/mAP50"] == ""  # null in results.json
    assert rows[4]["sim/mAP50"] == ""  # absent
    assert rows[4]["sim/requests"] == "7"
    assert rows[4]["experiment"] == ""  # override the job did not have


def test_heatmap_values_land_in_their_cells(heatmap_sweep):
    jobs = collect_sweep(heatmap_sweep)
    rows, columns, grid = heatmap_grid(
        jobs,
        row_key="scenario.policy.edge_every",
        column_key="scenario.policy.cloud_every",
        metric="sim/mAP50",
    )
    assert rows == [5, 10]
    assert columns == [30, 45, 60]
    expected = np.array([[0.08, 0.095, 0.11], [0.13, 0.145, math.nan]])
    np.testing.assert_allclose(grid, expected)

    path = aggregate_sweep(sweep_dir=heatmap_sweep, figure="heatmap")
    assert path == heatmap_sweep / "heatmap.png"
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_heatmap_skips_jobs_without_integer_keys_and_rejects_duplicates(heatmap_sweep):
    write_job(
        heatmap_sweep,
        5,
        overrides=["scenario.policy.edge_every=5", "scenario.policy.cloud_every=null"],
        metrics={"sim/mAP50": 0.9},
    )
    jobs = collect_sweep(heatmap_sweep)
    rows, columns, _ = heatmap_grid(
        jobs,
        row_key="scenario.policy.edge_every",
        column_key="scenario.policy.cloud_every",
        metric="sim/mAP50",
    )
    assert (rows, columns) == ([5, 10], [30, 45, 60])

    with pytest.raises(SweepError, match="jobs 0 and 1 both have"):
        heatmap_grid(
            jobs,
            row_key="scenario.policy.edge_every",
            column_key="scenario.policy.edge_every",
            metric="sim/mAP50",
        )
    with pytest.raises(SweepError, match=r"no job .* has integer"):
        heatmap_grid(jobs[:1], row_key="absent", column_key="absent", metric="m")


def test_methods_figure_labels_jobs_by_method(methods_sweep):
    jobs = collect_sweep(methods_sweep)
    assert job_labels(jobs, key="method") == ["react", "edge_only", "cloud_only", "ef_edge_det"]

    path = aggregate_sweep(sweep_dir=methods_sweep, figure="methods")
    assert path == methods_sweep / "methods.png"
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_job_labels_from_varying_overrides_and_fallbacks(heatmap_sweep, tmp_path):
    jobs = collect_sweep(heatmap_sweep)
    assert job_labels(jobs, key=None)[:2] == [
        "edge_every=5, cloud_every=30",
        "edge_every=5, cloud_every=45",
    ]
    # Without the override, labels.method; repeated labels get the job number.
    assert job_labels(jobs[:2], key="method") == ["react #0", "react #1"]
    assert job_labels(jobs[:1], key=None) == ["job 0"]


def test_tide_figure_needs_tide_metrics_but_keeps_the_summary(methods_sweep, heatmap_sweep):
    path = aggregate_sweep(sweep_dir=methods_sweep, figure="tide")
    assert path.read_bytes().startswith(PNG_SIGNATURE)

    with pytest.raises(SweepError, match=r"no job in .* has TIDE metrics"):
        aggregate_sweep(sweep_dir=heatmap_sweep, figure="tide")
    assert (heatmap_sweep / "summary.csv").is_file()
    assert not (heatmap_sweep / "tide.png").exists()


def test_network_figure_with_and_without_accuracy(tmp_path):
    for number, network in enumerate(["wifi_30ms", "lte_verizon"]):
        write_job(
            tmp_path / "scored",
            number,
            overrides=[f"network={network}"],
            metrics={"sim/mAP50": 0.5 - number / 10},
            response_times=[0.1, 0.2, 0.4 * (number + 1)],
        )
        write_job(
            tmp_path / "unscored",
            number,
            overrides=[f"network={network}"],
            metrics={"sim/requests": 3},
            response_times=[0.1, 0.2],
        )
    for name in ("scored", "unscored"):
        path = aggregate_sweep(sweep_dir=tmp_path / name, figure="network")
        assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_scaling_series_by_key_or_one_server_series(tmp_path):
    for number, (gpu, devices) in enumerate([("k80", 2), ("k80", 10), ("v100", 2), ("v100", 5)]):
        write_job(
            tmp_path / "gpus",
            number,
            overrides=[
                f"scenario.devices.count={devices}",
                f"compute@scenario.server_profile={gpu}",
            ],
            metrics={
                "sim/server_throughput_rps": devices / 2,
                "sim/response_time_p50_s": number,
                "sim/response_time_p95_s": 2 * number,
            },
        )
    jobs = collect_sweep(tmp_path / "gpus")
    devices, series = scaling_series(jobs, series_key="compute@scenario.server_profile")
    assert devices == [2, 5, 10]
    assert list(series) == ["k80", "v100"]
    np.testing.assert_allclose(series["k80"]["throughput"], [1.0, math.nan, 5.0])
    np.testing.assert_allclose(series["v100"]["p95"], [4.0, 6.0, math.nan])

    path = aggregate_sweep(
        sweep_dir=tmp_path / "gpus", figure="scaling", series_key="compute@scenario.server_profile"
    )
    assert path.read_bytes().startswith(PNG_SIGNATURE)

    # Device count from labels.devices when not overridden; no series key: one "server" line.
    write_job(tmp_path / "one", 0, overrides=[], metrics={}, labels={"devices": 4})
    devices, series = scaling_series(collect_sweep(tmp_path / "one"), series_key="compute")
    assert devices == [4]
    assert list(series) == ["server"]
    with pytest.raises(SweepError, match="jobs 0 and 2 both have compute=server"):
        scaling_series(jobs, series_key="compute")


def test_print_table(methods_sweep):
    table = format_table(
        collect_sweep(methods_sweep),
        label_key="method",
        metrics=["sim/mAP50", "sim/response_time_p50_s", "sim/absent"],
    )
    assert table.splitlines() == [
        "             mAP50  response_time_p50_s  absent",
        "react        0.600                0.100       -",
        "edge_only    0.400                0.200       -",
        "cloud_only   0.500                0.300       -",
        "ef_edge_det      -                0.400       -",
    ]


def test_sweep_errors_name_the_directory_or_file(tmp_path):
    with pytest.raises(SweepError, match="does not exist"):
        collect_sweep(tmp_path / "absent")
    with pytest.raises(SweepError, match=rf"no job results in {tmp_path}"):
        collect_sweep(tmp_path)
    (tmp_path / "0").mkdir()  # a job that failed before writing results
    with pytest.raises(SweepError, match=r"found 1 job directories"):
        collect_sweep(tmp_path)

    bad = write_job(tmp_path, 1, overrides=[], metrics={})
    (bad / "results.json").write_text("{not json")
    with pytest.raises(SweepError, match=r"cannot read .*1/results\.json"):
        collect_sweep(tmp_path)
    (bad / "results.json").write_text('{"labels": {}}')
    with pytest.raises(SweepError, match=r"1/results\.json has no 'metrics' object"):
        collect_sweep(tmp_path)
    (bad / "results.json").write_text('{"metrics": {}}')
    (bad / ".hydra" / "overrides.yaml").write_text("{a: 1}\n")
    with pytest.raises(SweepError, match=r"overrides\.yaml is not a list"):
        collect_sweep(tmp_path)


def test_job_without_results_is_skipped_with_a_warning(heatmap_sweep, caplog):
    (heatmap_sweep / "7" / ".hydra").mkdir(parents=True)
    assert len(collect_sweep(heatmap_sweep)) == 5
    assert "7: no results.json" in caplog.text


def test_unknown_figure_is_rejected_before_reading(tmp_path):
    with pytest.raises(ValueError, match="figure must be one of"):
        aggregate_sweep(sweep_dir=tmp_path, figure="pie")


def test_callback_aggregates_the_sweep_dir_of_the_config(heatmap_sweep, capsys):
    callback = AggregateSweep(figure="heatmap", metric="sim/requests")
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(heatmap_sweep)}}})
    callback.on_multirun_end(config=config, config_name="simulate")
    assert (heatmap_sweep / "summary.csv").is_file()
    assert (heatmap_sweep / "heatmap.png").read_bytes().startswith(PNG_SIGNATURE)
    assert str(heatmap_sweep / "heatmap.png") in capsys.readouterr().out


def test_callback_reports_an_empty_sweep_without_raising(tmp_path, capsys):
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    AggregateSweep(figure="methods").on_multirun_end(config=config)
    assert "sweep not aggregated: no job results" in capsys.readouterr().err


def test_callback_rejects_bad_options_before_the_sweep():
    with pytest.raises(ValueError, match="figure must be one of"):
        AggregateSweep(figure="pie")
    with pytest.raises(ValueError, match=r"unknown options \['row'\]"):
        AggregateSweep(figure="heatmap", row="scenario.policy.edge_every")


def test_cli_reaggregates_and_prints_a_table(methods_sweep, capsys):
    argv = [str(methods_sweep), "--figure", "methods", "--table", "sim/mAP50"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "react        0.600" in out
    assert f"figure: {methods_sweep / 'methods.png'}" in out
    first = (methods_sweep / "methods.png").read_bytes()
    assert main(argv) == 0
    assert (methods_sweep / "methods.png").read_bytes() == first


def test_cli_reports_errors_with_exit_status_1(tmp_path, capsys):
    assert main([str(tmp_path), "--figure", "heatmap"]) == 1
    assert "error: no job results" in capsys.readouterr().err


def test_hydra_multirun_runs_the_callback(tmp_path):
    """A real ``-m`` sweep with the callback in its config, as experiment configs enable it."""
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            """
            import json
            from pathlib import Path

            import hydra
            from hydra.core.hydra_config import HydraConfig


            @hydra.main(version_base="1.3", config_path=".", config_name="config")
            def main(cfg):
                results = {"metrics": {"score": cfg.k * 10 + cfg.m}, "labels": {}}
                Path(HydraConfig.get().runtime.output_dir, "results.json").write_text(
                    json.dumps(results)
                )


            main()
            """
        )
    )
    (tmp_path / "config.yaml").write_text(
        textwrap.dedent(
            """
            k: 1
            m: 1
            hydra:
              sweep:
                dir: multirun/${now:%Y-%m-%d_%H-%M-%S}
              callbacks:
                aggregate:
                  _target_: edgecloud.sim.sweep.AggregateSweep
                  figure: heatmap
                  row_key: k
                  column_key: m
                  metric: score
            """
        )
    )
    completed = subprocess.run(
        [sys.executable, "app.py", "-m", "k=1,2", "m=3,4"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    (sweep_dir,) = (tmp_path / "multirun").iterdir()
    assert f"sweep figure: multirun/{sweep_dir.name}/heatmap.png" in completed.stdout
    assert (sweep_dir / "heatmap.png").read_bytes().startswith(PNG_SIGNATURE)
    with open(sweep_dir / "summary.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(row["k"], row["m"], row["score"]) for row in rows] == [
        ("1", "3", "13"),
        ("1", "4", "14"),
        ("2", "3", "23"),
        ("2", "4", "24"),
    ]
