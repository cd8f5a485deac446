"""Detection recordings: exact round trip, deterministic bytes, validation, torch-free reader."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgecloud import __version__
from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections
from edgecloud.recording.detection import (
    FORMAT_NAME,
    FORMAT_VERSION,
    DetectionRecording,
    DetectionRecordingWriter,
    RecordingFormatError,
)

CLASSES = ["car", "person"]
MODEL = {"name": "fasterrcnn_mobilenet", "config": {"min_size": 512}, "checkpoint": "ckpt/edge.pt"}


def random_frame(rng: np.random.Generator, *, empty: bool = False) -> tuple:
    """Detections and ground truth of one frame; ``empty`` gives zero of each."""
    n_det, n_gt, n_ignore = (0, 0, 0) if empty else rng.integers(1, 6, 3)
    det = FrameDetections(
        boxes=rng.uniform(0, 300, (n_det, 4)).astype(np.float32),
        labels=rng.integers(1, 3, n_det),
        scores=rng.uniform(0, 1, n_det).astype(np.float32),
    )
    gt = FrameAnnotations(
        boxes=rng.uniform(0, 300, (n_gt, 4)).astype(np.float32),
        labels=rng.integers(1, 3, n_gt),
        track_ids=rng.integers(0, 1000, n_gt),
        ignore_boxes=rng.uniform(0, 300, (n_ignore, 4)).astype(np.float32),
    )
    return det, gt


def make_sequence(seed: int, num_frames: int) -> dict:
    """``add_sequence`` keyword arguments; frames 1 and 3 are empty (no detections, no GT)."""
    rng = np.random.default_rng(seed)
    frames = [random_frame(rng, empty=i in (1, 3)) for i in range(num_frames)]
    return {
        "fps": 30.0,
        "height": 540,
        "width": 960,
        "detections": [frame[0] for frame in frames],
        "ground_truth": [frame[1] for frame in frames],
        "latency_s": rng.uniform(0.01, 0.2, num_frames).tolist(),
        "encoded_bytes": rng.integers(20_000, 90_000, num_frames).tolist(),
    }


SEQUENCES = {"uav0000086_00000_v": make_sequence(1, 6), "seq-b.2": make_sequence(2, 4)}


def write_recording(root: Path, sequences: dict = SEQUENCES) -> Path:
    with DetectionRecordingWriter(
        root,
        class_names=CLASSES,
        model=MODEL,
        device="NVIDIA Jetson Orin Nano",
        jpeg_quality=90,
        extra={"threshold": None, "split": "val"},
    ) as writer:
        for name, sequence in sequences.items():
            writer.add_sequence(name, **sequence)
    return root


@pytest.fixture
def recording_root(tmp_path: Path) -> Path:
    return write_recording(tmp_path / "recording")


def assert_same_array(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected)


# --- round trip ---------------------------------------------------------------------------------


def test_round_trip_is_exact(recording_root: Path) -> None:
    recording = DetectionRecording.open(recording_root)
    assert recording.class_names == tuple(CLASSES)
    assert recording.sequence_names == tuple(SEQUENCES)
    for name, written in SEQUENCES.items():
        sequence = recording.sequence(name)
        assert (sequence.num_frames, len(sequence)) == (len(written["detections"]),) * 2
        assert (sequence.fps, sequence.height, sequence.width) == (30.0, 540, 960)
        assert_same_array(sequence.latency_s, np.array(written["latency_s"], dtype=np.float64))
        assert_same_array(
            sequence.encoded_bytes, np.array(written["encoded_bytes"], dtype=np.int64)
        )
        for i, (det, gt) in enumerate(
            zip(written["detections"], written["ground_truth"], strict=True)
        ):
            read_det, read_gt = sequence.detections(i), sequence.ground_truth(i)
            for field in ("boxes", "labels", "scores"):
                assert_same_array(getattr(read_det, field), getattr(det, field))
            for field in ("boxes", "labels", "track_ids", "ignore_boxes"):
                assert_same_array(getattr(read_gt, field), getattr(gt, field))
    empty = recording.sequence("seq-b.2")
    assert len(empty.detections(1)) == 0 and len(empty.ground_truth(3).labels) == 0
    assert empty.ground_truth(1).ignore_boxes.shape == (0, 4)


def test_a_sequence_read_without_ground_truth_skips_its_arrays(recording_root: Path) -> None:
    recording = DetectionRecording.open(recording_root)
    # a corrupt annotation array does not matter when annotations are not read
    edit_arrays(recording_root, "seq-b.2", gt_labels=None, ignore_offsets=np.zeros(2, np.int64))
    sequence = recording.sequence("seq-b.2", ground_truth=False)
    written = SEQUENCES["seq-b.2"]
    for i, det in enumerate(written["detections"]):
        assert_same_array(sequence.detections(i).boxes, det.boxes)
    assert_same_array(sequence.encoded_bytes, np.array(written["encoded_bytes"], np.int64))
    with pytest.raises(ValueError, match="read with ground_truth=False"):
        sequence.ground_truth(0)
    with pytest.raises(RecordingFormatError, match=r"missing arrays \['gt_labels'\]"):
        recording.sequence("seq-b.2")


def test_manifest_contents(recording_root: Path) -> None:
    manifest = DetectionRecording.open(recording_root).manifest
    assert manifest == {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "class_names": CLASSES,
        "model": MODEL,
        "device": "NVIDIA Jetson Orin Nano",
        "jpeg_quality": 90,
        "created_by": f"edgecloud {__version__}",
        "extra": {"threshold": None, "split": "val"},
        "sequences": [
            {"name": "uav0000086_00000_v", "file": "sequences/uav0000086_00000_v.npz",
             "num_frames": 6, "fps": 30.0, "height": 540, "width": 960},
            {"name": "seq-b.2", "file": "sequences/seq-b.2.npz",
             "num_frames": 4, "fps": 30.0, "height": 540, "width": 960},
        ],
    }  # fmt: skip


def test_sequence_files_are_plain_npz(recording_root: Path) -> None:
    with np.load(recording_root / "sequences" / "seq-b.2.npz", allow_pickle=False) as archive:
        assert archive["det_offsets"].shape == (5,)
        assert archive["det_offsets"][-1] == len(archive["det_labels"])


def test_read_arrays_are_read_only(recording_root: Path) -> None:
    sequence = DetectionRecording.open(recording_root).sequence("seq-b.2")
    with pytest.raises(ValueError, match="read-only"):
        sequence.detections(0).boxes[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        sequence.latency_s[0] = 1.0


def test_frame_index_and_sequence_name_are_checked(recording_root: Path) -> None:
    recording = DetectionRecording.open(recording_root)
    sequence = recording.sequence("seq-b.2")
    with pytest.raises(IndexError, match="out of range"):
        sequence.detections(4)
    with pytest.raises(IndexError, match="out of range"):
        sequence.ground_truth(-1)
    with pytest.raises(KeyError, match="no sequence 'nope'"):
        recording.sequence("nope")


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
        "import sys; from edgecloud.recording.detection import DetectionRecording; "
        f"DetectionRecording.open({str(recording_root)!r}).sequence('seq-b.2').detections(0); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- writer validation --------------------------------------------------------------------------


def writer(root: Path, **overrides) -> DetectionRecordingWriter:
    options = {"class_names": CLASSES, "model": MODEL, "device": "cpu", "jpeg_quality": 90}
    return DetectionRecordingWriter(root, **{**options, **overrides})


def bad_labels() -> dict:
    sequence = make_sequence(3, 2)
    sequence["detections"] = [
        FrameDetections(
            boxes=np.zeros((1, 4), np.float32), labels=np.array([3]), scores=np.ones(1, np.float32)
        )
    ] * 2
    return sequence


def bad_scores() -> dict:
    sequence = make_sequence(3, 2)
    sequence["detections"] = [
        FrameDetections(
            boxes=np.zeros((1, 4), np.float32),
            labels=np.array([1]),
            scores=np.full(1, 1.5, np.float32),
        )
    ] * 2
    return sequence


@pytest.mark.parametrize(
    ("name", "sequence", "message"),
    [
        ("a", {**make_sequence(3, 2), "latency_s": [0.1]}, "lengths disagree"),
        ("a", {**make_sequence(3, 2), "encoded_bytes": [1, 2, 3]}, "lengths disagree"),
        ("a", {**make_sequence(3, 2), "latency_s": [0.1, -0.1]}, "latencies"),
        ("a", {**make_sequence(3, 2), "encoded_bytes": [1.5, 2.0]}, "encoded sizes"),
        ("a", {**make_sequence(3, 2), "fps": 0.0}, "fps"),
        ("a", {**make_sequence(3, 2), "height": 0}, "frame size"),
        ("a", make_sequence(3, 0), "no frames"),
        ("a", bad_labels(), r"labels must lie in 1\.\.2"),
        ("a", bad_scores(), r"scores must lie in \[0, 1\]"),
        ("../escape", make_sequence(3, 2), "sequence name"),
        (".hidden", make_sequence(3, 2), "sequence name"),
    ],
)
def test_writer_rejects_invalid_sequences(
    tmp_path: Path, name: str, sequence: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        writer(tmp_path / "rec").add_sequence(name, **sequence)


def test_writer_rejects_duplicate_sequence(tmp_path: Path) -> None:
    rec = writer(tmp_path / "rec")
    rec.add_sequence("a", **make_sequence(3, 2))
    with pytest.raises(ValueError, match="already added"):
        rec.add_sequence("a", **make_sequence(3, 2))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"class_names": []}, "class_names"),
        ({"jpeg_quality": 101}, "jpeg_quality"),
        ({"model": {"weights": np.zeros(2)}}, "model metadata must be JSON-serializable"),
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
        rec.add_sequence("a", **make_sequence(3, 2))
        raise RuntimeError("boom")
    assert (tmp_path / "rec" / "sequences" / "a.npz").is_file()
    assert not (tmp_path / "rec" / "manifest.json").exists()
    with pytest.raises(RecordingFormatError, match=r"manifest\.json is missing"):
        DetectionRecording.open(tmp_path / "rec")


def test_close_needs_sequences_and_ends_writing(tmp_path: Path) -> None:
    rec = writer(tmp_path / "rec")
    with pytest.raises(ValueError, match="no sequences"):
        rec.close()
    rec.add_sequence("a", **make_sequence(3, 2))
    rec.close()
    rec.close()
    with pytest.raises(RuntimeError, match="closed"):
        rec.add_sequence("b", **make_sequence(3, 2))


# --- reader validation --------------------------------------------------------------------------


def edit_manifest(root: Path, **changes) -> None:
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def edit_arrays(root: Path, name: str, **changes: np.ndarray | None) -> Path:
    """Rewrite a sequence file with ``np.savez_compressed``; ``None`` drops an array."""
    path = root / "sequences" / f"{name}.npz"
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays.update(changes)
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "something-else"}, "format is 'something-else'"),
        (
            {"version": 2},
            r"recording version 2 is newer than this edgecloud supports \(1\); upgrade",
        ),
        ({"version": "1"}, "version must be a positive integer"),
        ({"class_names": []}, "class_names"),
        ({"jpeg_quality": 120}, "jpeg_quality"),
        ({"model": "resnet"}, "model must be a JSON dict"),
        ({"sequences": []}, "sequences must be a non-empty list"),
    ],
)
def test_reader_rejects_bad_manifests(recording_root: Path, changes: dict, message: str) -> None:
    edit_manifest(recording_root, **changes)
    with pytest.raises(RecordingFormatError, match=message) as raised:
        DetectionRecording.open(recording_root)
    assert raised.value.path == recording_root / "manifest.json"


def sequence_entry(**changes) -> dict:
    entry = {
        "name": "a",
        "file": "sequences/a.npz",
        "num_frames": 2,
        "fps": 30.0,
        "height": 1,
        "width": 1,
    }
    return {**entry, **changes}


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([sequence_entry(file="../elsewhere.npz")], "relative path inside the recording"),
        ([sequence_entry(file="/tmp/a.npz")], "relative path inside the recording"),
        ([sequence_entry(num_frames=0)], "'num_frames' must be a positive integer"),
        ([sequence_entry(fps=-1)], "'fps' must be a positive number"),
        ([sequence_entry(name="../a")], r"sequences\[0\] needs a valid 'name'"),
        ([sequence_entry(), sequence_entry()], "listed twice"),
    ],
)
def test_reader_rejects_bad_sequence_entries(
    recording_root: Path, entries: list, message: str
) -> None:
    edit_manifest(recording_root, sequences=entries)
    with pytest.raises(RecordingFormatError, match=message):
        DetectionRecording.open(recording_root)


def test_reader_rejects_invalid_json(recording_root: Path) -> None:
    (recording_root / "manifest.json").write_text("{not json")
    with pytest.raises(RecordingFormatError, match="not valid JSON"):
        DetectionRecording.open(recording_root)


def test_reader_rejects_a_missing_sequence_file(recording_root: Path) -> None:
    missing = recording_root / "sequences" / "seq-b.2.npz"
    missing.unlink()
    with pytest.raises(
        RecordingFormatError, match=r"sequence file of 'seq-b\.2' is missing"
    ) as raised:
        DetectionRecording.open(recording_root)
    assert raised.value.path == missing


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"det_offsets": np.array([0, 1, 2, 3, 4], np.int64)},
            r"det_boxes has shape .* det_offsets ends at 4",
        ),
        (
            {"gt_offsets": np.array([0, 3, 2, 3, 4], np.int64)},
            "gt_offsets must start at 0 and never decrease",
        ),
        (
            {"ignore_offsets": np.zeros(4, np.int64)},
            r"ignore_offsets has shape \(4,\), expected \(5,\)",
        ),
        (
            {"latency_s": np.zeros(3)},
            r"latency_s has shape \(3,\), expected \(4,\) per the manifest",
        ),
        ({"det_scores": None}, r"missing arrays \['det_scores'\]"),
        ({"gt_labels": np.array([1, 2], np.int32)}, "gt_labels has dtype int32, expected int64"),
        (
            {"encoded_bytes": np.array([1, 2, -3, 4], np.int64)},
            "encoded_bytes must be non-negative",
        ),
        ({"latency_s": np.array([0.1, np.nan, 0.1, 0.1])}, "latency_s must be finite"),
        ({"det_boxes": np.array(["x"], dtype=object)}, "cannot read sequence arrays"),
    ],
)
def test_reader_rejects_inconsistent_arrays(
    recording_root: Path, changes: dict, message: str
) -> None:
    recording = DetectionRecording.open(recording_root)
    path = edit_arrays(recording_root, "seq-b.2", **changes)
    with pytest.raises(RecordingFormatError, match=message) as raised:
        recording.sequence("seq-b.2")
    assert raised.value.path == path


def test_reader_rejects_unknown_label_ids(recording_root: Path) -> None:
    edit_manifest(recording_root, class_names=["car"])
    recording = DetectionRecording.open(recording_root)
    with pytest.raises(
        RecordingFormatError, match=r"label ids 1\.\.2, but the manifest names 1 classes"
    ):
        recording.sequence("seq-b.2")


def test_reader_rejects_a_file_that_is_not_npz(recording_root: Path) -> None:
    path = recording_root / "sequences" / "seq-b.2.npz"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(RecordingFormatError, match=r"not an \.npz"):
        DetectionRecording.open(recording_root).sequence("seq-b.2")


def test_latency_alone_matches_the_full_sequence(tmp_path):
    root = tmp_path / "rec"
    with DetectionRecordingWriter(
        root, class_names=CLASSES, model=MODEL, device="cpu", jpeg_quality=90
    ) as writer:
        writer.add_sequence("a", **make_sequence(0, 5))
    recording = DetectionRecording.open(root)
    np.testing.assert_array_equal(recording.latency_s("a"), recording.sequence("a").latency_s)
    with pytest.raises(KeyError, match="no sequence 'b'"):
        recording.latency_s("b")
