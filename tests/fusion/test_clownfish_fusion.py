"""Clownfish's fusion (equations (1)-(4), Algorithm 1) on tiny hand-computed cases, one per
branch, and the batched numba kernel against the reference."""

from __future__ import annotations

import numpy as np
import pytest

from edgecloud.fusion.clownfish import (
    NO_ARRIVAL,
    arrival_list,
    clownfish_fuse,
    clownfish_fuse_batch,
    cosine_similarity_scores,
    fixed_similarity,
    lagged_arrival_windows,
    oracle_similarity,
)


def rows(fused: np.ndarray) -> list[list[float]]:
    return [[round(float(v), 10) for v in row] for row in fused]


def test_no_remote_is_a_moving_average_whatever_the_similarity():
    local = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    similarity = np.array([0.0, 0.9, 0.9])
    fused = clownfish_fuse(local, similarity, [])
    # t=0: p_f = p_l(0) = [1, 0], beta_0 = 0
    # t=1: beta_0 = 0 < 0.5 -> alpha = 0.5 (not rho = 0.9): 0.5 [1, 0] + 0.5 [0, 1] = [.5, .5]
    #      beta_1 = 0 * 0.5 = 0, so the fallback holds for good
    # t=2: 0.5 [.5, .5] + 0.5 [0, 1] = [.25, .75]
    assert rows(fused) == [[1.0, 0.0], [0.5, 0.5], [0.25, 0.75]]


def test_remote_with_lag_zero_replaces_fuse_then_decays():
    local = np.array([[0.6, 0.4], [0.3, 0.7], [0.2, 0.8], [0.0, 1.0], [1.0, 0.0]])
    similarity = np.array([0.0, 0.1, 0.8, 0.5, 0.9])
    remote_1 = np.array([0.9, 0.1])
    fused = clownfish_fuse(local, similarity, [(1, 1, remote_1)])
    # t=0: [.6, .4], beta_0 = 0
    # t=1: REINFORCE i=1: g = 1/3 [.3, .7] + 2/3 [.9, .1] = [.1 + .6, .7/3 + .2/3] = [.7, .3];
    #      beta_1 = max = 0.7; no FUSE for t=1 (rho_1 = 0.1 unused)
    # t=2: beta_1 = .7 >= .5 -> alpha = rho_2 = .8: .8 [.7, .3] + .2 [.2, .8] = [.6, .4];
    #      beta_2 = .56
    # t=3: beta_2 = .56 >= .5 -> alpha = rho_3 = .5: .5 [.6, .4] + .5 [0, 1] = [.3, .7];
    #      beta_3 = .28
    # t=4: beta_3 = .28 < .5 -> fallback alpha = .5 (not rho_4 = .9): [.65, .35]
    assert rows(fused) == [[0.6, 0.4], [0.7, 0.3], [0.6, 0.4], [0.3, 0.7], [0.65, 0.35]]


def test_lag_two_recomputes_the_windows_in_between_but_not_what_was_shown():
    local = np.array([[0.5, 0.5], [0.2, 0.8], [0.4, 0.6], [0.0, 1.0], [1.0, 0.0]])
    similarity = np.array([0.0, 0.9, 0.9, 0.5, 1.0])
    remote_1 = np.array([0.9, 0.1])
    fused = clownfish_fuse(local, similarity, [(3, 1, remote_1)])
    # Shown before the result arrives (beta stays 0, alpha = 0.5):
    # t=0: [.5, .5]; t=1: .5 [.5, .5] + .5 [.2, .8] = [.35, .65]; t=2: [.375, .625]
    # t=3: REINFORCE i=1: g = 1/3 [.2, .8] + 2/3 [.9, .1] = [2/3, 1/3], beta_1 = 2/3;
    #      recompute j=2: beta_1 >= .5 -> alpha = rho_2 = .9:
    #      .9 [2/3, 1/3] + .1 [.4, .6] = [.64, .36], beta_2 = .6
    #      FUSE t=3: beta_2 = .6 >= .5 -> alpha = rho_3 = .5: .5 [.64, .36] + .5 [0, 1]
    #      = [.32, .68], beta_3 = .3
    # t=4: beta_3 = .3 < .5 -> alpha = .5: .5 [.32, .68] + .5 [1, 0] = [.66, .34]
    assert rows(fused) == [
        [0.5, 0.5],
        [0.35, 0.65],
        [0.375, 0.625],
        [0.32, 0.68],
        [0.66, 0.34],
    ]


