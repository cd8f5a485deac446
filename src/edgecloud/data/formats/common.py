"""Pieces every format reader needs: class-name checks, a per-frame annotation builder, and
a strict reader of comma-separated integer lines.

The readers differ in how they parse files but agree on what they produce: labels ``1..C`` in
the order of ``class_names`` (0 is the detectors' background) and one
:class:`~edgecloud.data.annotations.FrameAnnotations` per frame. Keeping those rules here means
a fix to either reaches every format at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TypeVar

import numpy as np

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.data.errors import DatasetFormatError

INTEGER = re.compile(r"-?[0-9]+")
"""A whole decimal number as annotation files write it; match with ``fullmatch``."""

Box = tuple[float, float, float, float]
"""An ``(x1, y1, x2, y2)`` box in pixels."""

NO_TRACK = -1
"""Track id of an object whose annotation has none (still images, plain detection sets)."""

Row = TypeVar("Row")


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


def read_integer_rows(
    path: str | Path,
    row_type: Callable[..., Row],
    *,
    check: Callable[[Row], str | None] | None = None,
) -> list[tuple[int, Row]]:
    """Every data line of a comma-separated integer file as a row, with its 1-based number.

    ``row_type`` is a dataclass whose fields, in order, are the columns: each line must hold
    exactly that many integers (surrounding spaces allowed). One trailing comma after the last
    field is accepted, as some VisDrone releases write it (``1,2,3,`` for three fields; a
    trailing comma with a field missing, or two commas, is still wrong). Blank lines are not
    data and are skipped. ``check`` returns what is wrong with a parsed row on its own, or
    None. Any problem raises :class:`DatasetFormatError` naming the file and the line.
    """
    path = Path(path)
    names = tuple(field.name for field in fields(row_type))
    if not path.is_file():
        raise DatasetFormatError(path, "annotation file is missing")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DatasetFormatError(path, f"not a text file: {error}") from error
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        texts = line.strip().split(",")
        if len(texts) == len(names) + 1 and not texts[-1].strip():
            texts.pop()  # a trailing comma ends the line; it is not an empty last field
        if len(texts) != len(names):
            raise DatasetFormatError(
                path,
                f"expected {len(names)} comma-separated fields ({','.join(names)}), "
                f"got {len(texts)}",
                line=number,
            )
        for name, field_text in zip(names, texts, strict=True):
            if not INTEGER.fullmatch(field_text.strip()):
                raise DatasetFormatError(
                    path, f"{name} is not an integer: {field_text!r}", line=number
                )
        row = row_type(*(int(field_text) for field_text in texts))
        problem = check(row) if check is not None else None
        if problem is not None:
            raise DatasetFormatError(path, problem, line=number)
        rows.append((number, row))
    return rows
