"""Action recordings: what a temporal action recognition run did on every window of a set of
videos, written by ``evaluate.py ... record=true`` and replayed by the simulator (Clownfish).

For every window (``window_size`` consecutive frames, a new one every ``window_stride`` frames)
a recording stores the local (edge) and remote (cloud) models' class probabilities, the local
model's feature vector, SimiNet's similarity to the previous window, an optional relevance
score (the filtering baseline) and the measured latency of every model call; for every frame
its ground-truth class and its PNG-encoded size (what uploading it costs). The simulator can
then replay any filter, fusion and network setting without torch or a GPU.

:class:`ActionRecordingWriter` writes a recording, :class:`ActionRecording` reads and validates
one; both share the on-disk layout of detection recordings (``manifest.json`` plus one
deterministic ``sequences/<name>.npz`` per video) and its error type
:class:`~edgecloud.recording.format.RecordingFormatError`. Nothing here imports torch; the torch
side that runs the models is :mod:`edgecloud.recording.action_recorder`. The format is
documented in ``docs/recording_format.md``.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any

import numpy as np

from edgecloud import __version__
from edgecloud.recording.format import (
    MANIFEST_FILE,
    SEQUENCES_DIR,
    RecordingFormatError,
    is_valid_sequence_name,
    sequence_file,
)
from edgecloud.recording.reader import _is_int, _read_arrays, read_versioned_manifest
from edgecloud.recording.writer import _json_object, _prepare_empty_directory, _write_npz

__all__ = [
    "ACTION_ARRAY_DTYPES",
    "ACTION_FORMAT_NAME",
    "ACTION_FORMAT_VERSION",
    "FEATURE_KINDS",
    "FRAME_ENCODINGS",
    "ActionRecording",
    "ActionRecordingWriter",
    "ActionSequenceRecording",
    "RecordingFormatError",
    "expected_window_starts",
]

ACTION_FORMAT_NAME = "edgecloud.action-recording"
ACTION_FORMAT_VERSION = 1

# Every array of a sequence file, in the order the writer stores them, with its exact dtype.
ACTION_ARRAY_DTYPES: dict[str, np.dtype] = {
    "window_starts": np.dtype(np.int64),
    "frame_labels": np.dtype(np.int64),
    "window_labels": np.dtype(np.int64),
    "local_probs": np.dtype(np.float32),
    "remote_probs": np.dtype(np.float32),
    "local_features": np.dtype(np.float32),
    "similarity": np.dtype(np.float32),
    "relevance": np.dtype(np.float32),
    "local_latency_s": np.dtype(np.float64),
    "remote_latency_s": np.dtype(np.float64),
    "siminet_latency_s": np.dtype(np.float64),
    "relevance_latency_s": np.dtype(np.float64),
    "frame_bytes": np.dtype(np.int64),
}

# Arrays present only when the recording has a SimiNet (``has_similarity``) or a relevance
# model (``has_relevance``); a recording has them for every sequence or for none.
SIMILARITY_ARRAYS = ("similarity", "siminet_latency_s")
RELEVANCE_ARRAYS = ("relevance", "relevance_latency_s")

FEATURE_KINDS = ("penultimate", "logits")
"""What ``local_features`` holds: the local model's pooled penultimate features (the paper's
SimiNet input) or its logits (what the authors' code feeds SimiNet)."""

FRAME_ENCODINGS = ("png",)
"""Encodings ``frame_bytes`` can be measured in; the paper uploads PNG frames."""

PROBABILITY_SUM_TOLERANCE = 1e-3
"""How far a probability row's sum may be from 1 (float32 softmax is far closer)."""


def expected_window_starts(num_frames: int, *, window_size: int, window_stride: int) -> np.ndarray:
    """``(W,)`` int64 first frame of every window lying fully inside ``num_frames`` frames:
    ``0, stride, 2 * stride, ...`` (the rule of :func:`edgecloud.data.action_windows.window_starts`,
    restated here so that the format does not depend on the data package)."""
    if num_frames < window_size:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, num_frames - window_size + 1, window_stride, dtype=np.int64)


