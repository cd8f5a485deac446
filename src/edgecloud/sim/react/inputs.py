"""What a REACT replay reads: the edge and cloud recordings of the same videos, thresholded once,
plus (only when a pixel tracker or the change detector needs them) the real frames."""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecloud.data.frames import ImageFolderFrames
from edgecloud.recording.format import RecordingFormatError
from edgecloud.recording.reader import DetectionRecording, SequenceRecording


@dataclass(frozen=True)
class ThresholdedDetections:
    """One model's detections of every frame of a sequence with ``score >= threshold``, in CSR
    form so a frame's detections are three slices (no per-frame objects are built)."""

    offsets: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray

    @functools.cached_property
    def answer_bytes(self) -> np.ndarray:
        """Per frame, the size of the JSON answer a model server sends for these detections
        (see :func:`json_answer_bytes`), so downlink traffic grows with what was detected.
        The values are the recording's float32 ones, so converting back is exact."""
        return json_answer_bytes(
            offsets=self.offsets,
            boxes=self.boxes.astype(np.float32),
            labels=self.labels,
            scores=self.scores.astype(np.float32),
        )

    @classmethod
    def from_recording(
        cls, sequence: SequenceRecording, *, threshold: float
    ) -> ThresholdedDetections:
        arrays = sequence.detection_arrays()
        keep = arrays["det_scores"] >= threshold
        kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
        return cls(
            offsets=kept_before[arrays["det_offsets"]],
            boxes=arrays["det_boxes"][keep].astype(np.float64),
            labels=arrays["det_labels"][keep],
            scores=arrays["det_scores"][keep].astype(np.float64),
        )

    def frame(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(boxes, labels, scores)`` of frame ``index``."""
        start, stop = self.offsets[index], self.offsets[index + 1]
        return self.boxes[start:stop], self.labels[start:stop], self.scores[start:stop]

    def count(self, index: int) -> int:
        return int(self.offsets[index + 1] - self.offsets[index])


def json_answer_bytes(
    *, offsets: np.ndarray, boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray
) -> np.ndarray:
    """Per frame (detections ``offsets[f]:offsets[f + 1]``), the byte length of

        json.dumps({"objects": [{"label": int(label), "box": [round(v, 1) for v in box],
                                 "score": round(score, 3)}, ...]}, separators=(",", ":"))

    computed without building the strings. Boxes and scores must be float32, as recordings
    store them: then ``v * 10`` and ``v * 1000`` are exact in float64, so ``rint`` of them rounds
    half-to-even on the exact value, as Python's ``round`` does, and the length of each number's
    ``repr`` follows from its digits."""
    if boxes.dtype != np.float32 or scores.dtype != np.float32:
        raise TypeError(f"boxes and scores must be float32, got {boxes.dtype} and {scores.dtype}")
    # {"label":L,"box":[a,b,c,d],"score":S} has 31 characters besides L, a..d and S
    object_bytes = (
        31
        + _decimal_repr_lengths(labels.astype(np.float64), decimals=0, is_float=False)
        + _decimal_repr_lengths(boxes, decimals=1).sum(axis=1)
        + _decimal_repr_lengths(scores, decimals=3)
    )
    per_frame = np.add.reduceat(np.append(object_bytes, 0), offsets[:-1]) * (
        offsets[1:] > offsets[:-1]
    )
    counts = np.diff(offsets)
    # {"objects":[...]} has 14 characters, and objects are separated by commas
    return 14 + per_frame + np.maximum(counts - 1, 0)


_POWERS_OF_TEN = 10.0 ** np.arange(1, 16)


def _decimal_repr_lengths(
    values: np.ndarray, *, decimals: int, is_float: bool = True
) -> np.ndarray:
    """``len(repr(round(float(v), decimals)))`` (``len(str(int(v)))`` when not ``is_float``)
    for values whose scaling by ``10**decimals`` is exact in float64."""
    scale = 10.0**decimals
    scaled = np.rint(values.astype(np.float64) * scale)
    magnitude = np.abs(scaled)
    if magnitude.size and magnitude.max() >= 1e15:
        raise ValueError("values of 1e15 or more are written with an exponent")
    integer = np.floor(magnitude / scale)
    lengths = np.signbit(scaled) + 1 + np.searchsorted(_POWERS_OF_TEN, integer, side="right")
    if not is_float:
        return lengths
    # repr drops the fraction's trailing zeros but keeps at least one digit ("12.0", "0.12")
    fraction = magnitude - integer * scale
    fraction_digits = np.full(magnitude.shape, decimals)
    for power in range(1, decimals):
        fraction_digits -= fraction % 10.0**power == 0
    fraction_digits[fraction == 0] = 1
    return lengths + 1 + fraction_digits


class FrameCache:
    """Decoded frames of one sequence, read on demand from ``root/<sequence>/`` image files and
    kept in a small LRU cache (trackers revisit the frames a fast-track buffered)."""

    def __init__(self, *, directory: Path, num_frames: int, capacity: int = 64) -> None:
        paths = sorted(
            p for p in directory.glob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
        )
        if not directory.is_dir():
            raise FileNotFoundError(f"frames directory not found: {directory}")
        if len(paths) != num_frames:
            raise ValueError(
                f"{directory}: {len(paths)} image files, but the recording has {num_frames} "
                "frames; frames_root must hold the frames the recording was made from"
            )
        self.frames = ImageFolderFrames(paths, location=directory)
        self._capacity = capacity
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def read(self, index: int) -> np.ndarray:
        image = self._cache.get(index)
        if image is None:
            image = self.frames.read(index)
            self._cache[index] = image
            if len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(index)
        return image


@dataclass(frozen=True)
class ReplaySequence:
    """Everything a device needs to replay one recorded video."""

    name: str
    fps: float
    height: int
    width: int
    num_frames: int
    edge: ThresholdedDetections
    cloud: ThresholdedDetections
    ground_truth: SequenceRecording
    encoded_bytes: np.ndarray
    frames: FrameCache | None
    motion: np.ndarray | None


def open_recordings(
    *, edge: str | Path, cloud: str | Path
) -> tuple[DetectionRecording, DetectionRecording]:
    """Open both recordings and check they cover the same videos with the same classes."""
    edge_recording = DetectionRecording.open(edge)
    cloud_recording = DetectionRecording.open(cloud)
    if edge_recording.class_names != cloud_recording.class_names:
        raise RecordingFormatError(
            cloud_recording.root / "manifest.json",
            f"class_names differ from the edge recording's ({edge_recording.root}): "
            f"{list(cloud_recording.class_names)} vs {list(edge_recording.class_names)}",
        )
    missing = sorted(set(edge_recording.sequence_names) - set(cloud_recording.sequence_names))
    if missing:
        raise RecordingFormatError(
            cloud_recording.root / "manifest.json",
            f"sequences {missing} of the edge recording are not in the cloud recording",
        )
    return edge_recording, cloud_recording


def check_same_videos(
    edge: DetectionRecording, cloud: DetectionRecording, *, sequences: list[str]
) -> None:
    """Refuse, before any replay, recordings whose ``sequences`` differ in frame count, frame rate
    or size (the manifests hold these, so nothing is loaded)."""
    edge_entries = {entry["name"]: entry for entry in edge.manifest["sequences"]}
    cloud_entries = {entry["name"]: entry for entry in cloud.manifest["sequences"]}
    for name in sequences:
        for key in ("num_frames", "fps", "height", "width"):
            if edge_entries[name][key] != cloud_entries[name][key]:
                raise RecordingFormatError(
                    cloud.root / "manifest.json",
                    f"sequence {name!r}: {key} is {cloud_entries[name][key]} in the cloud "
                    f"recording but {edge_entries[name][key]} in the edge recording",
                )
