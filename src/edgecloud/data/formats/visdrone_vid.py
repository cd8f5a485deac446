"""VisDrone2019-VID: read (and write) the on-disk layout of a split root.

A split root such as ``VisDrone2019-VID-train/`` holds ``sequences/<seq>/0000001.jpg …``
(7-digit, 1-based frame numbers) and ``annotations/<seq>.txt``. Every annotation line is one
object in one frame, ten comma-separated integers::

    frame_index,target_id,bbox_left,bbox_top,bbox_width,bbox_height,score,object_category,truncation,occlusion

In ground truth ``score`` is a flag (1 = evaluated, 0 = ignored). Category 0 marks ignored
regions and category 11 "others" is ignored by VisDrone's own evaluation; both, flagged boxes,
and objects of VisDrone classes left out of ``class_names`` become ignore regions, so that
training on a subset (e.g. cars only) never counts the other objects as false positives.

The VisDrone2019-DET reader (:mod:`edgecloud.data.formats.visdrone_det`) shares this module's
per-field checks (:func:`visdrone_object_problem`), category mapping
(:func:`visdrone_category_labels`) and frame building (:func:`visdrone_frame_annotations`);
both read lines with :func:`~edgecloud.data.formats.common.read_integer_rows`, which accepts
one trailing comma per line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Literal, Protocol

from edgecloud.data.annotations import FrameAnnotations, VideoAnnotations
from edgecloud.data.errors import DatasetFormatError
from edgecloud.data.formats.common import FrameObjectsBuilder, class_label_map, read_integer_rows
from edgecloud.data.frames import ImageFolderFrames

VISDRONE_CATEGORIES: tuple[str, ...] = (
    "ignored-regions",
    "pedestrian",
    "people",
    "bicycle",
    "car",
    "van",
    "truck",
    "tricycle",
    "awning-tricycle",
    "bus",
    "motor",
    "others",
)
"""VisDrone category names; the index is the ``object_category`` id."""

VISDRONE_CLASS_NAMES: tuple[str, ...] = VISDRONE_CATEGORIES[1:11]
"""The ten object classes VisDrone evaluates (categories 1..10)."""

OthersMode = Literal["ignore", "class"]

_OTHERS = "others"
_FRAME_FILE = re.compile(r"[0-9]{7}\.jpg")


@dataclass(frozen=True)
class VisDroneRow:
    """One annotation line: one object in one frame, the ten fields in file order."""

    frame_index: int
    target_id: int
    bbox_left: int
    bbox_top: int
    bbox_width: int
    bbox_height: int
    score: int
    object_category: int
    truncation: int
    occlusion: int

    def to_line(self) -> str:
        """The row as VisDrone writes it, without the line break."""
        return ",".join(str(value) for value in astuple(self))


class VisDroneObject(Protocol):
    """The fields an object line has in both VisDrone-VID and VisDrone-DET annotations."""

    @property
    def bbox_left(self) -> int: ...
    @property
    def bbox_top(self) -> int: ...
    @property
    def bbox_width(self) -> int: ...
    @property
    def bbox_height(self) -> int: ...
    @property
    def score(self) -> int: ...
    @property
    def object_category(self) -> int: ...
    @property
    def truncation(self) -> int: ...
    @property
    def occlusion(self) -> int: ...


def visdrone_frame_filename(frame_index: int) -> str:
    """File name of a 1-based frame inside ``sequences/<seq>/``, e.g. ``0000001.jpg``."""
    return f"{frame_index:07d}.jpg"


def write_visdrone_vid_annotations(path: str | Path, rows: Iterable[VisDroneRow]) -> None:
    """Write rows to an annotation file in the exact VisDrone-VID text format."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(row.to_line() + "\n" for row in rows), encoding="ascii")


def read_visdrone_vid_rows(path: str | Path) -> list[VisDroneRow]:
    """Read an annotation file as rows, checking each line on its own (not against frames)."""
    return [row for _, row in _read_numbered_rows(Path(path))]


