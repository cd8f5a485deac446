"""Read and validate a detection recording without torch (the simulator's input).

Everything is checked when read, and every error names the file at fault: a recording that
opens is internally consistent, so the simulator can index it without further checks.
"""

from __future__ import annotations

import copy
import json
import math
import operator
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections
from edgecloud.recording.format import (
    ARRAY_DTYPES,
    FORMAT_NAME,
    FORMAT_VERSION,
    GROUND_TRUTH_ARRAYS,
    MANIFEST_FILE,
    PER_FRAME_ARRAYS,
    RAGGED_GROUPS,
    RecordingFormatError,
    is_valid_sequence_name,
)


class SequenceRecording:
    """The recorded frames of one sequence; arrays are read-only, frames are views into them."""

    def __init__(
        self,
        *,
        name: str,
        fps: float,
        height: int,
        width: int,
        arrays: Mapping[str, np.ndarray],
    ) -> None:
        self.name = name
        self.fps = fps
        self.height = height
        self.width = width
        self._arrays = dict(arrays)
        for array in self._arrays.values():
            array.flags.writeable = False

    @property
    def num_frames(self) -> int:
        return len(self._arrays["latency_s"])

    def __len__(self) -> int:
        return self.num_frames

    @property
    def latency_s(self) -> np.ndarray:
        """Measured inference latency of each frame in seconds, float64 ``(F,)``."""
        return self._arrays["latency_s"]

    @property
    def encoded_bytes(self) -> np.ndarray:
        """Size of each frame encoded at the recording's JPEG quality, int64 ``(F,)``."""
        return self._arrays["encoded_bytes"]

    def detections(self, index: int) -> FrameDetections:
        """Every detection the model produced on frame ``index``, before any score threshold."""
        rows = self._rows("det_offsets", index)
        return FrameDetections(
            boxes=self._arrays["det_boxes"][rows],
            labels=self._arrays["det_labels"][rows],
            scores=self._arrays["det_scores"][rows],
        )

    def detection_arrays(self) -> dict[str, np.ndarray]:
        """Every frame's detections at once, read-only, in the file's CSR layout (frame ``i`` owns
        rows ``det_offsets[i]:det_offsets[i + 1]`` of ``det_boxes``, ``det_labels`` and
        ``det_scores``), for consumers that filter whole sequences with numpy."""
        return {
            key: self._arrays[key] for key in RAGGED_GROUPS["det_offsets"] | {"det_offsets": ()}
        }

    def ground_truth(self, index: int) -> FrameAnnotations:
        """Ground truth of frame ``index``, including its ignore regions."""
        if "gt_offsets" not in self._arrays:
            raise ValueError(
                f"sequence {self.name!r} was read with ground_truth=False; read it again "
                "with DetectionRecording.sequence(name) to get its ground truth"
            )
        rows = self._rows("gt_offsets", index)
        ignore = self._rows("ignore_offsets", index)
        return FrameAnnotations(
            boxes=self._arrays["gt_boxes"][rows],
            labels=self._arrays["gt_labels"][rows],
            track_ids=self._arrays["gt_track_ids"][rows],
            ignore_boxes=self._arrays["ignore_boxes"][ignore],
        )

    def _rows(self, offsets_key: str, index: int) -> slice:
        index = operator.index(index)
        if not 0 <= index < self.num_frames:
            raise IndexError(
                f"frame {index} out of range for {self.num_frames} frames of {self.name!r}"
            )
        offsets = self._arrays[offsets_key]
        return slice(int(offsets[index]), int(offsets[index + 1]))