class _Problem(Exception):
    """An inconsistency found by :func:`_check_sequence_arrays`; the writer reports it as a
    ``ValueError`` naming the sequence, the reader as a ``RecordingFormatError`` naming the file."""


@dataclass(frozen=True)
class _Layout:
    """What every sequence of one recording agrees on, against which its arrays are checked."""

    num_classes: int
    window_size: int
    window_stride: int
    feature_dim: int | None  # None: not yet fixed (the writer's first sequence fixes it)
    has_similarity: bool
    has_relevance: bool

    def array_names(self) -> list[str]:
        """The arrays a sequence file holds under this layout, in storage order."""
        absent = set()
        if not self.has_similarity:
            absent.update(SIMILARITY_ARRAYS)
        if not self.has_relevance:
            absent.update(RELEVANCE_ARRAYS)
        return [key for key in ACTION_ARRAY_DTYPES if key not in absent]


def _check_sequence_arrays(
    arrays: Mapping[str, np.ndarray], *, num_frames: int, layout: _Layout
) -> None:
    """Shapes and values of one sequence's arrays (dtypes already exact); raises ``_Problem``."""
    keys = layout.array_names()
    starts = expected_window_starts(
        num_frames, window_size=layout.window_size, window_stride=layout.window_stride
    )
    num_windows = len(starts)
    if num_windows == 0:
        raise _Problem(
            f"{num_frames} frames hold no window of {layout.window_size} frames; "
            "a sequence needs at least one window"
        )
    num_classes = layout.num_classes
    feature_dim = layout.feature_dim
    if feature_dim is None:  # the writer's first sequence: any positive width
        features = arrays["local_features"]
        if features.ndim != 2 or features.shape[1] < 1:
            raise _Problem(
                f"local_features has shape {features.shape}, expected ({num_windows}, F) "
                "with F >= 1"
            )
        feature_dim = features.shape[1]
    shapes = {key: (num_windows,) for key in keys}
    shapes.update(
        frame_labels=(num_frames,),
        frame_bytes=(num_frames,),
        local_probs=(num_windows, num_classes),
        remote_probs=(num_windows, num_classes),
        local_features=(num_windows, feature_dim),
    )
    for key in keys:
        if arrays[key].shape != shapes[key]:
            raise _Problem(
                f"{key} has shape {arrays[key].shape}, expected {shapes[key]} "
                f"({num_frames} frames, {num_windows} windows, {num_classes} classes, "
                f"feature_dim {feature_dim})"
            )
    if not np.array_equal(arrays["window_starts"], starts):
        raise _Problem(
            f"window_starts must be 0, {layout.window_stride}, ... "
            f"(window_size {layout.window_size}, window_stride {layout.window_stride}, "
            f"{num_frames} frames)"
        )
    for key in ("frame_labels", "window_labels"):
        labels = arrays[key]
        if labels.min() < 0 or labels.max() > num_classes:
            raise _Problem(
                f"{key} has class ids {labels.min()}..{labels.max()}, expected 0..{num_classes} "
                f"(0 = background, {num_classes} class names)"
            )
    for key in ("local_probs", "remote_probs"):
        probs = arrays[key]
        if not np.all((probs >= 0.0) & (probs <= 1.0)):
            raise _Problem(f"{key} must lie in [0, 1]")
        sums = probs.sum(axis=1, dtype=np.float64)
        worst = int(np.argmax(np.abs(sums - 1.0)))
        if abs(sums[worst] - 1.0) > PROBABILITY_SUM_TOLERANCE:
            raise _Problem(
                f"{key} rows must sum to 1 (within {PROBABILITY_SUM_TOLERANCE}); "
                f"window {worst} sums to {sums[worst]:.6f}"
            )
    if not np.all(np.isfinite(arrays["local_features"])):
        raise _Problem("local_features must be finite")
    for key in ("similarity", "relevance"):
        if key in keys:
            scores = arrays[key]
            if not np.all((scores >= 0.0) & (scores <= 1.0)):
                raise _Problem(f"{key} must lie in [0, 1]")
    if layout.has_similarity and arrays["similarity"][0] != 0.0:
        raise _Problem("similarity of window 0 must be 0 (it has no previous window)")
    for key in keys:
        if key.endswith("_latency_s"):
            latency = arrays[key]
            if not np.all(np.isfinite(latency) & (latency >= 0)):
                raise _Problem(f"{key} must be finite and non-negative")
    if layout.has_similarity and arrays["siminet_latency_s"][0] != 0.0:
        raise _Problem("siminet_latency_s of window 0 must be 0 (SimiNet does not run on it)")
    if np.any(arrays["frame_bytes"] < 0):
        raise _Problem("frame_bytes must be non-negative")


