"""What a REACT replay reads: the edge and cloud recordings of the same videos, thresholded once,
plus (only when a pixel tracker or the change detector needs them) the real frames."""

from __future__ import annotations

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
