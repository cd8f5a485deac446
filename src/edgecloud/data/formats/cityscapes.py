"""Cityscapes (fine annotations): read (and write) the on-disk layout of a dataset root.

A root holds the images and their label maps in two parallel trees::

    leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png     8-bit RGB image
    gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png       8-bit label ids 0..33

``<split>`` is ``train``, ``val`` or ``test``; ``<seq>`` and ``<frame>`` are six digits, e.g.
``aachen_000012_000019_leftImg8bit.png``. The label map stores Cityscapes *label ids* (the
``labelIds`` PNG, one byte per pixel); models train on the 19 *train ids*, with 255 for the
pixels that are neither trained on nor scored
(:mod:`edgecloud.data.formats.cityscapes_labels` holds the table). The other files the
release and ``cityscapesScripts`` put beside each label map (``_gtFine_color.png``,
``_gtFine_instanceIds.png``, ``_gtFine_labelTrainIds.png``, ``_gtFine_polygons.json``) are
allowed and not read.

A *clip* is a run of consecutive frame numbers of one ``(city, sequence)``: the real release
labels one frame per sequence (each a clip of one), the synthetic urban world labels every
frame of a short video, so frame-wise metrics can be computed per clip
(:func:`group_clips`).

Listing a split checks the layout (every image has its label map and vice versa, every name
follows the pattern); the pixels are checked when a frame is loaded. Every problem raises
:class:`~edgecloud.data.errors.DatasetFormatError` naming the file.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgecloud.data.errors import DatasetFormatError
from edgecloud.data.formats.cityscapes_labels import (
    CITYSCAPES_LABELS,
    IGNORE_INDEX,
    NUM_CLASSES,
    label_id_to_train_id_table,
    train_id_to_label_id_table,
)
from edgecloud.data.frames import decode_image

CITYSCAPES_SPLITS: tuple[str, ...] = ("train", "val", "test")

IMAGE_DIR = "leftImg8bit"
LABEL_DIR = "gtFine"
IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"

NUM_LABEL_IDS = len(CITYSCAPES_LABELS)
"""Label maps hold ids ``0 .. NUM_LABEL_IDS - 1`` (34)."""

PNG_OPTIONS = (
    cv2.IMWRITE_PNG_COMPRESSION,
    1,
    cv2.IMWRITE_PNG_STRATEGY,
    cv2.IMWRITE_PNG_STRATEGY_RLE,
)
"""How the writer's PNGs are compressed: zlib level 1 with run-length matches only, the
fastest and (on noisy camera images) also the smallest; lossless like any PNG."""

_CITY = r"[A-Za-z][A-Za-z0-9-]*"
_STEM = rf"(?P<city>{_CITY})_(?P<sequence>[0-9]{{6}})_(?P<frame>[0-9]{{6}})"
_IMAGE_NAME = re.compile(_STEM + re.escape(IMAGE_SUFFIX))
_LABEL_NAME = re.compile(_STEM + re.escape(LABEL_SUFFIX))
_COMPANION_NAME = re.compile(
    _STEM + r"_gtFine_(?:color\.png|instanceIds\.png|labelTrainIds\.png|polygons\.json)"
)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TO_TRAIN_IDS = label_id_to_train_id_table()
_TO_LABEL_IDS = train_id_to_label_id_table()


@dataclass(frozen=True)
class CityscapesFrame:
    """One labelled frame: where it is in the dataset and where its two files are."""

    city: str
    sequence: int
    frame: int
    image_path: Path
    label_path: Path

    @property
    def name(self) -> str:
        """The file-name stem shared by image and label map, e.g. ``aachen_000012_000019``."""
        return cityscapes_stem(self.city, self.sequence, self.frame)

    @property
    def key(self) -> tuple[str, int, int]:
        """``(city, sequence, frame)``, the order frames are listed in."""
        return self.city, self.sequence, self.frame


# --- file names -----------------------------------------------------------------------------


def cityscapes_stem(city: str, sequence: int, frame: int) -> str:
    """``<city>_<seq>_<frame>`` with six-digit numbers; raises ValueError on what the layout
    cannot hold (a city name with ``_`` or other characters, numbers outside 0..999999)."""
    if not re.fullmatch(_CITY, city):
        raise ValueError(f"city name must be a letter then letters, digits or '-', got {city!r}")
    for what, number in (("sequence", sequence), ("frame", frame)):
        if not 0 <= number <= 999_999:
            raise ValueError(f"{what} number must be in 0..999999, got {number}")
    return f"{city}_{sequence:06d}_{frame:06d}"


def image_filename(city: str, sequence: int, frame: int) -> str:
    """e.g. ``aachen_000012_000019_leftImg8bit.png``."""
    return cityscapes_stem(city, sequence, frame) + IMAGE_SUFFIX


def label_filename(city: str, sequence: int, frame: int) -> str:
    """e.g. ``aachen_000012_000019_gtFine_labelIds.png``."""
    return cityscapes_stem(city, sequence, frame) + LABEL_SUFFIX


def image_path(root: str | Path, split: str, city: str, sequence: int, frame: int) -> Path:
    return Path(root) / IMAGE_DIR / split / city / image_filename(city, sequence, frame)


def label_path(root: str | Path, split: str, city: str, sequence: int, frame: int) -> Path:
    return Path(root) / LABEL_DIR / split / city / label_filename(city, sequence, frame)


def parse_image_filename(path: str | Path) -> tuple[str, int, int]:
    """``(city, sequence, frame)`` of an image file name; DatasetFormatError naming ``path``
    when the name is not exactly ``<city>_<6 digits>_<6 digits>_leftImg8bit.png``."""
    return _parse_name(Path(path), _IMAGE_NAME, IMAGE_SUFFIX)


def parse_label_filename(path: str | Path) -> tuple[str, int, int]:
    """``(city, sequence, frame)`` of a label-map file name (``..._gtFine_labelIds.png``)."""
    return _parse_name(Path(path), _LABEL_NAME, LABEL_SUFFIX)


def _parse_name(path: Path, pattern: re.Pattern[str], suffix: str) -> tuple[str, int, int]:
    match = pattern.fullmatch(path.name)
    if match is None:
        raise DatasetFormatError(
            path, f"file name does not match <city>_<6 digits>_<6 digits>{suffix}"
        )
    return match["city"], int(match["sequence"]), int(match["frame"])


# --- listing a split ------------------------------------------------------------------------


def read_cityscapes(root: str | Path, *, split: str) -> list[CityscapesFrame]:
    """The labelled frames of one split, sorted by ``(city, sequence, frame)``.

    Checks the layout only: both split folders exist and hold city folders, every file name
    follows the pattern and sits in its city's folder, and images and label maps pair up one
    to one. Pixels are checked by :func:`load_image` and :func:`load_label_ids`.
    """
    if split not in CITYSCAPES_SPLITS:
        raise ValueError(f"split must be one of {CITYSCAPES_SPLITS}, got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(root, "dataset root is missing")
    image_split, label_split = root / IMAGE_DIR / split, root / LABEL_DIR / split
    for folder in (image_split, label_split):
        if not folder.is_dir():
            raise DatasetFormatError(folder, "split folder is missing (not a Cityscapes root?)")
    images = _scan_split(image_split, pattern=_IMAGE_NAME, suffix=IMAGE_SUFFIX)
    labels = _scan_split(label_split, pattern=_LABEL_NAME, suffix=LABEL_SUFFIX, label=True)
    if unlabelled := sorted(images.keys() - labels.keys()):
        key = unlabelled[0]
        raise DatasetFormatError(
            images[key],
            f"image has no label map {LABEL_DIR}/{split}/{key[0]}/{label_filename(*key)}",
        )
    if orphaned := sorted(labels.keys() - images.keys()):
        key = orphaned[0]
        raise DatasetFormatError(
            labels[key],
            f"label map has no image {IMAGE_DIR}/{split}/{key[0]}/{image_filename(*key)}",
        )
    if not images:
        raise DatasetFormatError(image_split, "split has no images")
    return [CityscapesFrame(*key, images[key], labels[key]) for key in sorted(images)]


def _scan_split(
    folder: Path, *, pattern: re.Pattern[str], suffix: str, label: bool = False
) -> dict[tuple[str, int, int], Path]:
    """Every data file of a split folder by ``(city, sequence, frame)``, after checking names."""
    found: dict[tuple[str, int, int], Path] = {}
    for city_dir in sorted(folder.iterdir()):
        if not city_dir.is_dir():
            raise DatasetFormatError(
                city_dir, f"unexpected file: {folder.name}/ holds city folders"
            )
        for entry in sorted(city_dir.iterdir()):
            if label and _COMPANION_NAME.fullmatch(entry.name):
                continue
            if not entry.is_file():
                raise DatasetFormatError(entry, f"unexpected entry: {city_dir.name}/ holds files")
            city, sequence, frame = _parse_name(entry, pattern, suffix)
            if city != city_dir.name:
                raise DatasetFormatError(
                    entry, f"file of city {city!r} is in the folder of city {city_dir.name!r}"
                )
            found[city, sequence, frame] = entry
    return found


def group_clips(frames: Iterable[CityscapesFrame]) -> list[list[CityscapesFrame]]:
    """Split frames into clips: maximal runs of consecutive frame numbers of one
    ``(city, sequence)``, each in frame order, the clips in ``(city, sequence, frame)`` order."""
    clips: list[list[CityscapesFrame]] = []
    for frame in sorted(frames, key=lambda f: f.key):
        last = clips[-1][-1] if clips else None
        if (
            last is not None
            and (last.city, last.sequence) == (frame.city, frame.sequence)
            and frame.frame == last.frame + 1
        ):
            clips[-1].append(frame)
        else:
            clips.append([frame])
    return clips


# --- pixels ---------------------------------------------------------------------------------


def load_image(frame: CityscapesFrame) -> np.ndarray:
    """The frame's image as RGB ``uint8`` ``(H, W, 3)``."""
    return decode_image(frame.image_path)


