"""Tail-frame detection and the threshold fit, on hand-computed profiling data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgecloud.control.tail_frames import (
    detect_tail_frames,
    fit_tail_threshold,
    recall_precision,
)


def test_detection_is_ratio_strictly_below_threshold() -> None:
    ratios = np.array([0.0, 0.01, 0.02])
    assert detect_tail_frames(ratios, threshold=0.01).tolist() == [True, False, False]


def test_recall_and_precision_by_hand() -> None:
    detected = np.array([True, True, False, False, True])
    actual = np.array([True, False, True, False, True])
    assert recall_precision(detected, actual) == (2 / 3, 2 / 3)
    recall, precision = recall_precision(np.zeros(2, bool), np.zeros(2, bool))
    assert math.isnan(recall) and math.isnan(precision)


def test_regression_threshold_on_an_exact_line() -> None:
    # accuracy = 0.5 + 10·ratio exactly; 10 frames, the worst (10%) has ratio 0, accuracy 0.5
    ratios = np.arange(10) / 100.0
    accuracies = 0.5 + 10 * ratios
    fit = fit_tail_threshold(ratios, accuracies)
    assert fit.slope == pytest.approx(10.0) and fit.intercept == pytest.approx(0.5)
    assert fit.tail_cutoff == pytest.approx(0.5)
    # the line reaches the cutoff at ratio 0, but detection is "below": the recall rule
    # lifts the threshold just above the tail frame's ratio
    assert fit.regression_threshold == pytest.approx(0.0, abs=1e-12)
    assert 0.0 < fit.threshold < 0.01
    assert fit.recall == 1.0 and fit.precision == 1.0


def test_regression_can_set_a_threshold_above_the_recall_rule() -> None:
    # tail frame: ratio 0.002, accuracy 0.2; others climb with the ratio
    ratios = np.array([0.002, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09])
    accuracies = np.array([0.2, 0.3, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8])
    fit = fit_tail_threshold(ratios, accuracies)
    slope, intercept = np.polyfit(ratios, accuracies, 1)
    assert fit.regression_threshold == pytest.approx((0.2 - intercept) / slope)
    assert fit.threshold == pytest.approx(max(fit.regression_threshold, 0.002))
    detected = ratios < fit.threshold
    assert fit.recall == 1.0
    assert fit.precision == pytest.approx(1 / detected.sum())


def test_without_a_positive_slope_only_recall_sets_the_threshold() -> None:
    ratios = np.array([0.05, 0.04, 0.03, 0.02, 0.01])
    accuracies = np.array([0.1, 0.3, 0.5, 0.7, 0.9])  # more small regions, lower accuracy
    fit = fit_tail_threshold(ratios, accuracies, tail_fraction=0.2)
    assert math.isnan(fit.regression_threshold) and fit.slope < 0
    assert fit.threshold == pytest.approx(0.05) and fit.threshold > 0.05
    assert fit.recall == 1.0 and fit.precision == pytest.approx(1 / 5)


@pytest.mark.parametrize(
    ("ratios", "accuracies", "kwargs", "message"),
    [
        ([0.1], [0.5], {}, "at least 2"),
        ([0.1, 0.2], [0.5], {}, "equal length"),
        ([0.1, np.nan], [0.5, 0.6], {}, "finite"),
        ([0.1, 0.2], [0.5, 0.6], {"tail_fraction": 0.0}, "tail_fraction"),
        ([0.1, 0.2], [0.5, 0.6], {"min_recall": 1.5}, "min_recall"),
    ],
)
def test_bad_profiling_input_is_rejected(ratios, accuracies, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        fit_tail_threshold(np.array(ratios), np.array(accuracies), **kwargs)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 0.2), st.floats(0, 1)),
        min_size=2,
        max_size=60,
    ),
    st.floats(0.05, 0.5),
    st.floats(0.5, 1.0),
)
def test_fitted_threshold_always_reaches_the_recall(pairs, tail_fraction, min_recall) -> None:
    ratios, accuracies = (np.array(values) for values in zip(*pairs, strict=True))
    fit = fit_tail_threshold(ratios, accuracies, tail_fraction=tail_fraction, min_recall=min_recall)
    assert fit.recall >= min_recall - 1e-12
    is_tail = accuracies <= fit.tail_cutoff
    assert is_tail.any()
