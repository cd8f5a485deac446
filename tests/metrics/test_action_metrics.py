"""Per-frame action metrics: window labels, frame predictions, accuracy and weighted F1 (against
scikit-learn) on hand-computed sliding-window cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import f1_score

from edgecloud.metrics.action import (
    NO_PREDICTION,
    accuracy,
    action_accuracy,
    action_weighted_f1,
    frame_predictions,
    frame_windows,
    scored_frames,
    weighted_f1,
    window_labels,
)

SMALL = {"window_size": 4, "window_stride": 2}

# 14 frames: background 0-3, action 1 on 4-9, action 2 on 10-13. Windows of 4 frames every 2:
# six windows ending at frames 3, 5, 7, 9, 11, 13.
FRAMES = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2])
WINDOW_PREDICTIONS = np.array([0, 1, 1, 2, 2, 2])
# Shown per frame: 0-2 none; 3, 4 -> 0; 5, 6 -> 1; 7, 8 -> 1; 9, 10 -> 2; 11, 12 -> 2; 13 -> 2


def test_window_labels_majority_of_frames():
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 0, 0, 0])
    # windows [0 0 0 1] -> 0, [0 1 1 1] -> 1, [1 1 1 2] -> 1, [1 2 2 0] -> 2 (half), [2 0 0 0] -> 0
    assert window_labels(labels, **SMALL).tolist() == [0, 1, 1, 2, 0]


def test_window_label_ties():
    # two actions covering half each: the newest frame's action wins
    assert window_labels(np.array([1, 1, 2, 2, 2, 2]), **SMALL).tolist() == [2, 2]
    assert window_labels(np.array([2, 2, 1, 1]), **SMALL).tolist() == [1]
    # an action covering half beats background, whichever side it is on
    assert window_labels(np.array([1, 1, 0, 0]), **SMALL).tolist() == [1]
    assert window_labels(np.array([0, 0, 3, 3]), **SMALL).tolist() == [3]
    # odd window: 2 of 3 frames is a majority, 1 of 3 is not
    odd = {"window_size": 3, "window_stride": 1}
    assert window_labels(np.array([0, 4, 4, 0]), **odd).tolist() == [4, 4]
    assert window_labels(np.array([0, 0, 0]), **odd).tolist() == [0]
    assert window_labels(np.array([1, 1, 1]), window_size=4, window_stride=1).tolist() == []


def test_frames_show_the_last_finished_window():
    assert frame_windows(10, **SMALL).tolist() == [-1, -1, -1, 0, 0, 1, 1, 2, 2, 3]
    # the tail after the last window (frame 10) keeps the last prediction
    assert frame_windows(11, **SMALL).tolist() == [-1, -1, -1, 0, 0, 1, 1, 2, 2, 3, 3]
    shown = frame_predictions(WINDOW_PREDICTIONS, num_frames=14, **SMALL)
    assert shown.tolist() == [-1, -1, -1, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2]
    assert NO_PREDICTION == -1
    with pytest.raises(ValueError, match="make 6 windows"):
        frame_predictions(WINDOW_PREDICTIONS[:5], num_frames=14, **SMALL)


def test_accuracy_hand_cases():
    # skip 2, actions only: frames 6-9 (action 1) and 12-13 (action 2);
    # shown 1, 1, 1, 2 | 2, 2 -> 5 of 6 right
    scored = scored_frames(FRAMES, skip_frames=2, **SMALL)
    assert scored.frames.tolist() == [6, 7, 8, 9, 12, 13]
    assert scored.windows.tolist() == [1, 2, 2, 3, 4, 5]
    assert action_accuracy(FRAMES, WINDOW_PREDICTIONS, skip_frames=2, **SMALL) == 5 / 6
    # no skip: frames 4-13: 0x 1v 1v 1v 1v 2x 2v 2v 2v 2v -> 8 of 10
    assert action_accuracy(FRAMES, WINDOW_PREDICTIONS, skip_frames=0, **SMALL) == 0.8
    # background too: frame 3 joins (frame 2 has no prediction yet), shown 0 -> right: 6 of 7
    both = action_accuracy(FRAMES, WINDOW_PREDICTIONS, skip_frames=2, actions_only=False, **SMALL)
    assert both == 6 / 7
    # probabilities are reduced with argmax
    probs = np.eye(3)[WINDOW_PREDICTIONS] * 0.5 + 0.1
    assert action_accuracy(FRAMES, probs, skip_frames=2, **SMALL) == 5 / 6
    # the paper's 8 frames skip the whole of these short contexts
    assert np.isnan(action_accuracy(FRAMES, WINDOW_PREDICTIONS, **SMALL))


def test_weighted_f1_hand_case():
    # truth 1 1 1 1 2 2, shown 1 1 1 2 2 2.
    # class 1: tp 3, fp 0, fn 1 -> F1 = 6/7; class 2: tp 2, fp 1, fn 0 -> F1 = 4/5
    # weighted by support 4 and 2: (4 * 6/7 + 2 * 4/5) / 6 = 176/210
    f1 = action_weighted_f1(FRAMES, WINDOW_PREDICTIONS, skip_frames=2, **SMALL)
    assert f1 == pytest.approx(176 / 210)
    truth, shown = [1, 1, 1, 1, 2, 2], [1, 1, 1, 2, 2, 2]
    assert f1 == pytest.approx(f1_score(truth, shown, average="weighted"))


labels_and_predictions = st.integers(min_value=1, max_value=60).flatmap(
    lambda size: st.tuples(
        st.lists(st.integers(0, 5), min_size=size, max_size=size),
        st.lists(st.integers(0, 8), min_size=size, max_size=size),  # 6-8: only predicted
    )
)


@settings(max_examples=200, deadline=None)
@given(labels_and_predictions)
def test_weighted_f1_matches_scikit_learn(case):
    truth, predicted = case
    with warnings.catch_warnings():  # classes never predicted: "precision ill-defined"
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        expected = f1_score(truth, predicted, average="weighted")
    assert weighted_f1(np.array(truth), np.array(predicted)) == pytest.approx(expected, abs=1e-12)
    assert accuracy(np.array(truth), np.array(predicted)) == pytest.approx(
        np.mean(np.array(truth) == np.array(predicted))
    )


def test_metrics_batch_over_configurations():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 5, size=200)
    predicted = rng.integers(0, 7, size=(3, 4, 200))
    f1 = weighted_f1(truth, predicted)
    acc = accuracy(truth, predicted)
    assert f1.shape == acc.shape == (3, 4)
    for k in range(3):
        for m in range(4):
            assert f1[k, m] == pytest.approx(
                f1_score(truth, predicted[k, m], average="weighted"), abs=1e-12
            )
            assert acc[k, m] == np.mean(truth == predicted[k, m])
    # scored_frames' windows index a whole grid of window predictions at once
    scored = scored_frames(FRAMES, skip_frames=2, **SMALL)
    grid = np.stack([WINDOW_PREDICTIONS, np.ones(6, dtype=np.int64)])
    assert accuracy(scored.labels, grid[:, scored.windows]).tolist() == [5 / 6, 4 / 6]


def test_empty_inputs_give_nan():
    empty = np.zeros(0, dtype=np.int64)
    assert np.isnan(accuracy(empty, empty))
    assert np.isnan(weighted_f1(empty, empty))
    assert weighted_f1(empty, np.zeros((2, 0), dtype=np.int64)).shape == (2,)