def parse_visdrone_vid_annotations(
    path: str | Path,
    *,
    num_frames: int,
    class_names: Sequence[str] = VISDRONE_CLASS_NAMES,
    others: OthersMode = "ignore",
) -> list[FrameAnnotations]:
    """Parse one sequence's annotation file into the ground truth of each of its frames.

    Boxes become float32 ``(left, top, left + width, top + height)``. Category 0, rows with
    ``score`` 0, "others" when ``others="ignore"`` and VisDrone classes missing from
    ``class_names`` go to the frame's ``ignore_boxes``; every other row is an object labelled
    by its position in ``class_names`` (1-based) and tracked by its ``target_id``.
    """
    path = Path(path)
    labels = visdrone_category_labels(class_names, others)
    objects: list[list[VisDroneRow]] = [[] for _ in range(num_frames)]
    for line, row in _read_numbered_rows(path):
        if row.frame_index > num_frames:
            raise DatasetFormatError(
                path,
                f"frame_index {row.frame_index} is past the last frame image ({num_frames})",
                line=line,
            )
        objects[row.frame_index - 1].append(row)
    return [
        visdrone_frame_annotations(((row, row.target_id) for row in rows), labels)
        for rows in objects
    ]


def read_visdrone_vid(
    root: str | Path,
    *,
    class_names: Sequence[str] = VISDRONE_CLASS_NAMES,
    others: OthersMode = "ignore",
    sequences: Sequence[str] | None = None,
    fps: float = 30.0,
) -> list[VideoAnnotations]:
    """Read the sequences of a VisDrone2019-VID split root (all of them, sorted, by default).

    The root must be consistent: every sequence folder has an annotation file and vice versa,
    and each folder holds exactly the frames ``0000001.jpg .. N`` with no gap. Images are only
    listed here; a missing or corrupt one is reported when it is read.
    """
    root = Path(root)
    visdrone_category_labels(class_names, others)
    sequence_dir, annotation_dir = root / "sequences", root / "annotations"
    available = _paired_sequences(sequence_dir, annotation_dir)
    selected = available if sequences is None else list(sequences)
    for name in selected:
        if name not in available:
            raise DatasetFormatError(sequence_dir / name, "no such sequence")
    return [
        _read_sequence(
            sequence_dir / name,
            annotation_dir / f"{name}.txt",
            class_names=class_names,
            others=others,
            fps=fps,
        )
        for name in selected
    ]


def visdrone_category_labels(class_names: Sequence[str], others: OthersMode) -> dict[int, int]:
    """Map VisDrone category ids to labels ``1..C``; unmapped categories are ignore regions.

    Raises ``ValueError`` for a bad configuration: empty or repeated ``class_names``, a name
    that is no VisDrone class, "others" without ``others="class"`` or the reverse.
    """
    if others not in ("ignore", "class"):
        raise ValueError(f"others must be 'ignore' or 'class', got {others!r}")
    if others == "class":
        allowed, refusals = (*VISDRONE_CLASS_NAMES, _OTHERS), None
    else:
        allowed = VISDRONE_CLASS_NAMES
        refusals = {_OTHERS: "'others' is in class_names but others='ignore'; use others='class'"}
    labels = class_label_map(
        class_names, known_names=allowed, dataset="VisDrone", refusals=refusals
    )
    if others == "class" and _OTHERS not in class_names:
        raise ValueError("others='class' needs 'others' in class_names")
    return {VISDRONE_CATEGORIES.index(name): label for name, label in labels.items()}


def _read_numbered_rows(path: Path) -> list[tuple[int, VisDroneRow]]:
    """All rows with their 1-based line numbers; blank lines are not data and are skipped."""
    return read_integer_rows(path, VisDroneRow, check=_row_problem)


def _row_problem(row: VisDroneRow) -> str | None:
    """What is wrong with a row on its own, or None."""
    if row.frame_index < 1:
        return f"frame_index must be >= 1 (frames are 1-based), got {row.frame_index}"
    return visdrone_object_problem(row)