class DetectionRecording:
    """A validated recording directory. Create with :meth:`open`."""

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self._manifest = manifest
        self._entries = {entry["name"]: entry for entry in manifest["sequences"]}

    @classmethod
    def open(cls, root: str | Path) -> DetectionRecording:
        """Read and check ``root/manifest.json`` and that every sequence file exists.

        Sequence arrays are loaded (and checked) by :meth:`sequence`.
        """
        root = Path(root)
        manifest_path = root / MANIFEST_FILE
        manifest = _read_manifest(manifest_path)
        for entry in manifest["sequences"]:
            if not (root / entry["file"]).is_file():
                raise RecordingFormatError(
                    root / entry["file"], f"sequence file of {entry['name']!r} is missing"
                )
        return cls(root, manifest)

    @property
    def manifest(self) -> dict[str, Any]:
        """A copy of the parsed manifest, including the free-form ``model`` and ``extra``."""
        return copy.deepcopy(self._manifest)

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names; label ``k`` is ``class_names[k - 1]``."""
        return tuple(self._manifest["class_names"])

    @property
    def sequence_names(self) -> tuple[str, ...]:
        """Sequence names in recording order."""
        return tuple(self._entries)

    def latency_s(self, name: str) -> np.ndarray:
        """One sequence's measured per-frame latency, read without decompressing its other
        arrays (compute profiles need only this)."""
        entry = self._entry(name)
        path = self.root / entry["file"]
        if not zipfile.is_zipfile(path):
            raise RecordingFormatError(path, "sequence file is not an .npz (zip) archive")
        try:
            with np.load(path, allow_pickle=False) as archive:
                latency = archive["latency_s"]
        except KeyError as error:
            raise RecordingFormatError(path, "missing arrays ['latency_s']") from error
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise RecordingFormatError(path, f"cannot read sequence arrays: {error}") from error
        if latency.dtype != ARRAY_DTYPES["latency_s"] or latency.shape != (entry["num_frames"],):
            raise RecordingFormatError(
                path,
                f"latency_s has dtype {latency.dtype} and shape {latency.shape}, expected "
                f"float64 ({entry['num_frames']},) per the manifest",
            )
        if not np.all(np.isfinite(latency) & (latency >= 0)):
            raise RecordingFormatError(path, "latency_s must be finite and non-negative")
        latency.flags.writeable = False
        return latency

    def _entry(self, name: str) -> dict[str, Any]:
        if name not in self._entries:
            raise KeyError(f"no sequence {name!r} in {self.root}; have {list(self._entries)}")
        return self._entries[name]

    def sequence(self, name: str, *, ground_truth: bool = True) -> SequenceRecording:
        """Load and validate one sequence's arrays; without ``ground_truth`` its annotation
        arrays are neither read nor checked (faster when another recording is scored)."""
        entry = self._entry(name)
        path = self.root / entry["file"]
        keys = [key for key in ARRAY_DTYPES if ground_truth or key not in GROUND_TRUTH_ARRAYS]
        arrays = _read_arrays(path, keys)
        _check_arrays(path, arrays, entry["num_frames"], len(self._manifest["class_names"]))
        return SequenceRecording(
            name=name,
            fps=entry["fps"],
            height=entry["height"],
            width=entry["width"],
            arrays=arrays,
        )


def _read_manifest(path: Path) -> dict[str, Any]:
    """Parse the manifest and check its format, version and fields."""
    manifest = read_versioned_manifest(
        path, format_name=FORMAT_NAME, format_version=FORMAT_VERSION, kind="a detection recording"
    )
    _check_manifest_fields(path, manifest)
    return manifest


def read_versioned_manifest(
    path: Path, *, format_name: str, format_version: int, kind: str
) -> dict[str, Any]:
    """Parse a recording's ``manifest.json`` and check that it names ``format_name`` at a
    version this edgecloud reads (shared by every recording format; ``kind`` names the format
    in the error when the file is missing)."""
    if not path.is_file():
        raise RecordingFormatError(path, f"not {kind} (manifest.json is missing)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecordingFormatError(path, f"manifest is not valid JSON: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != format_name:
        found = manifest.get("format") if isinstance(manifest, dict) else manifest
        raise RecordingFormatError(path, f"format is {found!r}, expected {format_name!r}")
    version = manifest.get("version")
    if not _is_int(version) or version < 1:
        raise RecordingFormatError(path, f"version must be a positive integer, got {version!r}")
    if version > format_version:
        raise RecordingFormatError(
            path,
            f"recording version {version} is newer than this edgecloud supports "
            f"({format_version}); upgrade edgecloud",
        )
    return manifest


def _check_manifest_fields(path: Path, manifest: dict[str, Any]) -> None:
    names = manifest.get("class_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise RecordingFormatError(path, "class_names must be a non-empty list of strings")
    for key, kind in (("model", dict), ("extra", dict), ("device", str), ("created_by", str)):
        if not isinstance(manifest.get(key), kind):
            raise RecordingFormatError(path, f"{key} must be a JSON {kind.__name__}")
    quality = manifest.get("jpeg_quality")
    if not _is_int(quality) or not 0 <= quality <= 100:
        raise RecordingFormatError(
            path, f"jpeg_quality must be an integer in 0..100, got {quality!r}"
        )
    sequences = manifest.get("sequences")
    if not isinstance(sequences, list) or not sequences:
        raise RecordingFormatError(path, "sequences must be a non-empty list")
    seen: set[str] = set()
    for position, entry in enumerate(sequences):
        _check_sequence_entry(path, position, entry)
        if entry["name"] in seen:
            raise RecordingFormatError(path, f"sequence {entry['name']!r} is listed twice")
        seen.add(entry["name"])


def _check_sequence_entry(path: Path, position: int, entry: Any) -> None:
    where = f"sequences[{position}]"
    if not isinstance(entry, dict) or not is_valid_sequence_name(entry.get("name")):
        raise RecordingFormatError(path, f"{where} needs a valid 'name'")
    file = entry.get("file")
    parts = PurePosixPath(file).parts if isinstance(file, str) else ("..",)
    if not parts or PurePosixPath(file).is_absolute() or ".." in parts:
        raise RecordingFormatError(
            path, f"{where}: 'file' must be a relative path inside the recording"
        )
    for key in ("num_frames", "height", "width"):
        if not _is_int(entry.get(key)) or entry[key] <= 0:
            raise RecordingFormatError(path, f"{where}: {key!r} must be a positive integer")
    fps = entry.get("fps")
    if (
        not isinstance(fps, int | float)
        or isinstance(fps, bool)
        or not (math.isfinite(fps) and fps > 0)
    ):
        raise RecordingFormatError(path, f"{where}: 'fps' must be a positive number")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_arrays(path: Path, keys: list[str]) -> dict[str, np.ndarray]:
    """Load the format's arrays named in ``keys`` (unknown extra members are ignored), refusing
    pickles."""
    if not zipfile.is_zipfile(path):
        raise RecordingFormatError(path, "sequence file is not an .npz (zip) archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in keys if key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise RecordingFormatError(path, f"cannot read sequence arrays: {error}") from error
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise RecordingFormatError(path, f"missing arrays {missing}")
    return arrays


def _check_arrays(
    path: Path, arrays: dict[str, np.ndarray], num_frames: int, num_classes: int
) -> None:
    """Dtypes, shapes, CSR offsets and value ranges of the arrays read, against the manifest's
    frame count."""
    for key, dtype in ARRAY_DTYPES.items():
        if key in arrays and arrays[key].dtype != dtype:
            raise RecordingFormatError(
                path, f"{key} has dtype {arrays[key].dtype}, expected {dtype}"
            )
    for key in PER_FRAME_ARRAYS:
        if arrays[key].shape != (num_frames,):
            raise RecordingFormatError(
                path,
                f"{key} has shape {arrays[key].shape}, expected ({num_frames},) per the manifest",
            )
    for offsets_key, members in RAGGED_GROUPS.items():
        if offsets_key in arrays:
            _check_offsets(path, arrays, offsets_key, members, num_frames)
    for key in ("det_labels", "gt_labels"):
        labels = arrays.get(key, np.zeros(0, dtype=np.int64))
        if labels.size and (labels.min() < 1 or labels.max() > num_classes):
            raise RecordingFormatError(
                path,
                f"{key} has label ids {labels.min()}..{labels.max()}, "
                f"but the manifest names {num_classes} classes (ids 1..{num_classes})",
            )
    scores = arrays["det_scores"]
    if not np.all((scores >= 0.0) & (scores <= 1.0)):
        raise RecordingFormatError(path, "det_scores must lie in [0, 1]")
    if not np.all(np.isfinite(arrays["latency_s"]) & (arrays["latency_s"] >= 0)):
        raise RecordingFormatError(path, "latency_s must be finite and non-negative")
    if np.any(arrays["encoded_bytes"] < 0):
        raise RecordingFormatError(path, "encoded_bytes must be non-negative")


def _check_offsets(
    path: Path,
    arrays: dict[str, np.ndarray],
    offsets_key: str,
    members: Mapping[str, tuple[int, ...]],
    num_frames: int,
) -> None:
    offsets = arrays[offsets_key]
    if offsets.shape != (num_frames + 1,):
        raise RecordingFormatError(
            path, f"{offsets_key} has shape {offsets.shape}, expected ({num_frames + 1},)"
        )
    if offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        raise RecordingFormatError(path, f"{offsets_key} must start at 0 and never decrease")
    rows = int(offsets[-1])
    for key, trailing in members.items():
        if arrays[key].shape != (rows, *trailing):
            raise RecordingFormatError(
                path,
                f"{key} has shape {arrays[key].shape}, but {offsets_key} ends at {rows} "
                f"(expected {(rows, *trailing)})",
            )
