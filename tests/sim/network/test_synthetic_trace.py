"""Synthetic LTE traces: seeded and byte-identical, on their mean, valid Mahimahi files; and the
committed traces are what the documented commands write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgecloud.sim.network import (
    generate_cellular_trace,
    mean_capacity_mbps,
    read_mahimahi_trace,
    write_mahimahi_trace,
)

ROOT = Path(__file__).parents[3]


def test_same_seed_writes_a_byte_identical_file(tmp_path):
    paths = [tmp_path / f"{name}.trace" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (4, 4, 5), strict=True):
        write_mahimahi_trace(path, generate_cellular_trace(duration_s=30, mean_mbps=5, seed=seed))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


@pytest.mark.parametrize(("mean_mbps", "seed"), [(5.0, 0), (12.0, 1), (2.0, 2)])
def test_long_run_mean_capacity_is_close_to_the_target(mean_mbps, seed):
    timestamps = generate_cellular_trace(duration_s=2000, mean_mbps=mean_mbps, seed=seed)
    assert mean_capacity_mbps(timestamps) == pytest.approx(mean_mbps, rel=0.10)


def test_capacity_varies_and_has_outages():
    timestamps = generate_cellular_trace(duration_s=600, mean_mbps=5, seed=3)
    per_100ms = np.bincount(timestamps // 100)[1:] * 1500 * 8 / 0.1 / 1e6
    assert per_100ms.std() / per_100ms.mean() > 0.4
    assert 0.01 < np.mean(per_100ms < 0.5) < 0.15  # near-zero slots, a few percent of the time


def test_written_trace_validates_and_loops_with_the_duration(tmp_path):
    path = tmp_path / "short.trace"
    write_mahimahi_trace(path, generate_cellular_trace(duration_s=0.05, mean_mbps=0.1, seed=0))
    trace = read_mahimahi_trace(path)
    assert trace[-1] == 50 and trace[0] >= 1


@pytest.mark.parametrize(("name", "mean_mbps", "seed"), [("lte-up", 5, 1), ("lte-down", 12, 2)])
def test_committed_traces_are_regenerated_byte_for_byte(tmp_path, name, mean_mbps, seed):
    path = tmp_path / f"{name}.trace"
    write_mahimahi_trace(
        path, generate_cellular_trace(duration_s=120, mean_mbps=mean_mbps, seed=seed)
    )
    committed = ROOT / "traces" / "synthetic" / f"{name}.trace"
    assert path.read_bytes() == committed.read_bytes()
    assert mean_capacity_mbps(read_mahimahi_trace(committed)) == pytest.approx(mean_mbps, rel=0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration_s": 0.0}, "duration_s must be a positive finite number"),
        ({"duration_s": 0.0005}, "duration_s must be a whole number of milliseconds"),
        ({"mean_mbps": -1.0}, "mean_mbps must be a positive finite number"),
        ({"outage_mean_s": 0.05}, "must be at least one slot"),
        ({"outage_fraction": 1.0}, r"outage_fraction must be in \[0, 1\)"),
    ],
)
def test_bad_generator_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_cellular_trace(**{"duration_s": 10.0, "mean_mbps": 5.0, "seed": 0, **kwargs})


@pytest.mark.parametrize(
    ("timestamps", "message"),
    [
        ([], "non-empty 1-D"),
        ([1.5, 2.0], "must be integers"),
        ([-1, 2], "must be >= 0"),
        ([3, 2], "non-decreasing"),
        ([0, 0], "last timestamp must be > 0"),
    ],
)
def test_writer_refuses_what_mm_link_would_refuse(tmp_path, timestamps, message):
    path = tmp_path / "refused.trace"
    with pytest.raises(ValueError, match=message):
        write_mahimahi_trace(path, timestamps)
    assert not path.exists()
