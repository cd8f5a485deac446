"""Constants and the error type of the detection recording format, shared by writer and reader.

The format itself is documented in ``docs/recording_format.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

FORMAT_NAME = "edgecloud.detection-recording"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
SEQUENCES_DIR = "sequences"

# Every array of a sequence file, in the order the writer stores them, with its exact dtype.
ARRAY_DTYPES: dict[str, np.dtype] = {
    "det_offsets": np.dtype(np.int64),
    "det_boxes": np.dtype(np.float32),
    "det_labels": np.dtype(np.int64),
    "det_scores": np.dtype(np.float32),
    "latency_s": np.dtype(np.float64),
    "encoded_bytes": np.dtype(np.int64),
    "gt_offsets": np.dtype(np.int64),
    "gt_boxes": np.dtype(np.float32),
    "gt_labels": np.dtype(np.int64),
    "gt_track_ids": np.dtype(np.int64),
    "ignore_offsets": np.dtype(np.int64),
    "ignore_boxes": np.dtype(np.float32),
}

# Ragged per-frame data in CSR layout: frame i owns rows offsets[i]:offsets[i + 1] of each
# member array. Members map to their shape after the row axis.
RAGGED_GROUPS: dict[str, dict[str, tuple[int, ...]]] = {
    "det_offsets": {"det_boxes": (4,), "det_labels": (), "det_scores": ()},
    "gt_offsets": {"gt_boxes": (4,), "gt_labels": (), "gt_track_ids": ()},
    "ignore_offsets": {"ignore_boxes": (4,)},
}

# One value per frame.
PER_FRAME_ARRAYS = ("latency_s", "encoded_bytes")

# The arrays only ground truth needs (a replay that scores against another recording skips them).
GROUND_TRUTH_ARRAYS = frozenset(
    {"gt_offsets", "gt_boxes", "gt_labels", "gt_track_ids", "ignore_offsets", "ignore_boxes"}
)

_SEQUENCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class RecordingFormatError(ValueError):
    """A recording file is missing, corrupt, of an unsupported version or inconsistent.

    The message starts with the offending file so a user knows which one to look at.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def is_valid_sequence_name(name: object) -> bool:
    """Whether ``name`` can be used as a file name on every platform: letters, digits, ``._-``,
    not starting with a dot or dash."""
    return isinstance(name, str) and _SEQUENCE_NAME.fullmatch(name) is not None


def sequence_file(name: str) -> str:
    """Path of a sequence's arrays relative to the recording root, as stored in the manifest."""
    return f"{SEQUENCES_DIR}/{name}.npz"
