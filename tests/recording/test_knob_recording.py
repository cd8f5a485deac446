"""Knob recordings: round trip, byte determinism, and every kind of corruption named by file."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from edgecloud.data.degradation import Knobs
from edgecloud.recording.format import RecordingFormatError
from edgecloud.recording.knobs import KNOB_ARRAYS, KnobRecording, KnobRecordingWriter

CLASSES = ["road", "pole", "sky"]
KNOBS = [Knobs(scale=2, quality=90), Knobs(scale=4, quality=40)]


def clip_arrays(frames: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    k, c = len(KNOBS), len(CLASSES)
    union = rng.integers(1, 100, size=(k, frames, c))
    hr_union = rng.integers(1, 100, size=(frames, c))
    return {
        "frame_bytes": rng.integers(100, 5000, size=(k, frames)),
        "intersection": union // 2,
        "union": union,
        "frame_miou": rng.random((k, frames)),
        "small_ratio": rng.random((k, frames)) * 0.05,
        "restore_latency_s": rng.random((k, frames)) * 0.01,
        "segment_latency_s": rng.random((k, frames)) * 0.02,
        "hr_intersection": hr_union,
        "hr_union": hr_union,
        "hr_frame_miou": np.ones(frames),
        "hr_small_ratio": rng.random(frames) * 0.05,
        "gt_small_ratio": rng.random(frames) * 0.05,
    }


def write(root, clips: dict[str, dict[str, np.ndarray]] | None = None) -> None:
    writer = KnobRecordingWriter(
        root, class_names=CLASSES, knobs=KNOBS, metadata={"segmenter": "seg.ckpt"}
    )
    for name, arrays in (clips or {"aachen_000001": clip_arrays()}).items():
        writer.add_clip(name, fps=17.0, arrays=arrays)
    writer.close()


def test_round_trip_keeps_every_array_and_the_grid(tmp_path) -> None:
    arrays = clip_arrays(frames=4)
    write(tmp_path / "rec", {"aachen_000001": arrays, "bonn_000002": clip_arrays(seed=1)})
    recording = KnobRecording.open(tmp_path / "rec")
    assert recording.knobs == tuple(KNOBS)
    assert recording.class_names == tuple(CLASSES)
    assert recording.clip_names == ("aachen_000001", "bonn_000002")
    clip = recording.clip("aachen_000001")
    assert clip.num_frames == 4 and clip.fps == 17.0
    for key, (dtype, _) in KNOB_ARRAYS.items():
        assert clip.arrays[key].dtype == dtype
        np.testing.assert_array_equal(clip.arrays[key], arrays[key])
    assert recording.knob_index(Knobs(scale=4, quality=40)) == 1
    with pytest.raises(KeyError, match="x8_q90 was not recorded"):
        recording.knob_index(Knobs(scale=8, quality=90))
    assert recording.manifest["metadata"] == {"segmenter": "seg.ckpt"}


def test_the_same_arrays_give_the_same_bytes(tmp_path) -> None:
    write(tmp_path / "a")
    write(tmp_path / "b")
    for name in ("manifest.json", "sequences/aachen_000001.npz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("union", np.zeros((2, 3, 3), np.int64), "intersection must lie in 0..union"),
        ("frame_bytes", np.zeros((2, 3), np.int64), "frame_bytes must be positive"),
        ("small_ratio", np.full((2, 3), 1.5), r"small_ratio must lie in \[0, 1\]"),
        ("frame_miou", np.zeros((2, 4)), r"frame_miou has shape \(2, 4\), expected \(2, 3\)"),
    ],
)
def test_inconsistent_arrays_are_refused_when_written(tmp_path, key, value, message) -> None:
    arrays = clip_arrays()
    arrays[key] = value
    writer = KnobRecordingWriter(tmp_path / "rec", class_names=CLASSES, knobs=KNOBS, metadata={})
    with pytest.raises(RecordingFormatError, match=message):
        writer.add_clip("aachen_000001", fps=17.0, arrays=arrays)


def test_missing_arrays_duplicate_clips_and_knobs_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="non-empty and distinct"):
        KnobRecordingWriter(tmp_path / "a", class_names=CLASSES, knobs=KNOBS * 2, metadata={})
    writer = KnobRecordingWriter(tmp_path / "rec", class_names=CLASSES, knobs=KNOBS, metadata={})
    arrays = clip_arrays()
    del arrays["gt_small_ratio"]
    with pytest.raises(ValueError, match=r"missing arrays \['gt_small_ratio'\]"):
        writer.add_clip("aachen_000001", fps=17.0, arrays=arrays)
    writer.add_clip("aachen_000001", fps=17.0, arrays=clip_arrays())
    with pytest.raises(ValueError, match="already written"):
        writer.add_clip("aachen_000001", fps=17.0, arrays=clip_arrays())


def test_a_recording_without_manifest_or_with_a_foreign_one_fails_naming_it(tmp_path) -> None:
    root = tmp_path / "rec"
    write(root)
    manifest = root / "manifest.json"
    content = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**content, "format": "edgecloud.recording"}))
    with pytest.raises(RecordingFormatError, match=r"manifest\.json"):
        KnobRecording.open(root)
    manifest.unlink()
    with pytest.raises(RecordingFormatError, match=r"manifest\.json"):
        KnobRecording.open(root)


def test_a_tampered_clip_file_fails_when_loaded_naming_it(tmp_path) -> None:
    root = tmp_path / "rec"
    write(root)
    path = root / "sequences" / "aachen_000001.npz"
    arrays = dict(np.load(path))
    arrays["intersection"] = arrays["union"] + 1
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", "w") as member:
                np.lib.format.write_array(member, array)
    recording = KnobRecording.open(root)
    with pytest.raises(RecordingFormatError, match=r"aachen_000001\.npz.*intersection"):
        recording.clip("aachen_000001")
    path.unlink()
    with pytest.raises(RecordingFormatError, match="missing"):
        recording.clip("aachen_000001")