def load_label_ids(frame: CityscapesFrame) -> np.ndarray:
    """The frame's label map as stored: ``uint8`` ``(H, W)`` Cityscapes label ids.

    The PNG must be single-channel 8-bit, the size of the frame's image, and hold only label
    ids 0..33.
    """
    path = frame.label_path
    if not path.is_file():
        raise DatasetFormatError(path, "label map is missing")
    data = np.fromfile(path, dtype=np.uint8)
    label = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if label is None:
        raise DatasetFormatError(path, "cannot decode label map (corrupt or not a PNG)")
    if label.ndim != 2 or label.dtype != np.uint8:
        channels = 1 if label.ndim == 2 else label.shape[2]
        raise DatasetFormatError(
            path,
            f"label map must be a single-channel 8-bit PNG, got {channels} channel(s) "
            f"of {label.dtype}",
        )
    width, height = png_size(frame.image_path)
    if label.shape != (height, width):
        raise DatasetFormatError(
            path,
            f"label map is {label.shape[1]}x{label.shape[0]} but its image "
            f"{frame.image_path.name} is {width}x{height}",
        )
    counts = np.bincount(label.ravel(), minlength=256)
    if (bad := np.flatnonzero(counts[NUM_LABEL_IDS:]) + NUM_LABEL_IDS).size:
        raise DatasetFormatError(
            path,
            f"values {bad.tolist()} are not Cityscapes label ids (0..{NUM_LABEL_IDS - 1})",
        )
    return label