class ActionRecordingWriter:
    """Collects videos into a new action recording directory ``root``.

    ``class_names`` are the action classes (class id ``k`` is ``class_names[k - 1]``, 0 is the
    background; probability column ``k - 1`` belongs to class ``k``). ``window_size`` and
    ``window_stride`` describe the windows, ``models`` is free-form JSON describing the local,
    remote, SimiNet and relevance models and their checkpoints, ``device`` names the hardware
    the latencies were measured on, ``frame_size`` is the ``(width, height)`` the frames were
    resized to before ``frame_encoding`` (PNG) measured ``frame_bytes``, and ``feature_kind``
    says what ``local_features`` holds (see :data:`FEATURE_KINDS`).

    Use as a context manager: the manifest is written on a clean exit and deliberately not when
    an exception escapes, leaving no complete-looking recording behind. Output is
    byte-for-byte deterministic for identical inputs.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        class_names: Sequence[str],
        window_size: int,
        window_stride: int,
        models: Mapping[str, Any],
        device: str,
        frame_size: Sequence[int],
        frame_encoding: str = "png",
        feature_kind: str = "penultimate",
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        if not class_names or not all(isinstance(n, str) and n for n in class_names):
            raise ValueError(f"class_names must be non-empty strings, got {class_names!r}")
        for key, value in (("window_size", window_size), ("window_stride", window_stride)):
            if not _is_int(value) or value < 1:
                raise ValueError(f"{key} must be a positive integer, got {value!r}")
        size = tuple(frame_size)
        if len(size) != 2 or not all(_is_int(v) and v > 0 for v in size):
            raise ValueError(f"frame_size must be (width, height) positive integers, got {size}")
        if frame_encoding not in FRAME_ENCODINGS:
            raise ValueError(
                f"frame_encoding must be one of {FRAME_ENCODINGS}, got {frame_encoding!r}"
            )
        if feature_kind not in FEATURE_KINDS:
            raise ValueError(f"feature_kind must be one of {FEATURE_KINDS}, got {feature_kind!r}")
        self.root = Path(root)
        self._class_names = tuple(class_names)
        self._window_size = int(window_size)
        self._window_stride = int(window_stride)
        self._frame_size = (int(size[0]), int(size[1]))
        self._frame_encoding = frame_encoding
        self._feature_kind = feature_kind
        self._header = {
            "format": ACTION_FORMAT_NAME,
            "version": ACTION_FORMAT_VERSION,
            "class_names": list(self._class_names),
            "window_size": self._window_size,
            "window_stride": self._window_stride,
            "models": _json_object(models, "models"),
            "device": str(device),
            "frame_encoding": frame_encoding,
            "frame_size": list(self._frame_size),
            "feature_kind": feature_kind,
            "created_by": f"edgecloud {__version__}",
            "extra": _json_object(extra or {}, "extra"),
        }
        self._layout: _Layout | None = None  # fixed by the first sequence
        self._sequences: list[dict[str, Any]] = []
        self._closed = False
        _prepare_empty_directory(self.root)
        (self.root / SEQUENCES_DIR).mkdir()

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    @property
    def window_size(self) -> int:
        return self._window_size

    @property
    def window_stride(self) -> int:
        return self._window_stride

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(width, height)`` the frames are resized to before encoding."""
        return self._frame_size

    @property
    def frame_encoding(self) -> str:
        return self._frame_encoding

    @property
    def feature_kind(self) -> str:
        return self._feature_kind

    def add_sequence(
        self,
        name: str,
        *,
        fps: float,
        num_frames: int,
        window_starts: Sequence[int] | np.ndarray,
        frame_labels: Sequence[int] | np.ndarray,
        window_labels: Sequence[int] | np.ndarray,
        local_probs: np.ndarray,
        remote_probs: np.ndarray,
        local_features: np.ndarray,
        similarity: Sequence[float] | np.ndarray | None,
        relevance: Sequence[float] | np.ndarray | None,
        local_latency_s: Sequence[float] | np.ndarray,
        remote_latency_s: Sequence[float] | np.ndarray,
        siminet_latency_s: Sequence[float] | np.ndarray | None,
        relevance_latency_s: Sequence[float] | np.ndarray | None,
        frame_bytes: Sequence[int] | np.ndarray,
    ) -> None:
        """Validate one video's per-window and per-frame data and write ``sequences/<name>.npz``.

        Per window ``t``: ``window_starts`` (must be ``0, stride, ...``: every window fully
        inside ``num_frames``), ``window_labels`` (ground truth, 0 = background),
        ``local_probs`` / ``remote_probs`` ``(W, C)`` (rows sum to 1), ``local_features``
        ``(W, F)``, ``similarity`` (SimiNet's rho between windows ``t - 1`` and ``t``, 0 for
        ``t = 0``), ``relevance`` (probability that the window is relevant) and the measured
        latency of each model call in seconds (``siminet_latency_s[0]`` is 0: SimiNet does not
        run on window 0). Per frame: ``frame_labels`` and ``frame_bytes``.

        ``similarity`` and ``siminet_latency_s`` are both given or both ``None`` (no SimiNet),
        likewise ``relevance`` and ``relevance_latency_s``; the first sequence decides for the
        whole recording, as it fixes the feature dimension ``F``. Floats are stored as float32
        (latencies float64), integers as int64.
        """
        if self._closed:
            raise RuntimeError(f"recording {self.root} is already closed")
        self._check_header_fields(name, fps, num_frames)
        where = f"sequence {name!r}"
        has_similarity = _both_or_neither(where, similarity, siminet_latency_s, "similarity")
        has_relevance = _both_or_neither(where, relevance, relevance_latency_s, "relevance")
        given = {
            "window_starts": window_starts,
            "frame_labels": frame_labels,
            "window_labels": window_labels,
            "local_probs": local_probs,
            "remote_probs": remote_probs,
            "local_features": local_features,
            "similarity": similarity,
            "relevance": relevance,
            "local_latency_s": local_latency_s,
            "remote_latency_s": remote_latency_s,
            "siminet_latency_s": siminet_latency_s,
            "relevance_latency_s": relevance_latency_s,
            "frame_bytes": frame_bytes,
        }
        layout = self._layout or _Layout(
            num_classes=len(self._class_names),
            window_size=self._window_size,
            window_stride=self._window_stride,
            feature_dim=None,
            has_similarity=has_similarity,
            has_relevance=has_relevance,
        )
        for key, has, first in (
            ("similarity", has_similarity, layout.has_similarity),
            ("relevance", has_relevance, layout.has_relevance),
        ):
            if has != first:
                raise ValueError(
                    f"{where}: {key} is {'given' if has else 'None'}, but the recording's first "
                    f"sequence {'has' if first else 'has no'} {key}; all sequences must agree"
                )
        arrays = {key: _as_array(where, key, given[key]) for key in layout.array_names()}
        try:
            _check_sequence_arrays(arrays, num_frames=num_frames, layout=layout)
        except _Problem as problem:
            raise ValueError(f"{where}: {problem}") from None
        _write_npz(self.root / sequence_file(name), arrays)
        if self._layout is None:
            self._layout = replace(layout, feature_dim=arrays["local_features"].shape[1])
        self._sequences.append(
            {
                "name": name,
                "file": sequence_file(name),
                "num_frames": int(num_frames),
                "num_windows": len(arrays["window_starts"]),
                "fps": float(fps),
            }
        )

    def close(self) -> None:
        """Write ``manifest.json``, completing the recording. Closing twice is harmless."""
        if self._closed:
            return
        if not self._sequences or self._layout is None:
            raise ValueError(f"recording {self.root} has no sequences")
        manifest = {
            **self._header,
            "feature_dim": self._layout.feature_dim,
            "has_similarity": self._layout.has_similarity,
            "has_relevance": self._layout.has_relevance,
            "sequences": self._sequences,
        }
        text = json.dumps(manifest, sort_keys=True, indent=2, separators=(",", ": ")) + "\n"
        temporary = self.root / f"{MANIFEST_FILE}.partial"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.root / MANIFEST_FILE)
        self._closed = True

    def __enter__(self) -> ActionRecordingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()

    def _check_header_fields(self, name: str, fps: float, num_frames: int) -> None:
        if not is_valid_sequence_name(name):
            raise ValueError(
                f"sequence name {name!r} must be letters, digits, '.', '_' or '-', "
                "not starting with '.' or '-'"
            )
        if any(entry["name"] == name for entry in self._sequences):
            raise ValueError(f"sequence {name!r} was already added")
        if isinstance(fps, bool) or not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"sequence {name!r}: fps must be positive, got {fps}")
        if not isinstance(num_frames, int | np.integer) or isinstance(num_frames, bool):
            raise ValueError(
                f"sequence {name!r}: num_frames must be an integer, got {num_frames!r}"
            )
        if num_frames < 1:
            raise ValueError(f"sequence {name!r}: num_frames must be positive, got {num_frames}")


