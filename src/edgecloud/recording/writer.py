"""Write a detection recording: one compressed array file per sequence, then the manifest.

Output is byte-for-byte deterministic for identical inputs (fixed zip timestamps and member
order, sorted JSON keys), so recordings can be compared with a checksum. The manifest is
written last: a directory without ``manifest.json`` is an incomplete recording.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from edgecloud import __version__
from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections
from edgecloud.recording.format import (
    ARRAY_DTYPES,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_FILE,
    SEQUENCES_DIR,
    is_valid_sequence_name,
    sequence_file,
)

# The earliest timestamp a zip entry can hold; used for every member so bytes do not depend
# on the time of writing.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


class DetectionRecordingWriter:
    """Collects sequences into a new recording directory ``root``.

    ``model`` is free-form JSON metadata (name, config, checkpoint path, ...), ``device`` names
    the hardware the latencies were measured on, and ``jpeg_quality`` is the quality at which
    ``encoded_bytes`` were measured. Use as a context manager: the manifest is written on a
    clean exit and deliberately not when an exception escapes, leaving no complete-looking
    recording behind.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        class_names: Sequence[str],
        model: Mapping[str, Any],
        device: str,
        jpeg_quality: int,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        if not class_names or not all(isinstance(n, str) and n for n in class_names):
            raise ValueError(f"class_names must be non-empty strings, got {class_names!r}")
        if not 0 <= jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must lie in 0..100, got {jpeg_quality}")
        self.root = Path(root)
        self._class_names = list(class_names)
        self._header = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "class_names": self._class_names,
            "model": _json_object(model, "model"),
            "device": str(device),
            "jpeg_quality": int(jpeg_quality),
            "created_by": f"edgecloud {__version__}",
            "extra": _json_object(extra or {}, "extra"),
        }
        self._sequences: list[dict[str, Any]] = []
        self._closed = False
        _prepare_empty_directory(self.root)
        (self.root / SEQUENCES_DIR).mkdir()

    def add_sequence(
        self,
        name: str,
        *,
        fps: float,
        height: int,
        width: int,
        detections: Sequence[FrameDetections],
        ground_truth: Sequence[FrameAnnotations],
        latency_s: Sequence[float],
        encoded_bytes: Sequence[int],
    ) -> None:
        """Validate one sequence's per-frame data and write ``sequences/<name>.npz`` now.

        Boxes and scores are stored as float32, labels and ids as int64, latencies (seconds)
        as float64 and encoded sizes (bytes) as int64.
        """
        if self._closed:
            raise RuntimeError(f"recording {self.root} is already closed")
        self._check_sequence(name, fps, height, width)
        arrays = _sequence_arrays(
            name, self._class_names, detections, ground_truth, latency_s, encoded_bytes
        )
        _write_npz(self.root / sequence_file(name), arrays)
        self._sequences.append(
            {
                "name": name,
                "file": sequence_file(name),
                "num_frames": len(arrays["latency_s"]),
                "fps": float(fps),
                "height": int(height),
                "width": int(width),
            }
        )

    def close(self) -> None:
        """Write ``manifest.json``, completing the recording. Closing twice is harmless."""
        if self._closed:
            return
        if not self._sequences:
            raise ValueError(f"recording {self.root} has no sequences")
        manifest = {**self._header, "sequences": self._sequences}
        text = json.dumps(manifest, sort_keys=True, indent=2, separators=(",", ": ")) + "\n"
        temporary = self.root / f"{MANIFEST_FILE}.partial"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.root / MANIFEST_FILE)
        self._closed = True

    def __enter__(self) -> DetectionRecordingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()

    def _check_sequence(self, name: str, fps: float, height: int, width: int) -> None:
        if not is_valid_sequence_name(name):
            raise ValueError(
                f"sequence name {name!r} must be letters, digits, '.', '_' or '-', "
                "not starting with '.' or '-'"
            )
        if any(entry["name"] == name for entry in self._sequences):
            raise ValueError(f"sequence {name!r} was already added")
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"sequence {name!r}: fps must be positive, got {fps}")
        if height <= 0 or width <= 0:
            raise ValueError(
                f"sequence {name!r}: frame size must be positive, got {height}x{width}"
            )