def test_confidence_aware_beta_is_the_aggregate_confidence():
    local = np.array([[0.5, 0.5], [0.6, 0.4], [1.0, 0.0], [1.0, 0.0]])
    similarity = np.array([0.0, 0.0, 0.8, 0.9])
    arrivals = [(1, 1, np.array([0.3, 0.7]))]
    aware = clownfish_fuse(local, similarity, arrivals, confidence_aware=True)
    plain = clownfish_fuse(local, similarity, arrivals, confidence_aware=False)
    # t=1: g = 1/3 [.6, .4] + 2/3 [.3, .7] = [.4, .6]; beta_1 = .6 (aware) or 1 (plain)
    # t=2: both >= .5 -> alpha = .8: .8 [.4, .6] + .2 [1, 0] = [.52, .48];
    #      beta_2 = .48 (aware) or .8 (plain)
    # t=3 aware: .48 < .5 -> alpha = .5: .5 [.52, .48] + .5 [1, 0] = [.76, .24]
    # t=3 plain: .8 >= .5 -> alpha = rho_3 = .9: .9 [.52, .48] + .1 [1, 0] = [.568, .432]
    assert rows(aware) == [[0.5, 0.5], [0.4, 0.6], [0.52, 0.48], [0.76, 0.24]]
    assert rows(plain) == [[0.5, 0.5], [0.4, 0.6], [0.52, 0.48], [0.568, 0.432]]


def test_two_arrivals_in_one_window_apply_in_increasing_window_order():
    local = np.array([[0.3, 0.7], [0.5, 0.5], [0.6, 0.4], [1.0, 0.0]])
    similarity = np.array([0.0, 0.5, 1.0, 0.5])
    remote_0, remote_2 = np.array([0.9, 0.1]), np.array([0.0, 1.0])
    fused = clownfish_fuse(local, similarity, [(3, 2, remote_2), (3, 0, remote_0)])
    # Shown before: t=0 [.3, .7]; t=1 .5/.5 -> [.4, .6]; t=2 [.5, .5]
    # t=3: i=0 first: g = 1/3 [.3, .7] + 2/3 [.9, .1] = [.7, .3], beta_0 = .7;
    #      recompute j=1: alpha = rho_1 = .5 -> [.6, .4], beta_1 = .35; j=2: .35 < .5 -> [.6, .4]
    #      then i=2: g = 1/3 [.6, .4] + 2/3 [0, 1] = [.2, .8], beta_2 = .8 (overrides j=2)
    #      FUSE t=3: .8 >= .5 -> alpha = rho_3 = .5: .5 [.2, .8] + .5 [1, 0] = [.6, .4]
    assert rows(fused) == [[0.3, 0.7], [0.4, 0.6], [0.5, 0.5], [0.6, 0.4]]
    # Only the newest result of a window can matter for what is shown later.
    only_newest = clownfish_fuse(local, similarity, [(3, 2, remote_2)])
    np.testing.assert_array_equal(fused, only_newest)


def test_late_result_for_an_older_window_keeps_newer_remote_results():
    local = np.array([[0.3, 0.7], [0.5, 0.5], [0.6, 0.4], [1.0, 0.0], [0.0, 1.0]])
    similarity = np.array([0.0, 0.9, 0.9, 0.9, 0.9])
    remote_0, remote_2 = np.array([0.9, 0.1]), np.array([0.0, 1.0])
    out_of_order = clownfish_fuse(local, similarity, [(3, 2, remote_2), (4, 0, remote_0)])
    # Window 0's result arrives after window 2's: recomputation from 0 stops at window 2, which
    # keeps its own remote result, so what follows is as if window 0's result never came.
    without = clownfish_fuse(local, similarity, [(3, 2, remote_2)])
    np.testing.assert_array_equal(out_of_order, without)


