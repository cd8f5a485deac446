"""Pieces every format reader needs: class-name checks and a per-frame annotation builder.

The readers differ in how they parse files but agree on what they produce: labels ``1..C`` in
the order of ``class_names`` (0 is the detectors' background) and one
:class:`~edgecloud.data.annotations.FrameAnnotations` per frame. Keeping those rules here means
a fix to either reaches every format at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from edgecloud.data.annotations import FrameAnnotations

INTEGER = re.compile(r"-?[0-9]+")
"""A whole decimal number as annotation files write it; match with ``fullmatch``."""

Box = tuple[float, float, float, float]
"""An ``(x1, y1, x2, y2)`` box in pixels."""


def label_numbers(class_names: Sequence[str]) -> dict[str, int]:
    """Each class name's label: its 1-based position in ``class_names``.

    Raises ``ValueError`` on a repeated name, which would leave two labels for one class.
    """
    if len(set(class_names)) != len(class_names):
        raise ValueError(f"class_names has duplicates: {list(class_names)}")
    return {name: i + 1 for i, name in enumerate(class_names)}


def class_label_map(
    class_names: Sequence[str],
    *,
    known_names: Sequence[str],
    dataset: str,
    refusals: Mapping[str, str] | None = None,
) -> dict[str, int]:
    """Check a config's ``class_names`` against a dataset's own names and label them ``1..C``.

    ``class_names`` must be non-empty, without repeats, and a subset of ``known_names``; the
    first name outside it is reported as ``'<name>' is not a <dataset> class``, unless
    ``refusals`` holds a more helpful message for that name (VisDrone uses it to point at its
    ``others`` option). Checking when a config is read, not when the first frame is, makes a
    typo fail before any work is done.
    """
    if not class_names:
        raise ValueError("class_names is empty")
    labels = label_numbers(class_names)
    for name in class_names:
        if name not in known_names:
            if refusals is not None and name in refusals:
                raise ValueError(refusals[name])
            raise ValueError(
                f"{name!r} is not a {dataset} class; expected some of {tuple(known_names)}"
            )
    return labels


class FrameObjectsBuilder:
    """Collects one frame's labelled objects and ignore regions, then builds its annotations.

    Readers meet a frame's boxes one at a time and often out of frame order (a track, a JSON
    annotation); this keeps the parallel lists in step and builds arrays of the dtypes and
    shapes :class:`FrameAnnotations` requires, ``(0, 4)`` included for an empty frame.
    """

    def __init__(self) -> None:
        self.boxes: list[Box] = []
        self.labels: list[int] = []
        self.track_ids: list[int] = []
        self.ignore_boxes: list[Box] = []

    def add_object(self, box: Box, *, label: int, track_id: int) -> None:
        """A labelled object, scored by evaluation and learnt by training."""
        self.boxes.append(box)
        self.labels.append(label)
        self.track_ids.append(track_id)

    def add_ignore(self, box: Box) -> None:
        """An ignore region: a detection there is neither a true nor a false positive."""
        self.ignore_boxes.append(box)

    def build(self) -> FrameAnnotations:
        return FrameAnnotations(
            boxes=np.array(self.boxes, dtype=np.float32).reshape(-1, 4),
            labels=np.array(self.labels, dtype=np.int64),
            track_ids=np.array(self.track_ids, dtype=np.int64),
            ignore_boxes=np.array(self.ignore_boxes, dtype=np.float32).reshape(-1, 4),
        )