def _both_or_neither(where: str, scores: Any, latency: Any, what: str) -> bool:
    if (scores is None) != (latency is None):
        raise ValueError(
            f"{where}: give {what} and its latencies together, or neither (got only one)"
        )
    return scores is not None


def _as_array(where: str, key: str, value: Any) -> np.ndarray:
    """``value`` as the format's dtype for ``key``; integers must be given as integers."""
    array = np.asarray(value)
    dtype = ACTION_ARRAY_DTYPES[key]
    allowed = "iu" if dtype.kind == "i" else "fiu"
    if array.dtype.kind not in allowed and array.size:
        kind = "integers" if dtype.kind == "i" else "real numbers"
        raise ValueError(f"{where}: {key} must be {kind}, got dtype {array.dtype}")
    return np.ascontiguousarray(array.astype(dtype, copy=False))


@dataclass(frozen=True, eq=False)
class ActionSequenceRecording:
    """The recorded windows and frames of one video; every array is read-only.

    Window ``t`` covers frames ``window_starts[t] <= f < window_starts[t] + window_size``.
    Probability column ``k`` belongs to class id ``k + 1``. ``similarity`` and
    ``siminet_latency_s`` are ``None`` in a recording without SimiNet, ``relevance`` and
    ``relevance_latency_s`` in one without a relevance model.
    """

    name: str
    fps: float
    window_size: int
    window_stride: int
    window_starts: np.ndarray
    """int64 ``(W,)`` first frame of each window."""
    frame_labels: np.ndarray
    """int64 ``(F,)`` ground-truth class of each frame, 0 = background."""
    window_labels: np.ndarray
    """int64 ``(W,)`` ground-truth class of each window, 0 = background."""
    local_probs: np.ndarray
    """float32 ``(W, C)`` the local (edge) model's softmax."""
    remote_probs: np.ndarray
    """float32 ``(W, C)`` the remote (cloud) model's softmax."""
    local_features: np.ndarray
    """float32 ``(W, feature_dim)`` what the local model gives SimiNet (see ``feature_kind``)."""
    similarity: np.ndarray | None
    """float32 ``(W,)`` SimiNet's rho between windows ``t - 1`` and ``t``; 0 for window 0."""
    relevance: np.ndarray | None
    """float32 ``(W,)`` the relevance model's probability that the window is relevant."""
    local_latency_s: np.ndarray
    """float64 ``(W,)`` measured local model call per window, seconds."""
    remote_latency_s: np.ndarray
    """float64 ``(W,)`` measured remote model call per window, seconds."""
    siminet_latency_s: np.ndarray | None
    """float64 ``(W,)`` measured SimiNet call per window, seconds; 0 for window 0."""
    relevance_latency_s: np.ndarray | None
    """float64 ``(W,)`` measured relevance model call per window, seconds."""
    frame_bytes: np.ndarray
    """int64 ``(F,)`` size of each frame encoded at the recording's frame size and encoding."""

    @property
    def num_frames(self) -> int:
        return len(self.frame_labels)

    @property
    def num_windows(self) -> int:
        return len(self.window_starts)


