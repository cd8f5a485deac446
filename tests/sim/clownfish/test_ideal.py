"""The idealised Fig. 7 grid: the batched grid equals a plain loop over ``clownfish_fuse``, the
bandwidth reduction reaches the paper's 33.3% / 42.9%, and the Filter's online decisions equal
the offline selections."""

from __future__ import annotations

import numpy as np
import pytest

from edgecloud.fusion.clownfish import arrival_list, clownfish_fuse, lagged_arrival_windows
from edgecloud.fusion.clownfish_filter import (
    context_aware_periodic_windows,
    periodic_windows,
    relevance_windows,
)
from edgecloud.metrics.action import accuracy, scored_frames, weighted_f1
from edgecloud.sim.clownfish.ideal import run_ideal
from edgecloud.sim.clownfish.policy import ClownfishPolicy, OnlineFilter, adjacent_similarity
from edgecloud.sim.clownfish.synthetic import SyntheticSettings, synthetic_sequences

METHODS = ["clownfish_siminet", "clownfish_cosine", "clownfish_fixma", "clownfish_optsim"]


@pytest.fixture(scope="module")
def corpus():
    settings = SyntheticSettings(num_frames=700, num_actions=5)
    short = SyntheticSettings(num_frames=203, num_actions=5)
    return synthetic_sequences(count=3, seed=4, settings=settings) + synthetic_sequences(
        count=1, seed=5, settings=short
    )


@pytest.mark.parametrize("filter_kind", ["periodic", "context_aware"])
def test_grid_equals_a_loop_over_the_reference_fusion(corpus, filter_kind):
    policy = ClownfishPolicy()
    intervals, lags = [1, 3, 6], [0, 1, 2, 5]
    result = run_ideal(
        corpus,
        policy=policy,
        methods=METHODS,
        intervals=intervals,
        lags=lags,
        filter_kind=filter_kind,
        class_offset=1,
        header_bytes=64,
        skip_frames=8,
        actions_only=True,
    )
    rows = {(r.method, r.interval, r.lag): r for r in result.rows}
    assert len(rows) == len(METHODS) * len(intervals) * len(lags)
    scored = [
        scored_frames(s.frame_labels, window_size=16, window_stride=4, skip_frames=8)
        for s in corpus
    ]
    truth = np.concatenate([s.labels for s in scored])
    for method in METHODS:
        similarity = {"clownfish_siminet": "siminet", "clownfish_cosine": "cosine"}.get(
            method, "fixed" if method == "clownfish_fixma" else "oracle"
        )
        parameters = dict(
            threshold=0.0 if similarity == "fixed" else 0.5,
            remote_weight=2 / 3,
            fallback_alpha=0.5,
            confidence_aware=True,
        )
        for interval in intervals:
            for lag in lags:
                predicted = []
                for sequence, frames in zip(corpus, scored, strict=True):
                    rho = adjacent_similarity(
                        similarity,
                        local_probs=sequence.local_probs,
                        siminet=sequence.similarity,
                        window_labels=sequence.window_labels,
                        fixed_alpha=0.5,
                    )
                    if filter_kind == "periodic":
                        sent = periodic_windows(sequence.num_windows, interval=interval)
                    else:
                        sent = context_aware_periodic_windows(rho, interval=interval)
                    arrivals = arrival_list(
                        lagged_arrival_windows(sent, lag=lag, num_windows=sequence.num_windows),
                        sequence.remote_probs,
                    )
                    fused = clownfish_fuse(sequence.local_probs, rho, arrivals, **parameters)
                    predicted.append(fused.argmax(axis=1)[frames.windows] + 1)
                predicted = np.concatenate(predicted)
                row = rows[method, interval, lag]
                assert row.accuracy == accuracy(truth, predicted), (method, interval, lag)
                assert row.f1 == weighted_f1(truth, predicted), (method, interval, lag)
    edge = np.concatenate(
        [s.local_probs.argmax(1)[f.windows] + 1 for s, f in zip(corpus, scored, strict=True)]
    )
    cloud = np.concatenate(
        [s.remote_probs.argmax(1)[f.windows] + 1 for s, f in zip(corpus, scored, strict=True)]
    )
    assert result.references["edge_only"] == (accuracy(truth, edge), weighted_f1(truth, edge))
    assert result.references["cloud_only"] == (accuracy(truth, cloud), weighted_f1(truth, cloud))
    relevant = np.concatenate(
        [
            np.isin(f.windows, relevance_windows(s.relevance))
            for s, f in zip(corpus, scored, strict=True)
        ]
    )
    filtering = np.where(relevant, cloud, 0)
    assert result.references["filtering"][0] == accuracy(truth, filtering)


