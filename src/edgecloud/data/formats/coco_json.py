"""COCO detection JSON, with COCO-VID style grouping of images into videos.

Images that carry ``video_id`` and ``frame_id`` are grouped into one video per ``video_id``
(named by the optional top-level ``videos`` list, else ``video_<id>``), frames ordered by
``frame_id``. Every other image is a one-frame video named by its file name without suffix.
JSON has no useful line numbers, so errors name the offending element, e.g.
``annotations[17] (id 42)``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from edgecloud.data.annotations import VideoAnnotations
from edgecloud.data.errors import DatasetFormatError
from edgecloud.data.formats.common import FrameObjectsBuilder, label_numbers
from edgecloud.data.frames import ImageFolderFrames

NO_TRACK = -1
"""Track id of an annotation that carries neither ``track_id`` nor ``instance_id``."""


def read_coco_json(
    annotation_file: str | Path,
    image_root: str | Path,
    *,
    class_names: Sequence[str] | None = None,
    fps: float = 30.0,
) -> list[VideoAnnotations]:
    """Read a COCO detection JSON; image files are resolved relative to ``image_root``.

    ``class_names=None`` takes the categories' names in order of category id. Otherwise every
    category must be named in ``class_names`` and every class must be a category. Annotations
    with ``iscrowd=1`` become ignore regions. Track ids come from ``track_id`` (or
    ``instance_id``) when annotations have one, else :data:`NO_TRACK`. Images are only listed
    here; a missing or corrupt one is reported when it is read. Videos come in order of their
    first image in the file.
    """
    path = Path(annotation_file)
    data = _load(path)
    labels = _category_labels(path, _section(path, data, "categories"), class_names)
    images = _read_images(path, _section(path, data, "images"))
    frames = {image.id: FrameObjectsBuilder() for image in images}
    for index, element in enumerate(_section(path, data, "annotations")):
        _add_annotation(path, _Element("annotations", index, element), labels, frames)
    video_names = _video_names(path, data.get("videos"))
    return [
        _video(path, Path(image_root), group, frames, video_names, fps)
        for group in _group_images(images)
    ]


@dataclass(frozen=True)
class _Element:
    """One entry of a top-level list, to describe it in error messages."""

    section: str
    index: int
    value: Any

    def __str__(self) -> str:
        if isinstance(self.value, dict) and "id" in self.value:
            return f"{self.section}[{self.index}] (id {self.value['id']})"
        return f"{self.section}[{self.index}]"


@dataclass(frozen=True)
class _Image:
    element: _Element
    id: int
    file_name: str
    video_id: int | None
    frame_id: int | None


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DatasetFormatError(path, "annotation file is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise DatasetFormatError(path, f"not a text file: {error}") from error
    except json.JSONDecodeError as error:
        raise DatasetFormatError(
            path, f"invalid JSON: {error.msg} (column {error.colno})", line=error.lineno
        ) from error
    if not isinstance(data, dict):
        raise DatasetFormatError(path, "top level is not a JSON object")
    return data


def _section(path: Path, data: dict[str, Any], name: str) -> list[Any]:
    section = data.get(name)
    if not isinstance(section, list):
        raise DatasetFormatError(path, f"top-level {name!r} is missing or not a list")
    return section


def _fail(path: Path, element: _Element, problem: str) -> DatasetFormatError:
    return DatasetFormatError(path, f"{element}: {problem}")


def _field(path: Path, element: _Element, key: str, kind: type, *, required: bool = True) -> Any:
    """``element[key]`` checked to be of ``kind`` (bools are not integers); None if optional."""
    if not isinstance(element.value, dict):
        raise _fail(path, element, "expected a JSON object")
    if key not in element.value and not required:
        return None
    value = element.value.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _fail(path, element, f"{key!r} must be {kind.__name__}, got {value!r}")
    return value


def _category_labels(
    path: Path, categories: list[Any], class_names: Sequence[str] | None
) -> dict[int, int]:
    """Map category ids to labels ``1..C`` in the order of ``class_names``."""
    names: dict[int, str] = {}
    for index, value in enumerate(categories):
        element = _Element("categories", index, value)
        category_id = _field(path, element, "id", int)
        name = _field(path, element, "name", str)
        if category_id in names:
            raise _fail(path, element, f"duplicate category id {category_id}")
        if name in names.values():
            raise _fail(path, element, f"duplicate category name {name!r}")
        names[category_id] = name
    if not names:
        raise DatasetFormatError(path, "'categories' is empty")
    if class_names is None:
        class_names = [names[category_id] for category_id in sorted(names)]
    labels = label_numbers(class_names)
    for index, value in enumerate(categories):
        if value["name"] not in class_names:
            raise _fail(
                path,
                _Element("categories", index, value),
                f"name {value['name']!r} is not in class_names {list(class_names)}",
            )
    for name in class_names:
        if name not in names.values():
            raise DatasetFormatError(path, f"class_names entry {name!r} is not a category here")
    return {category_id: labels[name] for category_id, name in names.items()}


def _read_images(path: Path, values: list[Any]) -> list[_Image]:
    images: dict[int, _Image] = {}
    for index, value in enumerate(values):
        element = _Element("images", index, value)
        image_id = _field(path, element, "id", int)
        if image_id in images:
            raise _fail(path, element, f"duplicate image id (first at {images[image_id].element})")
        file_name = _field(path, element, "file_name", str)
        if not file_name:
            raise _fail(path, element, "'file_name' is empty")
        video_id = _field(path, element, "video_id", int, required=False)
        frame_id = _field(path, element, "frame_id", int, required=False)
        if (video_id is None) != (frame_id is None):
            raise _fail(path, element, "has only one of 'video_id' and 'frame_id'")
        images[image_id] = _Image(element, image_id, file_name, video_id, frame_id)
    return list(images.values())


def _add_annotation(
    path: Path, element: _Element, labels: dict[int, int], frames: dict[int, FrameObjectsBuilder]
) -> None:
    image_id = _field(path, element, "image_id", int)
    if image_id not in frames:
        raise _fail(path, element, f"unknown image_id {image_id}")
    category_id = _field(path, element, "category_id", int)
    if category_id not in labels:
        raise _fail(path, element, f"unknown category_id {category_id}")
    box = _xyxy(path, element)
    iscrowd = _field(path, element, "iscrowd", int, required=False) or 0
    if iscrowd not in (0, 1):
        raise _fail(path, element, f"'iscrowd' must be 0 or 1, got {iscrowd}")
    if iscrowd:
        frames[image_id].add_ignore(box)
    else:
        frames[image_id].add_object(
            box, label=labels[category_id], track_id=_track_id(path, element)
        )


def _xyxy(path: Path, element: _Element) -> tuple[float, float, float, float]:
    """The COCO ``[x, y, width, height]`` bbox as ``(x1, y1, x2, y2)``."""
    bbox = _field(path, element, "bbox", list)
    numeric = all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in bbox
    )
    if len(bbox) != 4 or not numeric:
        raise _fail(path, element, f"'bbox' must be 4 finite numbers [x, y, w, h], got {bbox}")
    x, y, width, height = (float(v) for v in bbox)
    if width <= 0 or height <= 0:
        raise _fail(path, element, f"bbox size must be positive, got {width}x{height}")
    return x, y, x + width, y + height


def _track_id(path: Path, element: _Element) -> int:
    for key in ("track_id", "instance_id"):
        value = _field(path, element, key, int, required=False)
        if value is not None:
            return value
    return NO_TRACK


def _video_names(path: Path, videos: Any) -> dict[int, str] | None:
    """Names from the optional top-level ``videos`` list, by video id."""
    if videos is None:
        return None
    if not isinstance(videos, list):
        raise DatasetFormatError(path, "top-level 'videos' is not a list")
    names: dict[int, str] = {}
    for index, value in enumerate(videos):
        element = _Element("videos", index, value)
        video_id = _field(path, element, "id", int)
        if video_id in names:
            raise _fail(path, element, f"duplicate video id {video_id}")
        names[video_id] = _field(path, element, "name", str)
    return names


def _group_images(images: list[_Image]) -> list[list[_Image]]:
    """One group per video id and one per image without one, in order of first appearance."""
    groups: dict[tuple[str, int], list[_Image]] = {}
    for image in images:
        key = ("image", image.id) if image.video_id is None else ("video", image.video_id)
        groups.setdefault(key, []).append(image)
    return list(groups.values())


def _video(
    path: Path,
    image_root: Path,
    group: list[_Image],
    frames: dict[int, FrameObjectsBuilder],
    video_names: dict[int, str] | None,
    fps: float,
) -> VideoAnnotations:
    first = group[0]
    if first.video_id is None:
        name = Path(first.file_name).with_suffix("").as_posix()
    else:
        name = _video_name(path, first, video_names)
        group = _ordered_frames(path, group)
    paths = [image_root / image.file_name for image in group]
    return VideoAnnotations(
        name=name,
        frames=ImageFolderFrames(paths, location=Path(os.path.commonpath(paths))),
        annotations=[frames[image.id].build() for image in group],
        fps=fps,
    )


def _video_name(path: Path, image: _Image, video_names: dict[int, str] | None) -> str:
    if video_names is None:
        return f"video_{image.video_id}"
    if image.video_id not in video_names:
        raise _fail(path, image.element, f"video_id {image.video_id} is not in 'videos'")
    return video_names[image.video_id]


def _ordered_frames(path: Path, group: list[_Image]) -> list[_Image]:
    """A video's images by ``frame_id``, which must not repeat."""
    ordered = sorted(group, key=lambda image: image.frame_id)
    for previous, image in pairwise(ordered):
        if image.frame_id == previous.frame_id:
            raise _fail(
                path,
                image.element,
                f"frame_id {image.frame_id} of video {image.video_id} repeats {previous.element}",
            )
    return ordered