class ActionRecording:
    """A validated action recording directory. Create with :meth:`open`."""

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self._manifest = manifest
        self._entries = {entry["name"]: entry for entry in manifest["sequences"]}
        self._layout = _Layout(
            num_classes=len(manifest["class_names"]),
            window_size=manifest["window_size"],
            window_stride=manifest["window_stride"],
            feature_dim=manifest["feature_dim"],
            has_similarity=manifest["has_similarity"],
            has_relevance=manifest["has_relevance"],
        )

    @classmethod
    def open(cls, root: str | Path) -> ActionRecording:
        """Read and check ``root/manifest.json`` and that every sequence file exists.

        Sequence arrays are loaded (and checked) by :meth:`sequence`.
        """
        root = Path(root)
        manifest = _read_manifest(root / MANIFEST_FILE)
        for entry in manifest["sequences"]:
            if not (root / entry["file"]).is_file():
                raise RecordingFormatError(
                    root / entry["file"], f"sequence file of {entry['name']!r} is missing"
                )
        return cls(root, manifest)

    @property
    def manifest(self) -> dict[str, Any]:
        """A copy of the parsed manifest, including the free-form ``models`` and ``extra``."""
        return copy.deepcopy(self._manifest)

    @property
    def class_names(self) -> tuple[str, ...]:
        """Action class names; class id ``k`` is ``class_names[k - 1]``, 0 is the background."""
        return tuple(self._manifest["class_names"])

    @property
    def window_size(self) -> int:
        return self._layout.window_size

    @property
    def window_stride(self) -> int:
        return self._layout.window_stride

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(width, height)`` the frames were resized to before ``frame_bytes`` were measured."""
        width, height = self._manifest["frame_size"]
        return width, height

    @property
    def feature_kind(self) -> str:
        return self._manifest["feature_kind"]

    @property
    def feature_dim(self) -> int:
        return self._manifest["feature_dim"]

    @property
    def has_similarity(self) -> bool:
        return self._layout.has_similarity

    @property
    def has_relevance(self) -> bool:
        return self._layout.has_relevance

    @property
    def sequence_names(self) -> tuple[str, ...]:
        """Sequence names in recording order."""
        return tuple(self._entries)

    def sequence(self, name: str) -> ActionSequenceRecording:
        """Load and validate one sequence's arrays (dtypes, shapes against the manifest, values)."""
        if name not in self._entries:
            raise KeyError(f"no sequence {name!r} in {self.root}; have {list(self._entries)}")
        entry = self._entries[name]
        path = self.root / entry["file"]
        keys = self._layout.array_names()
        arrays = _read_arrays(path, keys)
        for key in keys:
            if arrays[key].dtype != ACTION_ARRAY_DTYPES[key]:
                raise RecordingFormatError(
                    path,
                    f"{key} has dtype {arrays[key].dtype}, expected {ACTION_ARRAY_DTYPES[key]}",
                )
        try:
            _check_sequence_arrays(arrays, num_frames=entry["num_frames"], layout=self._layout)
        except _Problem as problem:
            raise RecordingFormatError(path, str(problem)) from None
        for array in arrays.values():
            array.flags.writeable = False
        return ActionSequenceRecording(
            name=name,
            fps=entry["fps"],
            window_size=self.window_size,
            window_stride=self.window_stride,
            **{key: arrays.get(key) for key in ACTION_ARRAY_DTYPES},
        )


