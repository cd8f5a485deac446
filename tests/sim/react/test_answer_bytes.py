"""The JSON answer size the downlink is charged with, computed without building the JSON,
against ``json.dumps`` of the answer itself."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edgecloud.sim.react.inputs import json_answer_bytes


def reference_bytes(boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> int:
    objects = [
        {"label": label, "box": [round(v, 1) for v in box], "score": round(score, 3)}
        for box, label, score in zip(boxes.tolist(), labels.tolist(), scores.tolist(), strict=True)
    ]
    return len(json.dumps({"objects": objects}, separators=(",", ":")).encode())


def frames_of(offsets, boxes, labels, scores):
    for begin, end in itertools.pairwise(offsets):
        yield boxes[begin:end], labels[begin:end], scores[begin:end]


def test_hand_picked_values_round_like_python():
    # ties at .x5 round half to even on the float32 value's exact binary value; -0.04 gives
    # "-0.0"; 9.95 and 99.95 may gain an integer digit; 0.9995 rounds to "1.0"
    boxes = np.array(
        [[-0.04, 9.95, 99.95, 0.25], [0.05, 1e6, -123.45, 0.0], [7.0, -0.0, 0.15, 639.96]],
        dtype=np.float32,
    )
    labels = np.array([1, 10, 123], dtype=np.int64)
    scores = np.array([0.9995, 0.0005, 0.12], dtype=np.float32)
    offsets = np.array([0, 0, 2, 3])
    sizes = json_answer_bytes(offsets=offsets, boxes=boxes, labels=labels, scores=scores)
    expected = [reference_bytes(*frame) for frame in frames_of(offsets, boxes, labels, scores)]
    assert sizes.tolist() == expected
    assert expected[0] == len('{"objects":[]}')


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    counts=st.lists(st.integers(0, 6), min_size=1, max_size=6),
)
def test_equals_json_dumps(data, counts):
    total = sum(counts)
    finite = {"allow_nan": False, "allow_infinity": False, "width": 32}
    boxes = data.draw(arrays(np.float32, (total, 4), elements=st.floats(-5000, 5000, **finite)))
    scores = data.draw(arrays(np.float32, (total,), elements=st.floats(0, 1, **finite)))
    labels = data.draw(arrays(np.int64, (total,), elements=st.integers(1, 1000)))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    sizes = json_answer_bytes(offsets=offsets, boxes=boxes, labels=labels, scores=scores)
    expected = [reference_bytes(*frame) for frame in frames_of(offsets, boxes, labels, scores)]
    assert sizes.tolist() == expected


def test_refuses_float64_values_whose_rounding_it_cannot_reproduce():
    with pytest.raises(TypeError, match="float32"):
        json_answer_bytes(
            offsets=np.array([0, 1]),
            boxes=np.zeros((1, 4)),
            labels=np.array([1]),
            scores=np.zeros(1, dtype=np.float32),
        )
