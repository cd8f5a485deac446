"""Knob recordings: what Runespoor's server would get from every frame under every knob
configuration, written by ``evaluate.py experiment=runespoor/eval/record`` and replayed by the
controller's profiling and the simulator.

For every clip of frames and every configuration (scale x JPEG quality) a recording stores,
per frame: the real JPEG size of the downscaled frame, the per-class intersection and union of
the segmentation of the restored frame against the ground truth (so the accumulated IoU of any
subset of frames is exact: sums of intersections over sums of unions), the per-frame mIoU, the
small-region ratio of the *prediction* (what the server's tail-frame detector sees), and the
measured restoration and segmentation latencies. The same for HR (the original frame,
unencoded), and the ground truth's own small-region ratio.

Layout (shared with the other recordings)::

    manifest.json          format, version, classes, knob grid, models, clips
    sequences/<clip>.npz   the arrays below, byte-deterministic

``K`` knobs (in the manifest's order), ``F`` frames of the clip, ``C`` classes:

=====================  ===========  =========  ==========================================
array                  shape        dtype      meaning
=====================  ===========  =========  ==========================================
``frame_bytes``        (K, F)       int64      JPEG bytes of the downscaled frame
``intersection``       (K, F, C)    int64      per-class intersection with ground truth
``union``              (K, F, C)    int64      per-class union with ground truth
``frame_miou``         (K, F)       float64    per-frame mIoU (classes in target or pred.)
``small_ratio``        (K, F)       float64    small-region ratio of the prediction
``restore_latency_s``  (K, F)       float64    SR / interpolation call
``segment_latency_s``  (K, F)       float64    segmentation call on the restored frame
``hr_intersection``    (F, C)       int64      the same for the original frame
``hr_union``           (F, C)       int64
``hr_frame_miou``      (F,)         float64
``hr_small_ratio``     (F,)         float64
``gt_small_ratio``     (F,)         float64    small-region ratio of the ground truth
=====================  ===========  =========  ==========================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgecloud import __version__
from edgecloud.data.degradation import Knobs
from edgecloud.recording.format import (
    MANIFEST_FILE,
    SEQUENCES_DIR,
    RecordingFormatError,
    is_valid_sequence_name,
    sequence_file,
)
from edgecloud.recording.reader import _read_arrays, read_versioned_manifest
from edgecloud.recording.writer import _json_object, _prepare_empty_directory, _write_npz

KNOB_FORMAT_NAME = "edgecloud.knob-recording"
KNOB_FORMAT_VERSION = 1

# Every array of a clip file with its dtype and its shape in (K, F, C) symbols.
KNOB_ARRAYS: dict[str, tuple[np.dtype, str]] = {
    "frame_bytes": (np.dtype(np.int64), "KF"),
    "intersection": (np.dtype(np.int64), "KFC"),
    "union": (np.dtype(np.int64), "KFC"),
    "frame_miou": (np.dtype(np.float64), "KF"),
    "small_ratio": (np.dtype(np.float64), "KF"),
    "restore_latency_s": (np.dtype(np.float64), "KF"),
    "segment_latency_s": (np.dtype(np.float64), "KF"),
    "hr_intersection": (np.dtype(np.int64), "FC"),
    "hr_union": (np.dtype(np.int64), "FC"),
    "hr_frame_miou": (np.dtype(np.float64), "F"),
    "hr_small_ratio": (np.dtype(np.float64), "F"),
    "gt_small_ratio": (np.dtype(np.float64), "F"),
}


def _expected_shape(symbols: str, *, knobs: int, frames: int, classes: int) -> tuple[int, ...]:
    sizes = {"K": knobs, "F": frames, "C": classes}
    return tuple(sizes[symbol] for symbol in symbols)


def _check_clip_arrays(
    path: Path | str, arrays: Mapping[str, np.ndarray], *, knobs: int, classes: int
) -> int:
    """Dtypes, shapes and ranges of one clip's arrays; returns its frame count."""
    frames = int(np.shape(arrays["hr_frame_miou"])[0])
    for key, (dtype, symbols) in KNOB_ARRAYS.items():
        array = arrays[key]
        if array.dtype != dtype:
            raise RecordingFormatError(path, f"{key} has dtype {array.dtype}, expected {dtype}")
        shape = _expected_shape(symbols, knobs=knobs, frames=frames, classes=classes)
        if array.shape != shape:
            raise RecordingFormatError(path, f"{key} has shape {array.shape}, expected {shape}")
    if frames < 1:
        raise RecordingFormatError(path, "a clip needs at least one frame")
    for prefix in ("", "hr_"):
        intersection, union = arrays[f"{prefix}intersection"], arrays[f"{prefix}union"]
        if np.any(intersection < 0) or np.any(intersection > union):
            raise RecordingFormatError(path, f"{prefix}intersection must lie in 0..{prefix}union")
    if np.any(arrays["frame_bytes"] <= 0):
        raise RecordingFormatError(path, "frame_bytes must be positive")
    for key in ("small_ratio", "hr_small_ratio", "gt_small_ratio"):
        if np.any(~np.isfinite(arrays[key])) or np.any((arrays[key] < 0) | (arrays[key] > 1)):
            raise RecordingFormatError(path, f"{key} must lie in [0, 1]")
    return frames