def _read_manifest(path: Path) -> dict[str, Any]:
    """Parse the manifest and check its format, version and every field."""
    manifest = read_versioned_manifest(
        path,
        format_name=ACTION_FORMAT_NAME,
        format_version=ACTION_FORMAT_VERSION,
        kind="an action recording",
    )
    _check_manifest_fields(path, manifest)
    return manifest


def _check_manifest_fields(path: Path, manifest: dict[str, Any]) -> None:
    names = manifest.get("class_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise RecordingFormatError(
            path, "class_names must be a non-empty list of non-empty strings"
        )
    for key, kind in (("models", dict), ("extra", dict), ("device", str), ("created_by", str)):
        if not isinstance(manifest.get(key), kind):
            raise RecordingFormatError(path, f"{key} must be a JSON {kind.__name__}")
    for key in ("window_size", "window_stride", "feature_dim"):
        if not _is_int(manifest.get(key)) or manifest[key] < 1:
            raise RecordingFormatError(
                path, f"{key} must be a positive integer, got {manifest.get(key)!r}"
            )
    for key in ("has_similarity", "has_relevance"):
        if not isinstance(manifest.get(key), bool):
            raise RecordingFormatError(path, f"{key} must be true or false")
    for key, allowed in (("frame_encoding", FRAME_ENCODINGS), ("feature_kind", FEATURE_KINDS)):
        if manifest.get(key) not in allowed:
            raise RecordingFormatError(
                path, f"{key} must be one of {list(allowed)}, got {manifest.get(key)!r}"
            )
    size = manifest.get("frame_size")
    if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) and v > 0 for v in size)):
        raise RecordingFormatError(
            path, f"frame_size must be [width, height] positive integers, got {size!r}"
        )
    sequences = manifest.get("sequences")
    if not isinstance(sequences, list) or not sequences:
        raise RecordingFormatError(path, "sequences must be a non-empty list")
    seen: set[str] = set()
    for position, entry in enumerate(sequences):
        _check_sequence_entry(path, position, entry, manifest)
        if entry["name"] in seen:
            raise RecordingFormatError(path, f"sequence {entry['name']!r} is listed twice")
        seen.add(entry["name"])


