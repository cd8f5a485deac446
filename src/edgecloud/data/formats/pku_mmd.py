"""PKU-MMD (phase 1): read (and write) the on-disk layout of the dataset as distributed.

A PKU-MMD root holds, for every long video ``<video>`` (four digits for the recording
session and ``-L``, ``-M`` or ``-R`` for the left, middle or right Kinect, e.g. ``0002-L``)::

    Label/<video>.txt             one action per line: action_id,start_frame,end_frame,confidence
    Split/cross-subject.txt       the two evaluation protocols' video lists
    Split/cross-view.txt
    RGB_VIDEO/<video>.avi         the RGB stream as distributed, decoded with PyAV, or
    RGB_FRAMES/<video>/000001.jpg ... the same frames extracted once (6-digit, 1-based, no gap)

Label files count frames from 1 and include both ends; in memory every segment is 0-based
and half-open (:class:`~edgecloud.data.action_video.ActionSegment`), so the file line
``41,49,169,2`` is action 41 over frames ``48 <= f < 169``. Action ids run 1..51;
``confidence`` is the annotators' quality mark, 1 or 2, kept by :func:`read_labels` and not
used for training.

A split file is two headed, comma-separated lists, with the headers spelt as distributed
("Validataion" sic; the correct spelling is accepted too)::

    Training videos:
    0002-L, 0002-M, 0002-R, 0003-L, ...
    Validataion videos:
    0291-L, 0291-M, ...

Frames come from ``RGB_FRAMES/<video>/`` when that folder exists (random access, which
training needs) and from ``RGB_VIDEO/<video>.avi`` otherwise; ``source`` forces either.
Every problem with the input raises :class:`~edgecloud.data.errors.DatasetFormatError`
naming the file and, when the problem is on a line, the line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edgecloud.data.action_video import ActionSegment, ActionVideo
from edgecloud.data.errors import DatasetFormatError
from edgecloud.data.formats.common import INTEGER
from edgecloud.data.frames import FrameSource, ImageFolderFrames, VideoFileFrames

PKU_MMD_NUM_ACTIONS = 51
"""Action ids in label files run ``1..PKU_MMD_NUM_ACTIONS``."""

PKU_MMD_VIEWS: tuple[str, ...] = ("L", "M", "R")
"""Camera views, the last character of a video name: left, middle, right."""

PROTOCOLS: tuple[str, ...] = ("cross-subject", "cross-view")
"""Evaluation protocols; each has a split file ``Split/<protocol>.txt``."""

LABEL_DIR = "Label"
SPLIT_DIR = "Split"
VIDEO_DIR = "RGB_VIDEO"
FRAMES_DIR = "RGB_FRAMES"
VIDEO_SUFFIX = ".avi"

TRAINING_HEADER = "Training videos: "
VALIDATION_HEADER = "Validataion videos: "
"""Split-file headers exactly as distributed, the typo and trailing space included."""

Protocol = Literal["cross-subject", "cross-view"]
Subset = Literal["train", "val"]
OthersMode = Literal["background", "error"]
SourceMode = Literal["auto", "frames", "video"]

VIDEO_NAME = re.compile(r"[0-9]{4}-[LMR]")
"""A PKU-MMD video name; match with ``fullmatch``."""

_HEADER = re.compile(r"(training|validataion|validation) videos\s*:(.*)", re.IGNORECASE)
_FRAME_FILE = re.compile(r"[0-9]{6}\.jpg")
_CONFIDENCES = (1, 2)


@dataclass(frozen=True)
class PkuMmdLabel:
    """One label-file line: PKU action ``action_id`` over frames ``start <= f < end`` (0-based).

    The file stores ``start + 1`` and ``end`` (1-based, both ends included).
    """

    action_id: int
    start: int
    end: int
    confidence: int

    def to_line(self) -> str:
        """The label as PKU-MMD writes it, without the line break."""
        return f"{self.action_id},{self.start + 1},{self.end},{self.confidence}"


_FIELD_NAMES = ("action_id", "start_frame", "end_frame", "confidence")
"""Label-file fields in file order, as error messages name them."""


def video_name(number: int, view: str) -> str:
    """Name of recording session ``number`` seen from ``view``, e.g. ``video_name(2, "L")``."""
    if not 0 <= number <= 9999 or view not in PKU_MMD_VIEWS:
        raise ValueError(f"no PKU-MMD video name for session {number}, view {view!r}")
    return f"{number:04d}-{view}"


def parse_video_name(name: str) -> tuple[int, str]:
    """``(session number, view)`` of a video name such as ``0002-L``."""
    if not VIDEO_NAME.fullmatch(name):
        raise ValueError(f"not a PKU-MMD video name (4 digits, '-', view L/M/R): {name!r}")
    return int(name[:4]), name[5]


def frame_filename(frame_number: int) -> str:
    """File name of 1-based frame ``frame_number`` inside ``RGB_FRAMES/<video>/``."""
    return f"{frame_number:06d}.jpg"


def label_path(root: str | Path, name: str) -> Path:
    return Path(root) / LABEL_DIR / f"{name}.txt"


def video_path(root: str | Path, name: str) -> Path:
    return Path(root) / VIDEO_DIR / f"{name}{VIDEO_SUFFIX}"


def frame_folder(root: str | Path, name: str) -> Path:
    return Path(root) / FRAMES_DIR / name


def split_path(root: str | Path, protocol: str) -> Path:
    """``Split/<protocol>.txt``; an existing ``cross_subject.txt``-style spelling also works."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    path = Path(root) / SPLIT_DIR / f"{protocol}.txt"
    underscored = path.with_name(path.name.replace("-", "_"))
    return underscored if not path.exists() and underscored.exists() else path