class KnobRecordingWriter:
    """Writes a knob recording into an empty (or new) directory, one clip at a time.

    Args:
        root: the recording directory.
        class_names: the segmentation classes, in train-id order.
        knobs: the configurations, in the order of the arrays' first axis.
        metadata: JSON-serialisable description of the models, device and settings.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        class_names: Sequence[str],
        knobs: Sequence[Knobs],
        metadata: Mapping[str, Any],
    ) -> None:
        if len(set(knobs)) != len(knobs) or not knobs:
            raise ValueError(f"knobs must be non-empty and distinct, got {list(knobs)}")
        self.root = Path(root)
        _prepare_empty_directory(self.root)
        (self.root / SEQUENCES_DIR).mkdir()
        self.class_names = list(class_names)
        self.knobs = list(knobs)
        self.metadata = _json_object(metadata, "knob recording")
        self.clips: list[dict[str, Any]] = []

    def add_clip(self, name: str, *, fps: float, arrays: Mapping[str, np.ndarray]) -> None:
        """Write one clip's arrays (the module docstring's table)."""
        if not is_valid_sequence_name(name) or any(c["name"] == name for c in self.clips):
            raise ValueError(f"clip name {name!r} is invalid or already written")
        missing = [key for key in KNOB_ARRAYS if key not in arrays]
        if missing:
            raise ValueError(f"clip {name}: missing arrays {missing}")
        ordered = {
            key: np.asarray(arrays[key]).astype(dtype, copy=False)
            for key, (dtype, _) in KNOB_ARRAYS.items()
        }
        frames = _check_clip_arrays(
            name, ordered, knobs=len(self.knobs), classes=len(self.class_names)
        )
        _write_npz(self.root / sequence_file(name), ordered)
        self.clips.append({"name": name, "num_frames": frames, "fps": float(fps)})

    def close(self) -> None:
        """Write ``manifest.json`` (last, so a partial recording has none)."""
        manifest = {
            "format": KNOB_FORMAT_NAME,
            "version": KNOB_FORMAT_VERSION,
            "edgecloud_version": __version__,
            "class_names": self.class_names,
            "knobs": [{"scale": k.scale, "quality": k.quality} for k in self.knobs],
            "clips": self.clips,
            "metadata": self.metadata,
        }
        text = json.dumps(_json_object(manifest, "knob recording"), sort_keys=True, indent=2)
        (self.root / MANIFEST_FILE).write_text(text + "\n")


@dataclass(frozen=True)
class KnobClip:
    """One clip of a knob recording: its name, frame rate and arrays."""

    name: str
    fps: float
    arrays: dict[str, np.ndarray]

    @property
    def num_frames(self) -> int:
        return int(self.arrays["hr_frame_miou"].shape[0])


class KnobRecording:
    """A knob recording opened for reading; every clip is validated when loaded."""

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self.manifest = manifest
        self.class_names: tuple[str, ...] = tuple(manifest["class_names"])
        self.knobs: tuple[Knobs, ...] = tuple(
            Knobs(scale=int(k["scale"]), quality=int(k["quality"])) for k in manifest["knobs"]
        )

    @classmethod
    def open(cls, root: str | Path) -> KnobRecording:
        root = Path(root)
        path = root / MANIFEST_FILE
        manifest = read_versioned_manifest(
            path,
            format_name=KNOB_FORMAT_NAME,
            format_version=KNOB_FORMAT_VERSION,
            kind="a knob recording",
        )
        for key in ("class_names", "knobs", "clips"):
            if not isinstance(manifest.get(key), list) or not manifest[key]:
                raise RecordingFormatError(path, f"{key} must be a non-empty list")
        return cls(root, manifest)

    @property
    def clip_names(self) -> tuple[str, ...]:
        return tuple(clip["name"] for clip in self.manifest["clips"])

    def clip(self, name: str) -> KnobClip:
        """Load and validate one clip."""
        entry = next((c for c in self.manifest["clips"] if c["name"] == name), None)
        if entry is None:
            raise KeyError(f"{self.root}: no clip {name!r}")
        path = self.root / sequence_file(name)
        if not path.is_file():
            raise RecordingFormatError(path, "clip file listed in the manifest is missing")
        arrays = _read_arrays(path, list(KNOB_ARRAYS))
        frames = _check_clip_arrays(
            path, arrays, knobs=len(self.knobs), classes=len(self.class_names)
        )
        if frames != entry["num_frames"]:
            raise RecordingFormatError(
                path, f"{frames} frames, the manifest says {entry['num_frames']}"
            )
        return KnobClip(name=name, fps=float(entry["fps"]), arrays=arrays)

    def knob_index(self, knobs: Knobs) -> int:
        try:
            return self.knobs.index(knobs)
        except ValueError:
            raise KeyError(f"{self.root}: {knobs.name} was not recorded") from None