def _check_sequence_entry(path: Path, position: int, entry: Any, manifest: dict[str, Any]) -> None:
    where = f"sequences[{position}]"
    if not isinstance(entry, dict) or not is_valid_sequence_name(entry.get("name")):
        raise RecordingFormatError(path, f"{where} needs a valid 'name'")
    file = entry.get("file")
    parts = PurePosixPath(file).parts if isinstance(file, str) else ("..",)
    if not parts or PurePosixPath(file).is_absolute() or ".." in parts:
        raise RecordingFormatError(
            path, f"{where}: 'file' must be a relative path inside the recording"
        )
    for key in ("num_frames", "num_windows"):
        if not _is_int(entry.get(key)) or entry[key] <= 0:
            raise RecordingFormatError(path, f"{where}: {key!r} must be a positive integer")
    expected = len(
        expected_window_starts(
            entry["num_frames"],
            window_size=manifest["window_size"],
            window_stride=manifest["window_stride"],
        )
    )
    if entry["num_windows"] != expected:
        raise RecordingFormatError(
            path,
            f"{where}: 'num_windows' is {entry['num_windows']}, but {entry['num_frames']} frames "
            f"hold {expected} windows of size {manifest['window_size']} at stride "
            f"{manifest['window_stride']}",
        )
    fps = entry.get("fps")
    if (
        not isinstance(fps, int | float)
        or isinstance(fps, bool)
        or not (math.isfinite(fps) and fps > 0)
    ):
        raise RecordingFormatError(path, f"{where}: 'fps' must be a positive number")
