"""D2-City: one video per clip (``<video_id>.mp4``) and one CVAT-style XML per clip.

The XML holds ``<track id=… label=…>`` elements, each with one ``<box frame=… outside=…
occluded=… keyframe=… xtl=… ytl=… xbr=… ybr=…>`` per frame (0-based) the track spans. Errors
name the XML line, which the parser records for every element.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

from edgecloud.data.annotations import FrameAnnotations, VideoAnnotations
from edgecloud.data.errors import DatasetFormatError
from edgecloud.data.formats.common import INTEGER, FrameObjectsBuilder, class_label_map
from edgecloud.data.frames import VideoFileFrames

D2CITY_CLASS_NAMES: tuple[str, ...] = (
    "car",
    "van",
    "bus",
    "truck",
    "person",
    "bicycle",
    "motorcycle",
    "open-tricycle",
    "closed-tricycle",
    "forklift",
    "large-block",
    "small-block",
)
"""D2-City's twelve labels."""

_FLAGS = ("outside", "occluded", "keyframe")
_COORDINATES = ("xtl", "ytl", "xbr", "ybr")


@dataclass(frozen=True)
class D2CityBox:
    """One ``<box>`` of a track: the object's box in one 0-based frame."""

    frame: int
    xtl: float
    ytl: float
    xbr: float
    ybr: float
    outside: bool = False
    occluded: bool = False
    keyframe: bool = True


@dataclass(frozen=True)
class D2CityTrack:
    """One ``<track>``: an object's label and its boxes over the frames it spans."""

    track_id: int
    label: str
    boxes: tuple[D2CityBox, ...]


def write_d2city_xml(
    path: str | Path, tracks: Iterable[D2CityTrack], *, num_frames: int, width: int, height: int
) -> None:
    """Write tracks as a D2-City XML; coordinates use ``repr`` so they read back exactly."""
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    task = ET.SubElement(ET.SubElement(root, "meta"), "task")
    ET.SubElement(task, "size").text = str(num_frames)
    original_size = ET.SubElement(task, "original_size")
    ET.SubElement(original_size, "width").text = str(width)
    ET.SubElement(original_size, "height").text = str(height)
    for track in tracks:
        element = ET.SubElement(root, "track", id=str(track.track_id), label=track.label)
        for box in track.boxes:
            attributes = {"frame": str(box.frame)}
            attributes.update({name: str(int(getattr(box, name))) for name in _FLAGS})
            attributes.update({name: repr(float(getattr(box, name))) for name in _COORDINATES})
            ET.SubElement(element, "box", attributes)
    ET.indent(root)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def parse_d2city_xml(
    path: str | Path, *, num_frames: int, class_names: Sequence[str] = D2CITY_CLASS_NAMES
) -> list[FrameAnnotations]:
    """Parse one clip's XML into the ground truth of each of its ``num_frames`` frames.

    Tracks whose label is a D2-City class left out of ``class_names`` become ignore regions,
    so training on a subset never counts the other objects as false positives.
    """
    path = Path(path)
    labels = _class_labels(class_names)
    root, lines = _parse_xml(path)
    if root.tag != "annotations":
        raise DatasetFormatError(
            path, f"root element is <{root.tag}>, expected <annotations>", line=lines[root]
        )
    frames = [FrameObjectsBuilder() for _ in range(num_frames)]
    track_lines: dict[int, int] = {}
    for child in root:
        where = _Where(path, lines[child])
        if child.tag == "meta":
            _check_size(path, child, lines, num_frames)
        elif child.tag == "track":
            _add_track(where, child, lines, labels, frames, track_lines)
        elif child.tag != "version":
            raise where.error(f"unexpected element <{child.tag}> in <annotations>")
    return [frame.build() for frame in frames]


def read_d2city(
    video_dir: str | Path,
    *,
    annotation_dir: str | Path | None = None,
    class_names: Sequence[str] = D2CITY_CLASS_NAMES,
    videos: Sequence[str] | None = None,
    fps: float = 25.0,
) -> list[VideoAnnotations]:
    """Read D2-City clips: ``<id>.mp4`` in ``video_dir``, ``<id>.xml`` in ``annotation_dir``.

    ``videos=None`` reads every clip, sorted by id. Videos and XMLs must match one to one.
    Each video is decoded once to count its frames, so a box past the end is caught here.
    """
    video_dir = Path(video_dir)
    annotation_dir = video_dir if annotation_dir is None else Path(annotation_dir)
    _class_labels(class_names)
    available = _paired_videos(video_dir, annotation_dir)
    selected = available if videos is None else list(videos)
    for name in selected:
        if name not in available:
            raise DatasetFormatError(video_dir / f"{name}.mp4", "no such video")
    result = []
    for name in selected:
        frames = VideoFileFrames(video_dir / f"{name}.mp4")
        annotations = parse_d2city_xml(
            annotation_dir / f"{name}.xml", num_frames=len(frames), class_names=class_names
        )
        result.append(VideoAnnotations(name=name, frames=frames, annotations=annotations, fps=fps))
    return result


@dataclass(frozen=True)
class _Where:
    """A file and line, to raise errors about the element found there."""

    path: Path
    line: int

    def error(self, problem: str) -> DatasetFormatError:
        return DatasetFormatError(self.path, problem, line=self.line)


def _class_labels(class_names: Sequence[str]) -> dict[str, int]:
    """Map class names to labels ``1..C``; D2-City labels not in the map are ignore regions."""
    return class_label_map(class_names, known_names=D2CITY_CLASS_NAMES, dataset="D2-City")