def visdrone_object_problem(row: VisDroneObject) -> str | None:
    """What is wrong with the object fields of a VID or DET ground-truth line, or None."""
    if row.bbox_width <= 0 or row.bbox_height <= 0:
        return f"box size must be positive, got {row.bbox_width}x{row.bbox_height}"
    if row.score not in (0, 1):
        return f"score must be the ground-truth flag 0 or 1, got {row.score}"
    if not 0 <= row.object_category < len(VISDRONE_CATEGORIES):
        return (
            f"object_category must be in 0..{len(VISDRONE_CATEGORIES) - 1}, "
            f"got {row.object_category}"
        )
    if row.truncation < 0 or row.occlusion < 0:
        return f"truncation and occlusion must be >= 0, got {row.truncation}, {row.occlusion}"
    return None


def visdrone_frame_annotations(
    objects: Iterable[tuple[VisDroneObject, int]], labels: Mapping[int, int]
) -> FrameAnnotations:
    """One frame's ``(row, track_id)`` pairs split into labelled objects and ignore regions.

    ``labels`` comes from :func:`visdrone_category_labels`. A row with ``score`` 1 whose
    category has a label is an object; every other row (category 0, "others" when ignored,
    classes left out, ``score`` 0) is an ignore region.
    """
    frame = FrameObjectsBuilder()
    for row, track_id in objects:
        left, top = row.bbox_left, row.bbox_top
        box = (left, top, left + row.bbox_width, top + row.bbox_height)
        if row.score == 1 and row.object_category in labels:
            frame.add_object(box, label=labels[row.object_category], track_id=track_id)
        else:
            frame.add_ignore(box)
    return frame.build()


def _paired_sequences(sequence_dir: Path, annotation_dir: Path) -> list[str]:
    """Sorted sequence names, after checking folders and annotation files match one to one."""
    for folder in (sequence_dir, annotation_dir):
        if not folder.is_dir():
            raise DatasetFormatError(folder, "folder is missing (not a VisDrone2019-VID root?)")
    folders = set()
    for entry in sequence_dir.iterdir():
        if not entry.is_dir():
            raise DatasetFormatError(entry, "unexpected file: sequences/ holds only folders")
        folders.add(entry.name)
    files = set()
    for entry in annotation_dir.iterdir():
        if not (entry.is_file() and entry.suffix == ".txt"):
            raise DatasetFormatError(entry, "unexpected entry: annotations/ holds only .txt files")
        files.add(entry.stem)
    if unannotated := sorted(folders - files):
        name = unannotated[0]
        raise DatasetFormatError(
            sequence_dir / name, f"sequence folder has no annotation file {name}.txt"
        )
    if orphaned := sorted(files - folders):
        name = orphaned[0]
        raise DatasetFormatError(
            annotation_dir / f"{name}.txt", f"annotation file has no sequence folder {name}/"
        )
    return sorted(folders)


def _frame_paths(folder: Path) -> list[Path]:
    """The folder's frame images in order, after checking they run 1..N with no gap."""
    numbers = set()
    for entry in folder.iterdir():
        if not (entry.is_file() and _FRAME_FILE.fullmatch(entry.name)):
            raise DatasetFormatError(entry, "unexpected entry: frames are files like 0000001.jpg")
        numbers.add(int(entry.stem))
    if not numbers:
        raise DatasetFormatError(folder, "sequence folder has no frame images")
    for index in range(1, max(numbers) + 1):
        if index not in numbers:
            raise DatasetFormatError(
                folder / visdrone_frame_filename(index),
                f"frame image is missing (the sequence has frames up to {max(numbers)})",
            )
    return [folder / visdrone_frame_filename(index) for index in range(1, len(numbers) + 1)]


def _read_sequence(
    folder: Path,
    annotation_file: Path,
    *,
    class_names: Sequence[str],
    others: OthersMode,
    fps: float,
) -> VideoAnnotations:
    paths = _frame_paths(folder)
    annotations = parse_visdrone_vid_annotations(
        annotation_file, num_frames=len(paths), class_names=class_names, others=others
    )
    frames = ImageFolderFrames(paths, location=folder)
    return VideoAnnotations(name=folder.name, frames=frames, annotations=annotations, fps=fps)