def test_fixed_similarity_is_alpha_half_everywhere():
    rng = np.random.default_rng(3)
    local = rng.dirichlet(np.ones(3), size=40)
    remote = rng.dirichlet(np.ones(3), size=40)
    arrivals = arrival_list(
        lagged_arrival_windows(np.arange(0, 40, 5), lag=2, num_windows=40), remote
    )

    def constant_alpha(alpha: float) -> np.ndarray:
        """Equations (1) and (3) with a constant alpha, no beta at all."""
        state, shown = np.empty_like(local), np.empty_like(local)
        by_window = {a: [] for a, _, _ in arrivals}
        for a, i, probs in arrivals:
            by_window[a].append((i, probs))
        for t in range(len(local)):
            fused_now = False
            for i, probs in sorted(by_window.get(t, []), key=lambda x: x[0]):
                state[i] = (1 - 2 / 3) * local[i] + 2 / 3 * probs
                for j in range(i + 1, t):
                    state[j] = alpha * state[j - 1] + (1 - alpha) * local[j]
                fused_now = i == t
            if not fused_now:
                state[t] = local[0] if t == 0 else alpha * state[t - 1] + (1 - alpha) * local[t]
            shown[t] = state[t]
        return shown

    fix_ma = clownfish_fuse(local, fixed_similarity(40), arrivals)
    np.testing.assert_allclose(fix_ma, constant_alpha(0.5), rtol=0, atol=1e-12)
    # Another alpha: threshold 0 makes Algorithm 1 always take rho.
    other = clownfish_fuse(local, fixed_similarity(40, alpha=0.3), arrivals, threshold=0.0)
    np.testing.assert_allclose(other, constant_alpha(0.3), rtol=0, atol=1e-12)


