"""How long a model takes to run a batch: latency samples per batch size, drawn per call.

A :class:`ComputeProfile` holds, for each batch size it knows, a set of latencies in seconds.
In ``sample`` mode every call draws one of them uniformly (measured jitter is replayed); in
``mean`` mode every call returns their mean (a deterministic server, e.g. a table read off a
paper's figure). Profiles come from a detection recording (per-frame latency at batch 1), a
benchmark file (any batch sizes), a constant, or a table written in a config; each constructor
is a classmethod so Hydra can use it as ``_target_``.

Benchmark file format (:meth:`ComputeProfile.from_benchmark`), JSON::

    {"profiles": [
        {"model": "faster_rcnn_r50", "device": "V100", "batch_size": 1,
         "latency_s": [0.091, 0.093, 0.090]},
        {"model": "faster_rcnn_r50", "device": "V100", "batch_size": 4,
         "latency_s": [0.228, 0.231]}
    ]}

Each entry gives the measured latencies (seconds, one per timed call, the whole batch) of one
model on one device at one batch size; a (model, device, batch size) may appear only once.
Entries of other models and devices may share the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from edgecloud.recording.reader import DetectionRecording

Mode = Literal["sample", "mean"]
MODES: tuple[str, ...] = ("sample", "mean")


class ComputeProfile:
    """Latency in seconds of one model on one device, per batch size.

    ``samples`` maps each batch size (>= 1) to a non-empty sequence of finite, non-negative
    latencies of a whole batch of that size. ``mode`` is ``"sample"`` (each call draws one
    sample uniformly with the caller's generator) or ``"mean"`` (each call returns the mean).
    """

    def __init__(
        self, *, name: str, samples: Mapping[int, Sequence[float]], mode: Mode = "sample"
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"compute profile name must be a non-empty string, got {name!r}")
        if mode not in MODES:
            raise ValueError(f"compute profile {name!r}: mode must be one of {MODES}, got {mode!r}")
        if not isinstance(samples, Mapping) or not samples:
            raise ValueError(
                f"compute profile {name!r}: samples must be a non-empty mapping from batch size "
                f"to latencies, got {samples!r}"
            )
        self.name = name
        self.mode: Mode = mode
        self._samples: dict[int, np.ndarray] = {}
        for batch_size, latencies in samples.items():
            if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
                raise ValueError(
                    f"compute profile {name!r}: batch sizes must be integers >= 1, "
                    f"got {batch_size!r}"
                )
            self._samples[batch_size] = _latency_array(
                f"compute profile {name!r}, batch size {batch_size}", latencies
            )
        self._samples = dict(sorted(self._samples.items()))
        self._means = {size: float(values.mean()) for size, values in self._samples.items()}

    @classmethod
    def from_recording(
        cls, *, recording: str | Path, name: str | None = None, mode: Mode = "sample"
    ) -> ComputeProfile:
        """Batch size 1 only: every frame's measured ``latency_s`` over all sequences of a
        detection recording. The default name is the recorded model's and device's."""
        opened = DetectionRecording.open(recording)
        latencies = np.concatenate(
            [opened.latency_s(sequence) for sequence in opened.sequence_names]
        )
        if name is None:
            manifest = opened.manifest
            model = manifest["model"].get("name")
            model = model if isinstance(model, str) and model else opened.root.name
            name = f"{model} on {manifest['device']} (recorded)"
        return cls(name=name, samples={1: latencies}, mode=mode)

    @classmethod
    def from_benchmark(
        cls, *, file: str | Path, model: str, device: str, mode: Mode = "sample"
    ) -> ComputeProfile:
        """The entries of ``model`` on ``device`` in a benchmark JSON file (format in the module
        docstring), one batch size per entry."""
        path = Path(file)
        if not path.is_file():
            raise FileNotFoundError(f"benchmark file {path} does not exist")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"benchmark file {path} is not valid JSON: {error}") from error
        entries = document.get("profiles") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ValueError(f"benchmark file {path} needs a top-level 'profiles' list")
        samples: dict[int, np.ndarray] = {}
        available: set[tuple[str, str]] = set()
        for position, entry in enumerate(entries):
            entry_model, entry_device, batch_size, latencies = _benchmark_entry(
                path, position, entry
            )
            available.add((entry_model, entry_device))
            if (entry_model, entry_device) != (model, device):
                continue
            if batch_size in samples:
                raise ValueError(
                    f"benchmark file {path}: profiles[{position}] repeats batch size "
                    f"{batch_size} of model {model!r} on device {device!r}"
                )
            samples[batch_size] = latencies
        if not samples:
            raise ValueError(
                f"benchmark file {path} has no entries for model {model!r} on device "
                f"{device!r}; it has (model, device) {sorted(available)}"
            )
        return cls(name=f"{model} on {device}", samples=samples, mode=mode)

    @classmethod
    def constant(cls, *, name: str, latency_s: float, max_batch_size: int = 1) -> ComputeProfile:
        """The same latency for every batch size 1..``max_batch_size``, with no randomness: zero
        for offline upper bounds, or a fixed service time for queueing checks."""
        if (
            not isinstance(max_batch_size, int)
            or isinstance(max_batch_size, bool)
            or max_batch_size < 1
        ):
            raise ValueError(
                f"compute profile {name!r}: max_batch_size must be an integer >= 1, "
                f"got {max_batch_size!r}"
            )
        samples = {size: [latency_s] for size in range(1, max_batch_size + 1)}
        return cls(name=name, samples=samples, mode="mean")

    @property
    def batch_sizes(self) -> tuple[int, ...]:
        """The batch sizes with samples, ascending."""
        return tuple(self._samples)

    def mean_latency(self, batch_size: int) -> float:
        """Mean latency of a batch of ``batch_size`` in seconds."""
        return self._means[self._known(batch_size)]

    def latency(self, *, batch_size: int, rng: np.random.Generator) -> float:
        """Latency of one batch of ``batch_size``: a uniform draw among its samples with
        ``rng`` (mode ``sample``) or their mean (mode ``mean``, ``rng`` untouched)."""
        if self.mode == "mean":
            mean = self._means.get(batch_size)  # the simulator asks this for every frame
            return mean if mean is not None else self._means[self._known(batch_size)]
        values = self._samples[self._known(batch_size)]
        return float(values[rng.integers(len(values))])

    def require_batch_sizes(self, max_batch_size: int) -> None:
        """Fail now, naming them, if any batch size 1..``max_batch_size`` has no samples (a
        server that may form such batches could not run)."""
        if not isinstance(max_batch_size, int) or max_batch_size < 1:
            raise ValueError(f"max_batch_size must be an integer >= 1, got {max_batch_size!r}")
        missing = [size for size in range(1, max_batch_size + 1) if size not in self._samples]
        if missing:
            raise ValueError(
                f"compute profile '{self.name}' has no latency samples for batch size(s) "
                f"{missing}; it has {list(self._samples)}"
            )

    def _known(self, batch_size: int) -> int:
        if batch_size not in self._samples:
            raise ValueError(
                f"compute profile '{self.name}' has no latency samples for batch size "
                f"{batch_size}; it has {list(self._samples)}"
            )
        return batch_size

    def __repr__(self) -> str:
        means = ", ".join(f"{size}: {mean:.6g}" for size, mean in self._means.items())
        return f"ComputeProfile(name={self.name!r}, mode={self.mode!r}, mean_latency_s={{{means}}})"


def _latency_array(where: str, latencies: Any) -> np.ndarray:
    """``latencies`` as a read-only float64 array, checked non-empty, finite and >= 0; errors
    start with ``where``."""
    if isinstance(latencies, np.ndarray) and latencies.ndim == 1 and latencies.dtype.kind in "iuf":
        values = latencies.astype(np.float64)
    elif isinstance(latencies, Sequence) and not isinstance(latencies, str | bytes):
        if not all(_is_number(value) for value in latencies):
            raise ValueError(f"{where}: latencies must be numbers, got {list(latencies)!r}")
        values = np.array([float(value) for value in latencies], dtype=np.float64)
    else:
        raise ValueError(f"{where}: latencies must be a sequence of seconds, got {latencies!r}")
    if values.size == 0:
        raise ValueError(f"{where}: no latency samples")
    if not np.all(np.isfinite(values) & (values >= 0)):
        raise ValueError(f"{where}: latencies must be finite and >= 0, got {values.tolist()}")
    values.flags.writeable = False
    return values


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _benchmark_entry(path: Path, position: int, entry: Any) -> tuple[str, str, int, np.ndarray]:
    """One ``profiles`` entry's model, device, batch size and latencies, checked."""
    where = f"benchmark file {path}: profiles[{position}]"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object, got {entry!r}")
    missing = [key for key in ("model", "device", "batch_size", "latency_s") if key not in entry]
    if missing:
        raise ValueError(f"{where} is missing {missing}")
    model, device, batch_size, latencies = (
        entry["model"],
        entry["device"],
        entry["batch_size"],
        entry["latency_s"],
    )
    if not isinstance(model, str) or not isinstance(device, str):
        raise ValueError(f"{where}: 'model' and 'device' must be strings")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"{where}: 'batch_size' must be an integer >= 1, got {batch_size!r}")
    if not isinstance(latencies, list):
        raise ValueError(f"{where}: 'latency_s' must be a list of seconds, got {latencies!r}")
    return model, device, batch_size, _latency_array(f"{where} latency_s", latencies)
