"""Tiny recordings with hand-checkable content for REACT scenario tests.

One object of class 1 moves right by ``speed`` px per frame. The edge model finds it with the
wrong class (2); the cloud model finds it with the right class. Latencies and JPEG sizes are
constants chosen per test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections
from edgecloud.recording.detection import DetectionRecordingWriter

CLASSES = ["car", "van"]


def object_box(frame: int, *, speed: float = 2.0) -> list[float]:
    x = 10.0 + speed * frame
    return [x, 10.0, x + 20.0, 30.0]


def write_recording(
    root: Path,
    *,
    role: str,
    num_frames: int,
    fps: float,
    latency_s: float,
    encoded_bytes: int = 3000,
    sequences: tuple[str, ...] = ("toy",),
    random_seed: int | None = None,
) -> Path:
    """A recording whose detections are the moving object (edge: label 2, score 0.9; cloud:
    label 1, score 0.95), or, with ``random_seed``, random boxes everywhere."""
    rng = np.random.default_rng(random_seed)
    with DetectionRecordingWriter(
        root, class_names=CLASSES, model={"name": role}, device="test", jpeg_quality=90
    ) as writer:
        for name in sequences:
            detections, ground_truth = [], []
            for frame in range(num_frames):
                gt_box = np.array([object_box(frame)], dtype=np.float32)
                ground_truth.append(
                    FrameAnnotations(
                        boxes=gt_box,
                        labels=np.array([1]),
                        track_ids=np.array([7]),
                    )
                )
                if random_seed is not None:
                    n = int(rng.integers(0, 6))
                    corner = rng.uniform(0, 80, (n, 2))
                    size = rng.uniform(5, 30, (n, 2))
                    detections.append(
                        FrameDetections(
                            boxes=np.hstack([corner, corner + size]).astype(np.float32),
                            labels=rng.integers(1, 3, n),
                            scores=rng.uniform(0, 1, n).astype(np.float32),
                        )
                    )
                else:
                    label, score = (2, 0.9) if role == "edge" else (1, 0.95)
                    detections.append(
                        FrameDetections(
                            boxes=gt_box,
                            labels=np.array([label]),
                            scores=np.array([score], dtype=np.float32),
                        )
                    )
            writer.add_sequence(
                name,
                fps=fps,
                height=96,
                width=160,
                detections=detections,
                ground_truth=ground_truth,
                latency_s=[latency_s] * num_frames,
                encoded_bytes=[encoded_bytes] * num_frames,
            )
    return root


def write_pair(
    tmp_path: Path, *, num_frames: int, fps: float, edge_latency_s: float, cloud_latency_s: float
) -> tuple[Path, Path]:
    """The edge and cloud recordings of the toy world under ``tmp_path/edge`` and ``/cloud``."""
    edge = write_recording(
        tmp_path / "edge", role="edge", num_frames=num_frames, fps=fps, latency_s=edge_latency_s
    )
    cloud = write_recording(
        tmp_path / "cloud", role="cloud", num_frames=num_frames, fps=fps, latency_s=cloud_latency_s
    )
    return edge, cloud