def test_similarity_helpers():
    local = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [3.0, 4.0], [4.0, 3.0]])
    # rho_0 = 0; identical -> 1; orthogonal -> 0; zero vector -> 0; 24 / 25
    np.testing.assert_allclose(cosine_similarity_scores(local), [0, 1, 0, 0, 0, 0.96])
    np.testing.assert_array_equal(oracle_similarity(np.array([0, 0, 3, 3, 1])), [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(fixed_similarity(3), [0.5, 0.5, 0.5])


def test_lagged_arrival_windows_drops_results_after_the_end():
    arrival = lagged_arrival_windows(np.array([0, 3, 6]), lag=2, num_windows=8)
    assert arrival.tolist() == [2, -1, -1, 5, -1, -1, NO_ARRIVAL, -1]  # 6 + 2 = 8 is too late
    assert lagged_arrival_windows(np.array([1]), lag=0, num_windows=3).tolist() == [-1, 1, -1]


@pytest.mark.parametrize(
    ("arrivals", "message"),
    [
        ([(1, 2, np.array([0.5, 0.5]))], "cannot arrive earlier"),
        ([(3, 0, np.array([0.5, 0.5]))], "out of range"),
        ([(-1, -1, np.array([0.5, 0.5]))], "out of range"),
        ([(1, 0, np.array([0.5, 0.5])), (2, 0, np.array([0.5, 0.5]))], "more than one"),
        ([(1, 0, np.array([0.5, 0.3, 0.2]))], "shape"),
    ],
)
def test_bad_arrivals_are_rejected(arrivals, message):
    local = np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=message):
        clownfish_fuse(local, np.zeros(3), arrivals)


def test_bad_shapes_and_parameters_are_rejected():
    with pytest.raises(ValueError, match=r"\(T, C\)"):
        clownfish_fuse(np.zeros(3), np.zeros(3), [])
    with pytest.raises(ValueError, match="one score per window"):
        clownfish_fuse(np.zeros((3, 2)), np.zeros(4), [])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        clownfish_fuse(np.zeros((3, 2)), np.array([0.0, 1.5, 0.5]), [])
    with pytest.raises(ValueError, match="remote_weight"):
        clownfish_fuse(np.zeros((3, 2)), np.zeros(3), [], remote_weight=1.5)
    assert clownfish_fuse(np.zeros((0, 4)), np.zeros(0), []).shape == (0, 4)


def random_case(rng: np.random.Generator, lengths: list[int], num_classes: int, configs: int):
    total = sum(lengths)
    local = rng.dirichlet(np.ones(num_classes), size=total)
    remote = rng.dirichlet(np.ones(num_classes), size=total)
    similarity = rng.uniform(size=(configs, total))
    similarity[:, rng.uniform(size=total) < 0.2] = 1.0
    arrival = np.full((configs, total), NO_ARRIVAL, dtype=np.int64)
    start = 0
    for length in lengths:
        for k in range(configs):
            sent = np.flatnonzero(rng.uniform(size=length) < 0.4)
            lags = rng.integers(0, 4, size=len(sent))  # varying lags: out-of-order arrivals too
            in_time = sent + lags < length
            arrival[k, start + sent[in_time]] = (sent + lags)[in_time]
        start += length
    return local, remote, similarity, arrival


@pytest.mark.parametrize("confidence_aware", [True, False])
@pytest.mark.parametrize("threshold", [0.5, 0.0, 0.8])
def test_batch_kernel_equals_reference_exactly(confidence_aware, threshold):
    rng = np.random.default_rng(int(threshold * 10) + confidence_aware)
    lengths = [37, 0, 1, 60, 2]
    local, remote, similarity, arrival = random_case(rng, lengths, num_classes=5, configs=3)
    options = {"threshold": threshold, "confidence_aware": confidence_aware}
    labels, probs = clownfish_fuse_batch(
        local, remote, similarity, arrival, video_lengths=lengths, return_probs=True, **options
    )
    assert labels.shape == (3, sum(lengths)) and probs.shape == (3, sum(lengths), 5)
    for k in range(3):
        start = 0
        for length in lengths:
            window = slice(start, start + length)
            expected = clownfish_fuse(
                local[window],
                similarity[k, window],
                arrival_list(arrival[k, window], remote[window]),
                **options,
            )
            np.testing.assert_array_equal(probs[k, window], expected)
            np.testing.assert_array_equal(labels[k, window], expected.argmax(axis=1))
            start += length
    labels_only, none = clownfish_fuse_batch(
        local, remote, similarity, arrival, video_lengths=lengths, **options
    )
    assert none is None
    np.testing.assert_array_equal(labels_only, labels)


def test_batch_broadcasts_a_shared_similarity_or_schedule():
    rng = np.random.default_rng(7)
    local, remote, similarity, arrival = random_case(rng, [30, 20], num_classes=4, configs=2)
    labels, _ = clownfish_fuse_batch(local, remote, similarity[0], arrival, video_lengths=[30, 20])
    for k in range(2):
        single, _ = clownfish_fuse_batch(
            local, remote, similarity[0], arrival[k], video_lengths=[30, 20]
        )
        np.testing.assert_array_equal(labels[k], single[0])


def test_batch_rejects_arrivals_outside_their_video():
    local = np.full((5, 2), 0.5)
    arrival = np.array([3, -1, -1, -1, -1])  # window 0 of a 3-window video cannot arrive at 3
    with pytest.raises(ValueError, match="end of its video"):
        clownfish_fuse_batch(local, local, np.zeros(5), arrival, video_lengths=[3, 2])
    with pytest.raises(ValueError, match="sum to"):
        clownfish_fuse_batch(local, local, np.zeros(5), arrival, video_lengths=[3, 3])
    with pytest.raises(ValueError, match="must match or be 1"):
        clownfish_fuse_batch(local, local, np.zeros((2, 5)), np.full((3, 5), -1), video_lengths=[5])