def test_fixma_references_smooth_one_source(corpus):
    result = run_ideal(
        corpus,
        policy=ClownfishPolicy(),
        methods=["clownfish_fixma"],
        intervals=[1],
        lags=[0],
        filter_kind="periodic",
        class_offset=1,
        header_bytes=0,
        skip_frames=8,
        actions_only=True,
    )
    scored = [
        scored_frames(s.frame_labels, window_size=16, window_stride=4, skip_frames=8)
        for s in corpus
    ]
    truth = np.concatenate([s.labels for s in scored])
    for name, source in (("edge_fixma", "local_probs"), ("cloud_fixma", "remote_probs")):
        predicted = []
        for sequence, frames in zip(corpus, scored, strict=True):
            probs = getattr(sequence, source)
            fused = clownfish_fuse(probs, np.full(len(probs), 0.5), [], threshold=0.0)
            predicted.append(fused.argmax(1)[frames.windows] + 1)
        assert result.references[name][0] == accuracy(truth, np.concatenate(predicted))


def test_bandwidth_reduction_reaches_the_papers_values_on_long_videos():
    """Periodic sending every n_w windows of 16 frames every 4: 1 - 16 / (4 n_w), i.e. 33.3%
    at n_w = 6 and 42.9% at 7 (section VI-C), none up to n_w = 4; equal frame sizes and no
    header make the byte and frame reductions the same."""
    settings = SyntheticSettings(num_frames=120_000, num_actions=3, frame_bytes_jitter=0)
    (sequence,) = synthetic_sequences(count=1, seed=0, settings=settings)
    result = run_ideal(
        [sequence],
        policy=ClownfishPolicy(),
        methods=["clownfish_fixma"],
        intervals=[4, 6, 7],
        lags=[1],
        filter_kind="periodic",
        class_offset=1,
        header_bytes=0,
        skip_frames=8,
        actions_only=True,
    )
    reduction = {row.interval: row for row in result.rows}
    assert reduction[4].frame_reduction == pytest.approx(0.0, abs=1e-9)
    assert reduction[6].frame_reduction == pytest.approx(1 / 3, abs=1e-4)
    assert reduction[7].frame_reduction == pytest.approx(3 / 7, abs=1e-4)
    assert reduction[6].bandwidth_reduction == pytest.approx(1 / 3, abs=1e-4)
    assert reduction[7].bandwidth_reduction == pytest.approx(3 / 7, abs=1e-4)
    assert result.periodic_limit[6] == pytest.approx(1 / 3)
    assert result.periodic_limit[7] == pytest.approx(3 / 7)


def test_ideal_grid_rejects_non_fusing_methods(corpus):
    with pytest.raises(ValueError, match="reference line"):
        run_ideal(
            corpus,
            policy=ClownfishPolicy(),
            methods=["edge_only"],
            intervals=[1],
            lags=[0],
            filter_kind="periodic",
            class_offset=1,
            header_bytes=0,
            skip_frames=8,
            actions_only=True,
        )


@pytest.mark.parametrize("seed", range(5))
def test_online_filter_equals_the_offline_selections(seed):
    rng = np.random.default_rng(seed)
    rho = np.round(rng.uniform(0, 1, 200), 1)
    relevance = rng.uniform(0, 1, 200)
    for interval in (1, 3, 6):
        for direction in ("rise", "drop"):
            online = OnlineFilter(kind="context_aware", interval=interval, direction=direction)
            decided = [t for t in range(200) if online.decide(position=t, rho=rho[t])]
            expected = context_aware_periodic_windows(rho, interval=interval, direction=direction)
            assert decided == expected.tolist()
        periodic = OnlineFilter(kind="periodic", interval=interval)
        decided = [t for t in range(200) if periodic.decide(position=t)]
        assert decided == periodic_windows(200, interval=interval).tolist()
    relevant = OnlineFilter(kind="relevance", cutoff=0.5)
    decided = [t for t in range(200) if relevant.decide(position=t, relevance=relevance[t])]
    assert decided == relevance_windows(relevance).tolist()