# --- label files ----------------------------------------------------------------------------


def write_labels(path: str | Path, labels: Iterable[PkuMmdLabel]) -> None:
    """Write labels, in the given order, in the exact PKU-MMD label-file format."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(label.to_line() + "\n" for label in labels), encoding="ascii")


def read_labels(path: str | Path, *, num_frames: int | None = None) -> list[PkuMmdLabel]:
    """Read a label file in file order, after checking every line and that none overlap.

    With ``num_frames``, a segment ending past the video's last frame is an error too.
    """
    return [label for _, label in _read_numbered_labels(Path(path), num_frames=num_frames)]


def _read_numbered_labels(path: Path, *, num_frames: int | None) -> list[tuple[int, PkuMmdLabel]]:
    """All labels with their 1-based line numbers; blank lines are not data and are skipped."""
    numbered = [
        (number, _parse_label(path, number, line))
        for number, line in enumerate(_read_text(path, "label file").splitlines(), start=1)
        if line.strip()
    ]
    by_start = sorted(numbered, key=lambda item: (item[1].start, item[1].end))
    for pair in itertools.pairwise(by_start):
        if pair[1][1].start < pair[0][1].end:
            (earlier_line, earlier), (later_line, later) = sorted(pair, key=lambda item: item[0])
            raise DatasetFormatError(
                path,
                f"frames {later.start + 1}..{later.end} overlap frames "
                f"{earlier.start + 1}..{earlier.end} of line {earlier_line}",
                line=later_line,
            )
    if num_frames is not None:
        for line, label in numbered:
            if label.end > num_frames:
                raise DatasetFormatError(
                    path,
                    f"end_frame {label.end} is past the video's last frame ({num_frames})",
                    line=line,
                )
    return numbered


def _read_text(path: Path, what: str) -> str:
    if not path.is_file():
        raise DatasetFormatError(path, f"{what} is missing")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DatasetFormatError(path, f"not a text file: {error}") from error


def _parse_label(path: Path, number: int, line: str) -> PkuMmdLabel:
    texts = line.strip().split(",")
    if len(texts) != len(_FIELD_NAMES):
        raise DatasetFormatError(
            path,
            f"expected {len(_FIELD_NAMES)} comma-separated fields "
            f"({','.join(_FIELD_NAMES)}), got {len(texts)}",
            line=number,
        )
    for name, text in zip(_FIELD_NAMES, texts, strict=True):
        if not INTEGER.fullmatch(text.strip()):
            raise DatasetFormatError(path, f"{name} is not an integer: {text!r}", line=number)
    action_id, first, last, confidence = (int(text) for text in texts)
    problem = None
    if not 1 <= action_id <= PKU_MMD_NUM_ACTIONS:
        problem = f"action_id must be in 1..{PKU_MMD_NUM_ACTIONS}, got {action_id}"
    elif first < 1:
        problem = f"start_frame must be >= 1 (frames are 1-based), got {first}"
    elif first > last:
        problem = f"start_frame {first} is after end_frame {last}"
    elif confidence not in _CONFIDENCES:
        problem = f"confidence must be 1 or 2, got {confidence}"
    if problem is not None:
        raise DatasetFormatError(path, problem, line=number)
    return PkuMmdLabel(action_id, first - 1, last, confidence)


# --- split files ----------------------------------------------------------------------------


def write_split(path: str | Path, train_names: Sequence[str], val_names: Sequence[str]) -> None:
    """Write a split file as PKU-MMD distributes it (typo'd validation header included)."""
    for name in (*train_names, *val_names):
        parse_video_name(name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"{TRAINING_HEADER}\n{', '.join(train_names)}\n"
        f"{VALIDATION_HEADER}\n{', '.join(val_names)}\n",
        encoding="ascii",
    )


def read_split(path: str | Path) -> tuple[list[str], list[str]]:
    """``(training video names, validation video names)`` of a split file, in file order."""
    entries = _read_split_entries(Path(path))
    return [name for name, _ in entries["train"]], [name for name, _ in entries["val"]]


def _read_split_entries(path: Path) -> dict[str, list[tuple[str, int]]]:
    """Each subset's ``(video name, 1-based line)`` pairs, after checking names and headers."""
    entries: dict[str, list[tuple[str, int]]] = {"train": [], "val": []}
    header_lines: dict[str, int] = {}
    listed: dict[str, int] = {}
    subset = None
    for number, line in enumerate(_read_text(path, "split file").splitlines(), start=1):
        header = _HEADER.fullmatch(line.strip())
        if header is not None:
            subset = "train" if header.group(1).lower() == "training" else "val"
            if subset in header_lines:
                raise DatasetFormatError(
                    path,
                    f"second {header.group(1)} videos header (first on line "
                    f"{header_lines[subset]})",
                    line=number,
                )
            header_lines[subset] = number
            text = header.group(2)
        else:
            text = line
        names = [name.strip() for name in text.split(",") if name.strip()]
        if names and subset is None:
            raise DatasetFormatError(
                path, f"video names before the {TRAINING_HEADER.strip()!r} header", line=number
            )
        for name in names:
            if not VIDEO_NAME.fullmatch(name):
                raise DatasetFormatError(
                    path,
                    f"not a PKU-MMD video name (4 digits, '-', view L/M/R): {name!r}",
                    line=number,
                )
            if name in listed:
                raise DatasetFormatError(
                    path,
                    f"video {name} is listed twice (first on line {listed[name]})",
                    line=number,
                )
            listed[name] = number
            entries[subset].append((name, number))
    for subset, header in (("train", TRAINING_HEADER), ("val", VALIDATION_HEADER)):
        if subset not in header_lines:
            raise DatasetFormatError(path, f"missing {header.strip()!r} header")
    return entries


# --- the dataset ----------------------------------------------------------------------------


def read_pku_mmd(
    *,
    root: str | Path,
    protocol: Protocol = "cross-subject",
    split_file: str | Path | None = None,
    subset: Subset = "train",
    class_ids: Sequence[int] | None = None,
    others: OthersMode = "background",
    fps: float = 30.0,
    source: SourceMode = "auto",
) -> list[ActionVideo]:
    """Read one subset of a PKU-MMD split as long videos with their action segments.

    The videos are those listed under ``subset`` in ``split_file`` (default: the protocol's
    ``Split/<protocol>.txt`` under ``root``), in file order. ``class_ids`` picks the PKU action
    ids to learn (default all 51) and numbers them ``1..C`` in the given order. Segments of any
    other action become background when ``others="background"`` (a model trained on a subset
    then treats them like idle frames) or raise when ``others="error"``.

    ``source`` picks the frames: ``"frames"`` reads ``RGB_FRAMES/<video>/``, ``"video"``
    decodes ``RGB_VIDEO/<video>.avi``, and ``"auto"`` takes the folder when it exists. The
    video's length is the number of frame files, or the frame count its container declares
    (counted by decoding when none is declared); a segment past it is an error. Frames are only
    listed here; a missing or corrupt one is reported when it is read.
    """
    if subset not in ("train", "val"):
        raise ValueError(f"subset must be 'train' or 'val', got {subset!r}")
    if others not in ("background", "error"):
        raise ValueError(f"others must be 'background' or 'error', got {others!r}")
    if source not in ("auto", "frames", "video"):
        raise ValueError(f"source must be 'auto', 'frames' or 'video', got {source!r}")
    labels = action_label_map(class_ids)
    root = Path(root)
    path = Path(split_file) if split_file is not None else split_path(root, protocol)
    videos = []
    for name, line in _read_split_entries(path)[subset]:
        labels_file = label_path(root, name)
        if not labels_file.is_file():
            raise DatasetFormatError(
                path, f"video {name} has no label file {labels_file}", line=line
            )
        frames = _frame_source(root, name, source)
        segments = []
        for number, label in _read_numbered_labels(labels_file, num_frames=len(frames)):
            if label.action_id in labels:
                segments.append(ActionSegment(labels[label.action_id], label.start, label.end))
            elif others == "error":
                raise DatasetFormatError(
                    labels_file,
                    f"action_id {label.action_id} is not in class_ids {sorted(labels)} "
                    "(use others='background' to treat it as background)",
                    line=number,
                )
        segments.sort(key=lambda segment: segment.start)
        videos.append(ActionVideo(name=name, frames=frames, fps=fps, segments=tuple(segments)))
    return videos


def action_label_map(class_ids: Sequence[int] | None) -> dict[int, int]:
    """Map the selected PKU action ids to labels ``1..C`` in the given order (default: all).

    Raises ``ValueError`` for an empty selection, a repeat or an id outside ``1..51``, so a
    config typo fails before any file is read.
    """
    if class_ids is None:
        class_ids = range(1, PKU_MMD_NUM_ACTIONS + 1)
    ids = list(class_ids)
    if not ids:
        raise ValueError("class_ids is empty")
    if len(set(ids)) != len(ids):
        raise ValueError(f"class_ids has duplicates: {ids}")
    for action_id in ids:
        if isinstance(action_id, bool) or not isinstance(action_id, int):
            raise ValueError(f"class_ids must be integers, got {action_id!r}")
        if not 1 <= action_id <= PKU_MMD_NUM_ACTIONS:
            raise ValueError(f"{action_id} is not a PKU-MMD action id (1..{PKU_MMD_NUM_ACTIONS})")
    return {action_id: label for label, action_id in enumerate(ids, start=1)}


def _frame_source(root: Path, name: str, source: SourceMode) -> FrameSource:
    folder, video = frame_folder(root, name), video_path(root, name)
    if source == "frames" or (source == "auto" and folder.is_dir()):
        if not folder.is_dir():
            raise DatasetFormatError(folder, "frame folder is missing")
        return ImageFolderFrames(_frame_paths(folder), location=folder)
    if not video.is_file():
        hint = f" (and there is no frame folder {folder})" if source == "auto" else ""
        raise DatasetFormatError(video, f"video file is missing{hint}")
    return VideoFileFrames(video, num_frames=_declared_frame_count(video))


def _frame_paths(folder: Path) -> list[Path]:
    """The folder's frame images in order, after checking they run 1..N with no gap."""
    numbers = set()
    for entry in folder.iterdir():
        if not (entry.is_file() and _FRAME_FILE.fullmatch(entry.name)):
            raise DatasetFormatError(entry, "unexpected entry: frames are files like 000001.jpg")
        numbers.add(int(entry.stem))
    if not numbers:
        raise DatasetFormatError(folder, "frame folder has no frame images")
    for number in range(1, max(numbers) + 1):
        if number not in numbers:
            raise DatasetFormatError(
                folder / frame_filename(number),
                f"frame image is missing (the video has frames up to {max(numbers)})",
            )
    return [folder / frame_filename(number) for number in range(1, len(numbers) + 1)]


def _declared_frame_count(path: Path) -> int | None:
    """The frame count the container's header declares, or None when it declares none."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DatasetFormatError(path, "file has no video stream")
            declared = container.streams.video[0].frames
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise DatasetFormatError(path, f"cannot open video: {error}") from error
    return declared if declared > 0 else None