def _parse_xml(path: Path) -> tuple[ET.Element, dict[ET.Element, int]]:
    """Parse an XML file into a tree plus the 1-based line where each element starts."""
    if not path.is_file():
        raise DatasetFormatError(path, "annotation file is missing")
    builder = ET.TreeBuilder()
    lines: dict[ET.Element, int] = {}
    parser = expat.ParserCreate()

    def start(tag: str, attributes: dict[str, str]) -> None:
        lines[builder.start(tag, attributes)] = parser.CurrentLineNumber

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        with path.open("rb") as file:
            parser.ParseFile(file)
    except expat.ExpatError as error:
        message = expat.errors.messages[error.code]
        raise DatasetFormatError(
            path, f"malformed XML: {message} (column {error.offset + 1})", line=error.lineno
        ) from error
    return builder.close(), lines


def _check_size(
    path: Path, meta: ET.Element, lines: dict[ET.Element, int], num_frames: int
) -> None:
    """If ``<meta><task><size>`` is given, it must match the video's frame count."""
    size = meta.find("task/size")
    if size is None:
        return
    where = _Where(path, lines[size])
    text = (size.text or "").strip()
    if not INTEGER.fullmatch(text):
        raise where.error(f"<size> is not an integer: {text!r}")
    if int(text) != num_frames:
        raise where.error(f"<size> says {int(text)} frames but the video has {num_frames}")


def _add_track(
    where: _Where,
    track: ET.Element,
    lines: dict[ET.Element, int],
    labels: dict[str, int],
    frames: list[FrameObjectsBuilder],
    track_lines: dict[int, int],
) -> None:
    """Check one ``<track>`` and add its in-view boxes to the frames they belong to."""
    track_id = _integer_attribute(where, track, "id")
    if track_id in track_lines:
        raise where.error(f"duplicate track id {track_id} (first on line {track_lines[track_id]})")
    track_lines[track_id] = where.line
    label = _attribute(where, track, "label")
    if label not in D2CITY_CLASS_NAMES:
        raise where.error(f"unknown label {label!r}; D2-City labels are {D2CITY_CLASS_NAMES}")
    box_lines: dict[int, int] = {}
    for element in track:
        box_where = _Where(where.path, lines[element])
        if element.tag != "box":
            raise box_where.error(f"unsupported shape <{element.tag}> in <track> (only <box>)")
        box = _parse_box(box_where, element, num_frames=len(frames))
        if box.frame in box_lines:
            raise box_where.error(
                f"track {track_id} has a second box for frame {box.frame} "
                f"(first on line {box_lines[box.frame]})"
            )
        box_lines[box.frame] = box_where.line
        # outside="1" means the object is out of view in this frame: the box is CVAT's record
        # that the track paused, not an annotation of the frame, so the frame gets nothing.
        if not box.outside:
            _add_box(frames[box.frame], box, labels.get(label), track_id)


def _add_box(frame: FrameObjectsBuilder, box: D2CityBox, label: int | None, track_id: int) -> None:
    xyxy = (box.xtl, box.ytl, box.xbr, box.ybr)
    if label is None:
        frame.add_ignore(xyxy)
    else:
        frame.add_object(xyxy, label=label, track_id=track_id)


def _parse_box(where: _Where, element: ET.Element, *, num_frames: int) -> D2CityBox:
    frame = _integer_attribute(where, element, "frame")
    if frame < 0:
        raise where.error(f"negative frame {frame}")
    if frame >= num_frames:
        raise where.error(f"frame {frame} is past the video's last frame ({num_frames - 1})")
    flags = {name: _flag_attribute(where, element, name) for name in _FLAGS}
    xtl, ytl, xbr, ybr = (_float_attribute(where, element, name) for name in _COORDINATES)
    if xbr <= xtl or ybr <= ytl:
        raise where.error(f"empty box: xtl={xtl} ytl={ytl} xbr={xbr} ybr={ybr}")
    return D2CityBox(frame=frame, xtl=xtl, ytl=ytl, xbr=xbr, ybr=ybr, **flags)


def _attribute(where: _Where, element: ET.Element, name: str) -> str:
    value = element.get(name)
    if value is None:
        raise where.error(f"<{element.tag}> has no {name!r} attribute")
    return value


def _integer_attribute(where: _Where, element: ET.Element, name: str) -> int:
    text = _attribute(where, element, name).strip()
    if not INTEGER.fullmatch(text):
        raise where.error(f"{name} is not an integer: {text!r}")
    return int(text)


def _flag_attribute(where: _Where, element: ET.Element, name: str) -> bool:
    text = _attribute(where, element, name).strip()
    if text not in ("0", "1"):
        raise where.error(f"{name} must be 0 or 1, got {text!r}")
    return text == "1"


def _float_attribute(where: _Where, element: ET.Element, name: str) -> float:
    text = _attribute(where, element, name)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise where.error(f"{name} is not a finite number: {text!r}")
    return value


def _paired_videos(video_dir: Path, annotation_dir: Path) -> list[str]:
    """Sorted clip ids, after checking videos and XMLs match one to one."""
    for folder in (video_dir, annotation_dir):
        if not folder.is_dir():
            raise DatasetFormatError(folder, "folder is missing")
    videos = {path.stem for path in video_dir.glob("*.mp4")}
    xmls = {path.stem for path in annotation_dir.glob("*.xml")}
    if unannotated := sorted(videos - xmls):
        raise DatasetFormatError(
            video_dir / f"{unannotated[0]}.mp4",
            f"video has no annotation file {annotation_dir / unannotated[0]}.xml",
        )
    if orphaned := sorted(xmls - videos):
        raise DatasetFormatError(
            annotation_dir / f"{orphaned[0]}.xml",
            f"annotation file has no video {video_dir / orphaned[0]}.mp4",
        )
    return sorted(videos)
