"""Offline profiling on a knob recording: tail frames by accuracy, the fitted threshold and
the per-configuration profiles, checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from edgecloud.control.recording_profile import (
    profile_recording,
    tail_detection_scores,
    tail_frames_by_accuracy,
)
from edgecloud.data.degradation import Knobs
from edgecloud.recording.knobs import KnobRecording, KnobRecordingWriter

KNOBS = [Knobs(scale=4, quality=90), Knobs(scale=2, quality=40)]


def _arrays(frame_miou: np.ndarray, small_ratio: np.ndarray, frame_bytes) -> dict:
    k, f = frame_miou.shape
    union = np.full((k, f, 1), 100, np.int64)
    return {
        "frame_bytes": np.asarray(frame_bytes, np.int64),
        "intersection": np.round(frame_miou[..., None] * 100).astype(np.int64),
        "union": union,
        "frame_miou": frame_miou,
        "small_ratio": small_ratio,
        "restore_latency_s": np.full((k, f), 0.01),
        "segment_latency_s": np.full((k, f), 0.01),
        "hr_intersection": union[0],
        "hr_union": union[0],
        "hr_frame_miou": np.ones(f),
        "hr_small_ratio": small_ratio[0],
        "gt_small_ratio": small_ratio[0],
    }


@pytest.fixture
def recording(tmp_path) -> KnobRecording:
    # ten frames; frame 3 is the tail frame (worst on average), with few small regions
    miou = np.array([[0.8] * 10, [0.7] * 10])
    miou[:, 3] = [0.1, 0.5]
    small = np.full((2, 10), 0.05)
    small[:, 3] = 0.002
    writer = KnobRecordingWriter(tmp_path / "rec", class_names=["road"], knobs=KNOBS, metadata={})
    bytes_ = [[1000] * 10, [1100] * 10]
    writer.add_clip("a_000000", fps=10.0, arrays=_arrays(miou, small, bytes_))
    writer.add_clip("b_000001", fps=10.0, arrays=_arrays(miou, small, bytes_))
    writer.close()
    return KnobRecording.open(tmp_path / "rec")


def test_tail_frames_are_the_worst_share_by_mean_accuracy() -> None:
    miou = np.array([[0.9, 0.1, 0.5, 0.6], [0.9, 0.3, 0.1, 0.6]])
    # means 0.9, 0.2, 0.3, 0.6: the lower 25% quantile is 0.2
    assert tail_frames_by_accuracy(miou, tail_fraction=0.25).tolist() == [0, 1, 0, 0]
    with pytest.raises(ValueError, match="tail_fraction"):
        tail_frames_by_accuracy(miou, tail_fraction=1.0)


def test_profiles_and_threshold_from_the_profiling_clips(recording) -> None:
    profile = profile_recording(recording, clip_names=["a_000000"], tail_fraction=0.1)
    assert profile.num_frames == 10 and profile.num_tail_frames == 1
    by_name = {p.knobs.name: p for p in profile.profiles}
    assert by_name["x4_q90"].ordinary_accuracy == pytest.approx(0.8)
    assert by_name["x4_q90"].tail_accuracy == pytest.approx(0.1)
    assert by_name["x2_q40"].tail_accuracy == pytest.approx(0.5)
    assert by_name["x2_q40"].bytes_per_frame == pytest.approx(1100)
    fit = profile.threshold_fit
    # pooled points: the 10% lower quantile of the 20 points (0.1, 0.5, 9 x 0.7, 9 x 0.8) is
    # the second smallest, 0.5: both points of frame 3, at ratio 0.002, are the tail; the
    # threshold catches them and not the 5% frames
    assert fit.tail_cutoff == pytest.approx(0.5)
    assert 0.002 < fit.threshold <= 0.05 and fit.recall == 1.0


def test_held_out_detection_scores_per_scale(recording) -> None:
    scores = tail_detection_scores(
        recording, clip_names=["b_000001"], threshold=0.01, tail_fraction=0.1
    )
    # x4: frame 3 (0.1) is the tail and is detected; x2: its 0.5 is still the worst
    assert scores == {"x2": (1.0, 1.0), "x4": (1.0, 1.0)}