def load_train_ids(frame: CityscapesFrame) -> np.ndarray:
    """The frame's label map as ``uint8`` ``(H, W)`` train ids ``0..18``, 255 where ignored."""
    return _TO_TRAIN_IDS[load_label_ids(frame)]


def png_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of a PNG file from its header, without decoding it."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(path, "image file is missing")
    with open(path, "rb") as handle:
        head = handle.read(24)
    if len(head) < 24 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise DatasetFormatError(path, "not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


# --- writing --------------------------------------------------------------------------------


def write_cityscapes_frame(
    root: str | Path,
    *,
    split: str,
    city: str,
    sequence: int,
    frame: int,
    image_rgb: np.ndarray,
    train_ids: np.ndarray,
) -> CityscapesFrame:
    """Write one frame's image and label map (PNG) into the layout and return the frame.

    ``train_ids`` is ``uint8`` ``(H, W)`` with train ids 0..18 and 255; each train id is stored
    as its class's label id, 255 as 0 (``unlabeled``), so the train ids read back are exactly
    those written.
    """
    if split not in CITYSCAPES_SPLITS:
        raise ValueError(f"split must be one of {CITYSCAPES_SPLITS}, got {split!r}")
    image_rgb, train_ids = np.asarray(image_rgb), np.asarray(train_ids)
    if image_rgb.dtype != np.uint8 or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError(
            f"image_rgb must be uint8 (H, W, 3), got {image_rgb.dtype} {image_rgb.shape}"
        )
    if train_ids.dtype != np.uint8 or train_ids.shape != image_rgb.shape[:2]:
        raise ValueError(
            f"train_ids must be uint8 {image_rgb.shape[:2]}, got {train_ids.dtype} "
            f"{train_ids.shape}"
        )
    counts = np.bincount(train_ids.ravel(), minlength=256)
    counts[IGNORE_INDEX] = 0
    if (bad := np.flatnonzero(counts[NUM_CLASSES:]) + NUM_CLASSES).size:
        raise ValueError(f"train_ids holds {bad.tolist()}, not train ids 0..18 or 255")
    result = CityscapesFrame(
        city,
        sequence,
        frame,
        image_path(root, split, city, sequence, frame),
        label_path(root, split, city, sequence, frame),
    )
    _write_png(result.image_path, cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    _write_png(result.label_path, _TO_LABEL_IDS[train_ids])
    return result


def _write_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", pixels, list(PNG_OPTIONS))
    if not ok:
        raise RuntimeError(f"PNG encoding failed for {path}")
    path.write_bytes(data.tobytes())