def _json_object(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    """A plain-JSON copy of ``value`` (tuples become lists), or a ValueError saying why not."""
    try:
        return json.loads(json.dumps(dict(value), sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} metadata must be JSON-serializable: {error}") from error


def _prepare_empty_directory(root: Path) -> None:
    """Create ``root``; refuse one that already has content rather than mix two recordings."""
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{root}: recording directory exists and is not empty")
    root.mkdir(parents=True, exist_ok=True)


def _sequence_arrays(
    name: str,
    class_names: Sequence[str],
    detections: Sequence[FrameDetections],
    ground_truth: Sequence[FrameAnnotations],
    latency_s: Sequence[float],
    encoded_bytes: Sequence[int],
) -> dict[str, np.ndarray]:
    """Validate the per-frame inputs and pack them into the format's arrays (CSR layout)."""
    num_frames = len(detections)
    if num_frames == 0:
        raise ValueError(f"sequence {name!r} has no frames")
    if not num_frames == len(ground_truth) == len(latency_s) == len(encoded_bytes):
        raise ValueError(
            f"sequence {name!r}: lengths disagree: {num_frames} detection frames, "
            f"{len(ground_truth)} ground-truth frames, {len(latency_s)} latencies, "
            f"{len(encoded_bytes)} encoded sizes"
        )
    for index, (det, gt) in enumerate(zip(detections, ground_truth, strict=True)):
        where = f"sequence {name!r} frame {index}"
        _check_labels(det.labels, len(class_names), f"{where} detections")
        _check_labels(gt.labels, len(class_names), f"{where} ground truth")
        if not np.all((det.scores >= 0.0) & (det.scores <= 1.0)):
            raise ValueError(f"{where}: detection scores must lie in [0, 1]")
    latency = np.asarray(latency_s, dtype=np.float64)
    if not np.all(np.isfinite(latency) & (latency >= 0)):
        raise ValueError(f"sequence {name!r}: latencies must be finite and non-negative")
    sizes = np.asarray(encoded_bytes)
    if not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 0):
        raise ValueError(f"sequence {name!r}: encoded sizes must be non-negative integers")
    arrays = {
        "det_offsets": _offsets([len(d.labels) for d in detections]),
        "det_boxes": np.concatenate([d.boxes for d in detections]),
        "det_labels": np.concatenate([d.labels for d in detections]),
        "det_scores": np.concatenate([d.scores for d in detections]),
        "latency_s": latency,
        "encoded_bytes": sizes,
        "gt_offsets": _offsets([len(g.labels) for g in ground_truth]),
        "gt_boxes": np.concatenate([g.boxes for g in ground_truth]),
        "gt_labels": np.concatenate([g.labels for g in ground_truth]),
        "gt_track_ids": np.concatenate([g.track_ids for g in ground_truth]),
        "ignore_offsets": _offsets([len(g.ignore_boxes) for g in ground_truth]),
        "ignore_boxes": np.concatenate([g.ignore_boxes for g in ground_truth]),
    }
    return {key: arrays[key].astype(dtype, copy=False) for key, dtype in ARRAY_DTYPES.items()}


def _check_labels(labels: np.ndarray, num_classes: int, where: str) -> None:
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{where}: labels must be integers, got {labels.dtype}")
    if labels.size and (labels.min() < 1 or labels.max() > num_classes):
        raise ValueError(
            f"{where}: labels must lie in 1..{num_classes}, got {labels.min()}..{labels.max()}"
        )


def _offsets(lengths: Sequence[int]) -> np.ndarray:
    """CSR offsets: frame ``i`` owns rows ``offsets[i]:offsets[i + 1]``."""
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed`` (same layout, readable by ``np.load``) but byte-deterministic:
    fixed member timestamps and permissions, members in ``arrays`` order."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(info, buffer.getvalue())
