"""Action recordings: exact round trip, deterministic bytes, validation, torch-free reader."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgecloud import __version__
from edgecloud.recording.action import (
    ACTION_ARRAY_DTYPES,
    ACTION_FORMAT_NAME,
    ACTION_FORMAT_VERSION,
    ActionRecording,
    ActionRecordingWriter,
    RecordingFormatError,
)

CLASSES = ["drink", "wave", "jump"]
WINDOW_SIZE, WINDOW_STRIDE = 4, 2
FEATURE_DIM = 5
MODELS = {
    "local": {"name": "resnet3d-18", "checkpoint": "ckpt/local.ckpt"},
    "remote": {"name": "resnext3d-101", "checkpoint": "ckpt/remote.ckpt"},
    "siminet": {"checkpoint": "ckpt/siminet.ckpt", "hidden_dim": 1024},
    "relevance": None,
}
WRITER_OPTIONS = {
    "class_names": CLASSES,
    "window_size": WINDOW_SIZE,
    "window_stride": WINDOW_STRIDE,
    "models": MODELS,
    "device": "NVIDIA Jetson Orin Nano",
    "frame_size": (171, 128),
}


def softmax_rows(rng: np.random.Generator, rows: int) -> np.ndarray:
    logits = rng.normal(size=(rows, len(CLASSES)))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs.astype(np.float32)


def make_sequence(
    seed: int, num_frames: int, *, similarity: bool = True, relevance: bool = True
) -> dict:
    """``add_sequence`` keyword arguments for ``num_frames`` frames of random but valid data."""
    rng = np.random.default_rng(seed)
    num_windows = (num_frames - WINDOW_SIZE) // WINDOW_STRIDE + 1
    rho = rng.uniform(0, 1, num_windows).astype(np.float32)
    rho[0] = 0.0
    siminet_latency = rng.uniform(1e-4, 1e-3, num_windows)
    siminet_latency[0] = 0.0
    return {
        "fps": 30.0,
        "num_frames": num_frames,
        "window_starts": np.arange(num_windows, dtype=np.int64) * WINDOW_STRIDE,
        "frame_labels": rng.integers(0, len(CLASSES) + 1, num_frames),
        "window_labels": rng.integers(0, len(CLASSES) + 1, num_windows),
        "local_probs": softmax_rows(rng, num_windows),
        "remote_probs": softmax_rows(rng, num_windows),
        "local_features": rng.normal(size=(num_windows, FEATURE_DIM)).astype(np.float32),
        "similarity": rho if similarity else None,
        "relevance": rng.uniform(0, 1, num_windows).astype(np.float32) if relevance else None,
        "local_latency_s": rng.uniform(0.05, 0.2, num_windows),
        "remote_latency_s": rng.uniform(0.01, 0.05, num_windows),
        "siminet_latency_s": siminet_latency if similarity else None,
        "relevance_latency_s": rng.uniform(0.1, 0.2, num_windows) if relevance else None,
        "frame_bytes": rng.integers(20_000, 60_000, num_frames),
    }


# 11 frames: windows start at 0, 2, 4, 6; 8 frames: at 0, 2, 4.
SEQUENCES = {"0291-L": make_sequence(1, 11), "video_b.2": make_sequence(2, 8)}


def write_recording(root: Path, sequences: dict = SEQUENCES, **overrides) -> Path:
    options = {**WRITER_OPTIONS, "extra": {"split": "val", "protocol": "cross-subject"}}
    with ActionRecordingWriter(root, **{**options, **overrides}) as writer:
        for name, sequence in sequences.items():
            writer.add_sequence(name, **sequence)
    return root


@pytest.fixture
def recording_root(tmp_path: Path) -> Path:
    return write_recording(tmp_path / "recording")


def assert_same_array(actual: np.ndarray, expected) -> None:
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected)


# --- round trip ---------------------------------------------------------------------------------


def test_round_trip_is_exact(recording_root: Path) -> None:
    recording = ActionRecording.open(recording_root)
    assert recording.class_names == tuple(CLASSES)
    assert (recording.window_size, recording.window_stride) == (WINDOW_SIZE, WINDOW_STRIDE)
    assert recording.sequence_names == tuple(SEQUENCES)
    assert recording.frame_size == (171, 128)
    assert (recording.feature_kind, recording.feature_dim) == ("penultimate", FEATURE_DIM)
    assert recording.has_similarity and recording.has_relevance
    for name, written in SEQUENCES.items():
        sequence = recording.sequence(name)
        assert sequence.name == name and sequence.fps == 30.0
        assert sequence.num_frames == written["num_frames"]
        assert sequence.num_windows == len(written["window_starts"])
        assert (sequence.window_size, sequence.window_stride) == (WINDOW_SIZE, WINDOW_STRIDE)
        for key in ACTION_ARRAY_DTYPES:
            assert_same_array(getattr(sequence, key), written[key])


def test_manifest_contents(recording_root: Path) -> None:
    manifest = ActionRecording.open(recording_root).manifest
    assert manifest == {
        "format": ACTION_FORMAT_NAME,
        "version": ACTION_FORMAT_VERSION,
        "class_names": CLASSES,
        "window_size": WINDOW_SIZE,
        "window_stride": WINDOW_STRIDE,
        "models": MODELS,
        "device": "NVIDIA Jetson Orin Nano",
        "frame_encoding": "png",
        "frame_size": [171, 128],
        "feature_kind": "penultimate",
        "feature_dim": FEATURE_DIM,
        "has_similarity": True,
        "has_relevance": True,
        "created_by": f"edgecloud {__version__}",
        "extra": {"split": "val", "protocol": "cross-subject"},
        "sequences": [
            {"name": "0291-L", "file": "sequences/0291-L.npz", "num_frames": 11,
             "num_windows": 4, "fps": 30.0},
            {"name": "video_b.2", "file": "sequences/video_b.2.npz", "num_frames": 8,
             "num_windows": 3, "fps": 30.0},
        ],
    }  # fmt: skip


def test_a_recording_without_siminet_and_relevance(tmp_path: Path) -> None:
    sequences = {
        name: make_sequence(seed, frames, similarity=False, relevance=False)
        for name, seed, frames in (("a", 3, 9), ("b", 4, 4))
    }
    root = write_recording(tmp_path / "rec", sequences, feature_kind="logits")
    recording = ActionRecording.open(root)
    assert not recording.has_similarity and not recording.has_relevance
    assert recording.feature_kind == "logits"
    sequence = recording.sequence("b")
    assert sequence.num_windows == 1
    for key in ("similarity", "siminet_latency_s", "relevance", "relevance_latency_s"):
        assert getattr(sequence, key) is None
    assert_same_array(sequence.local_probs, sequences["b"]["local_probs"])
    with np.load(root / "sequences" / "a.npz", allow_pickle=False) as archive:
        assert "similarity" not in archive.files and "relevance" not in archive.files


def test_sequence_files_are_plain_npz(recording_root: Path) -> None:
    with np.load(recording_root / "sequences" / "0291-L.npz", allow_pickle=False) as archive:
        assert archive.files == [f"{key}" for key in ACTION_ARRAY_DTYPES]
        assert archive["local_probs"].shape == (4, len(CLASSES))
        assert archive["frame_bytes"].shape == (11,)


@pytest.mark.parametrize("key", list(ACTION_ARRAY_DTYPES))
def test_read_arrays_are_read_only(recording_root: Path, key: str) -> None:
    array = getattr(ActionRecording.open(recording_root).sequence("0291-L"), key)
    with pytest.raises(ValueError, match="read-only"):
        array[(0,) * array.ndim] = 0


def test_sequence_name_is_checked(recording_root: Path) -> None:
    with pytest.raises(KeyError, match="no sequence 'nope'"):
        ActionRecording.open(recording_root).sequence("nope")


def test_output_is_byte_identical_when_written_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write_recording(tmp_path / "first")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3 * 86400)
    second = write_recording(tmp_path / "second")
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert len(files) == 3
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative


def test_reader_does_not_import_torch(recording_root: Path) -> None:
    code = (
        "import sys; from edgecloud.recording.action import ActionRecording; "
        f"ActionRecording.open({str(recording_root)!r}).sequence('0291-L').local_probs.sum(); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- writer validation --------------------------------------------------------------------------


def writer(root: Path, **overrides) -> ActionRecordingWriter:
    return ActionRecordingWriter(root, **{**WRITER_OPTIONS, **overrides})


def changed(**changes) -> dict:
    """A valid sequence of 8 frames (3 windows) with ``changes`` applied; a callable change
    maps the valid value to the invalid one."""
    sequence = make_sequence(5, 8)
    for key, change in changes.items():
        sequence[key] = change(sequence[key]) if callable(change) else change
    return sequence


def set_item(index, value):
    def apply(array):
        array = np.array(array, copy=True)
        array[index] = value
        return array

    return apply


@pytest.mark.parametrize(
    ("sequence", "message"),
    [
        (changed(fps=0.0), "fps must be positive"),
        (changed(fps=float("nan")), "fps must be positive"),
        (changed(num_frames=0, frame_labels=[], frame_bytes=[]), "num_frames must be positive"),
        (changed(num_frames=8.0), "num_frames must be an integer"),
        (changed(num_frames=3, frame_labels=[0] * 3, frame_bytes=[1] * 3), "hold no window"),
        (changed(window_starts=[0, 1, 2]), "window_starts must be 0, 2, ..."),
        (changed(window_starts=[0, 2]), r"window_starts has shape \(2,\), expected \(3,\)"),
        (changed(frame_labels=lambda a: a[:-1]), r"frame_labels has shape \(7,\)"),
        (changed(frame_bytes=lambda a: a[:-1]), r"frame_bytes has shape \(7,\)"),
        (changed(local_probs=lambda a: a[:, :2]), r"local_probs has shape \(3, 2\)"),
        (changed(remote_probs=lambda a: a[:2]), r"remote_probs has shape \(2, 3\)"),
        (changed(local_features=lambda a: a[:, 0]), r"local_features has shape \(3,\)"),
        (changed(local_latency_s=[0.1]), r"local_latency_s has shape \(1,\)"),
        (changed(relevance=lambda a: a[:2]), r"relevance has shape \(2,\)"),
        (
            changed(frame_labels=set_item(3, 4)),
            r"frame_labels has class ids 0\.\.4, expected 0\.\.3",
        ),
        (changed(window_labels=set_item(0, -1)), r"window_labels has class ids -1\.\."),
        (changed(frame_labels=lambda a: a.astype(float)), "frame_labels must be integers"),
        (changed(frame_bytes=lambda a: a + 0.5), "frame_bytes must be integers"),
        (changed(frame_bytes=set_item(2, -1)), "frame_bytes must be non-negative"),
        (
            changed(local_probs=lambda a: a * np.float32([[1], [0.9], [1]])),
            r"local_probs rows must sum to 1 \(within 0\.001\); window 1 sums to 0\.9",
        ),
        (
            changed(remote_probs=lambda a: np.tile([[1.5, -0.5, 0.0]], (3, 1))),
            r"remote_probs must lie in \[0, 1\]",
        ),
        (changed(local_probs=set_item((1, 0), np.nan)), r"local_probs must lie in \[0, 1\]"),
        (changed(local_features=set_item((0, 0), np.inf)), "local_features must be finite"),
        (changed(similarity=set_item(0, 0.5)), "similarity of window 0 must be 0"),
        (changed(similarity=set_item(1, 1.5)), r"similarity must lie in \[0, 1\]"),
        (changed(relevance=set_item(1, -0.1)), r"relevance must lie in \[0, 1\]"),
        (changed(remote_latency_s=set_item(1, -0.1)), "remote_latency_s must be finite"),
        (changed(local_latency_s=set_item(1, np.inf)), "local_latency_s must be finite"),
        (changed(relevance_latency_s=set_item(0, np.nan)), "relevance_latency_s must be finite"),
        (changed(siminet_latency_s=set_item(0, 0.1)), "siminet_latency_s of window 0 must be 0"),
        (changed(similarity=None), "give similarity and its latencies together"),
        (changed(relevance_latency_s=None), "give relevance and its latencies together"),
    ],
)
def test_writer_rejects_invalid_sequences(tmp_path: Path, sequence: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        writer(tmp_path / "rec").add_sequence("a", **sequence)
    assert "sequence 'a'" in str(raised.value)
    assert not (tmp_path / "rec" / "sequences" / "a.npz").exists()


@pytest.mark.parametrize("name", ["../escape", ".hidden", "", "a/b"])
def test_writer_rejects_bad_sequence_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="sequence name"):
        writer(tmp_path / "rec").add_sequence(name, **changed())


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (changed(similarity=None, siminet_latency_s=None), "first sequence has similarity"),
        (changed(relevance=None, relevance_latency_s=None), "first sequence has relevance"),
        (changed(local_features=lambda a: a[:, :2]), r"local_features has shape \(3, 2\)"),
    ],
)
def test_every_sequence_must_match_the_first(tmp_path: Path, second: dict, message: str) -> None:
    rec = writer(tmp_path / "rec")
    rec.add_sequence("a", **changed())
    with pytest.raises(ValueError, match=message):
        rec.add_sequence("b", **second)
    with pytest.raises(ValueError, match="already added"):
        rec.add_sequence("a", **changed())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"class_names": []}, "class_names"),
        ({"class_names": ["a", ""]}, "class_names"),
        ({"window_size": 0}, "window_size must be a positive integer"),
        ({"window_stride": 1.5}, "window_stride must be a positive integer"),
        ({"frame_size": (171,)}, "frame_size"),
        ({"frame_size": (171, 0)}, "frame_size"),
        ({"frame_encoding": "jpeg"}, "frame_encoding"),
        ({"feature_kind": "pooled"}, "feature_kind"),
        ({"models": {"weights": np.zeros(2)}}, "models metadata must be JSON-serializable"),
        ({"extra": {"x": float("nan")}}, "extra metadata must be JSON-serializable"),
    ],
)
def test_writer_rejects_invalid_metadata(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        writer(tmp_path / "rec", **overrides)


def test_writer_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty"):
        writer(tmp_path / "rec")


def test_no_manifest_when_the_block_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), writer(tmp_path / "rec") as rec:
        rec.add_sequence("a", **changed())
        raise RuntimeError("boom")
    assert (tmp_path / "rec" / "sequences" / "a.npz").is_file()
    assert not (tmp_path / "rec" / "manifest.json").exists()
    with pytest.raises(RecordingFormatError, match=r"manifest\.json is missing") as raised:
        ActionRecording.open(tmp_path / "rec")
    assert raised.value.path == tmp_path / "rec" / "manifest.json"


def test_close_needs_sequences_and_ends_writing(tmp_path: Path) -> None:
    rec = writer(tmp_path / "rec")
    with pytest.raises(ValueError, match="no sequences"):
        rec.close()
    rec.add_sequence("a", **changed())
    rec.close()
    rec.close()
    with pytest.raises(RuntimeError, match="closed"):
        rec.add_sequence("b", **changed())


# --- reader validation --------------------------------------------------------------------------


def edit_manifest(root: Path, **changes) -> Path:
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))
    return path


def edit_arrays(root: Path, name: str, **changes) -> Path:
    """Rewrite a sequence file with ``np.savez_compressed``; ``None`` drops an array, a callable
    maps the stored array to the new one."""
    path = root / "sequences" / f"{name}.npz"
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    for key, change in changes.items():
        arrays[key] = change(arrays[key]) if callable(change) else change
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "edgecloud.detection-recording"}, "format is 'edgecloud.detection-recording'"),
        (
            {"version": 2},
            r"recording version 2 is newer than this edgecloud supports \(1\); upgrade",
        ),
        ({"version": "1"}, "version must be a positive integer"),
        ({"version": 0}, "version must be a positive integer"),
        ({"class_names": []}, "class_names must be a non-empty list"),
        ({"class_names": ["a", 3]}, "class_names must be a non-empty list"),
        ({"models": "resnet"}, "models must be a JSON dict"),
        ({"extra": None}, "extra must be a JSON dict"),
        ({"device": 3}, "device must be a JSON str"),
        ({"window_size": 0}, "window_size must be a positive integer"),
        ({"window_stride": "2"}, "window_stride must be a positive integer"),
        ({"feature_dim": True}, "feature_dim must be a positive integer"),
        ({"has_similarity": "yes"}, "has_similarity must be true or false"),
        ({"has_relevance": None}, "has_relevance must be true or false"),
        ({"frame_encoding": "jpeg"}, "frame_encoding must be one of"),
        ({"feature_kind": "pooled"}, "feature_kind must be one of"),
        ({"frame_size": [171]}, r"frame_size must be \[width, height\]"),
        ({"frame_size": [171, -128]}, r"frame_size must be \[width, height\]"),
        ({"sequences": []}, "sequences must be a non-empty list"),
    ],
)
def test_reader_rejects_bad_manifests(recording_root: Path, changes: dict, message: str) -> None:
    path = edit_manifest(recording_root, **changes)
    with pytest.raises(RecordingFormatError, match=message) as raised:
        ActionRecording.open(recording_root)
    assert raised.value.path == path
    assert str(raised.value).startswith(str(path))


def sequence_entry(**changes) -> dict:
    entry = {"name": "a", "file": "sequences/a.npz", "num_frames": 8, "num_windows": 3, "fps": 30}
    return {**entry, **changes}


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([sequence_entry(file="../elsewhere.npz")], "relative path inside the recording"),
        ([sequence_entry(file="/tmp/a.npz")], "relative path inside the recording"),
        ([sequence_entry(num_frames=0)], "'num_frames' must be a positive integer"),
        ([sequence_entry(num_windows=2)], "'num_windows' is 2, but 8 frames hold 3 windows"),
        ([sequence_entry(num_frames=3, num_windows=1)], "3 frames hold 0 windows"),
        ([sequence_entry(fps=-1)], "'fps' must be a positive number"),
        ([sequence_entry(fps="30")], "'fps' must be a positive number"),
        ([sequence_entry(name="../a")], r"sequences\[0\] needs a valid 'name'"),
        (["a"], r"sequences\[0\] needs a valid 'name'"),
        ([sequence_entry(), sequence_entry()], "listed twice"),
    ],
)
def test_reader_rejects_bad_sequence_entries(
    recording_root: Path, entries: list, message: str
) -> None:
    path = edit_manifest(recording_root, sequences=entries)
    with pytest.raises(RecordingFormatError, match=message) as raised:
        ActionRecording.open(recording_root)
    assert raised.value.path == path


def test_reader_rejects_invalid_json(recording_root: Path) -> None:
    (recording_root / "manifest.json").write_text("{not json")
    with pytest.raises(RecordingFormatError, match="not valid JSON"):
        ActionRecording.open(recording_root)


def test_reader_rejects_a_missing_sequence_file(recording_root: Path) -> None:
    missing = recording_root / "sequences" / "video_b.2.npz"
    missing.unlink()
    with pytest.raises(
        RecordingFormatError, match=r"sequence file of 'video_b\.2' is missing"
    ) as raised:
        ActionRecording.open(recording_root)
    assert raised.value.path == missing


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"remote_probs": None}, r"missing arrays \['remote_probs'\]"),
        ({"relevance_latency_s": None}, r"missing arrays \['relevance_latency_s'\]"),
        (
            {"window_labels": lambda a: a.astype(np.int32)},
            "window_labels has dtype int32, expected int64",
        ),
        (
            {"local_probs": lambda a: a.astype(np.float64)},
            "local_probs has dtype float64, expected float32",
        ),
        (
            {"frame_labels": lambda a: a[:5]},
            r"frame_labels has shape \(5,\), expected \(8,\)",
        ),
        (
            {"local_features": lambda a: a[:, :4]},
            rf"local_features has shape \(3, 4\), expected \(3, {FEATURE_DIM}\)",
        ),
        (
            {"local_latency_s": lambda a: a[:2]},
            r"local_latency_s has shape \(2,\), expected \(3,\)",
        ),
        ({"window_starts": lambda a: a + 1}, r"window_starts must be 0, 2, \.\.\."),
        ({"window_labels": set_item(1, 7)}, r"window_labels has class ids .*7, expected 0\.\.3"),
        ({"remote_probs": lambda a: a * 1.01}, "remote_probs rows must sum to 1"),
        ({"local_probs": set_item((0, 0), -0.01)}, r"local_probs must lie in \[0, 1\]"),
        ({"local_features": set_item((2, 1), np.nan)}, "local_features must be finite"),
        ({"similarity": set_item(0, 0.25)}, "similarity of window 0 must be 0"),
        ({"relevance": set_item(2, 1.01)}, r"relevance must lie in \[0, 1\]"),
        ({"siminet_latency_s": set_item(0, 0.01)}, "siminet_latency_s of window 0 must be 0"),
        ({"remote_latency_s": set_item(2, np.nan)}, "remote_latency_s must be finite"),
        ({"local_latency_s": set_item(2, -1.0)}, "local_latency_s must be finite and non-neg"),
        ({"frame_bytes": set_item(0, -5)}, "frame_bytes must be non-negative"),
        ({"similarity": np.array(["x"], dtype=object)}, "cannot read sequence arrays"),
    ],
)
def test_reader_rejects_inconsistent_arrays(
    recording_root: Path, changes: dict, message: str
) -> None:
    recording = ActionRecording.open(recording_root)
    path = edit_arrays(recording_root, "video_b.2", **changes)
    with pytest.raises(RecordingFormatError, match=message) as raised:
        recording.sequence("video_b.2")
    assert raised.value.path == path
    assert str(raised.value).startswith(str(path))


def test_reader_checks_labels_and_probabilities_against_the_class_names(
    recording_root: Path,
) -> None:
    edit_manifest(recording_root, class_names=CLASSES[:2])
    with pytest.raises(
        RecordingFormatError, match=r"local_probs has shape \(3, 3\), expected \(3, 2\)"
    ):
        ActionRecording.open(recording_root).sequence("video_b.2")


def test_reader_ignores_optional_arrays_the_manifest_does_not_announce(
    recording_root: Path,
) -> None:
    edit_manifest(recording_root, has_relevance=False)
    edit_arrays(recording_root, "video_b.2", relevance=set_item(0, 5.0))
    sequence = ActionRecording.open(recording_root).sequence("video_b.2")
    assert sequence.relevance is None and sequence.relevance_latency_s is None
    assert sequence.similarity is not None


def test_reader_rejects_a_file_that_is_not_npz(recording_root: Path) -> None:
    path = recording_root / "sequences" / "video_b.2.npz"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(RecordingFormatError, match=r"not an \.npz") as raised:
        ActionRecording.open(recording_root).sequence("video_b.2")
    assert raised.value.path == path
