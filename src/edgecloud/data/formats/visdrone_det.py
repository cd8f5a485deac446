"""VisDrone2019-DET: read (and write) the on-disk layout of a split root.

A split root such as ``VisDrone2019-DET-train/`` holds ``images/<name>.jpg`` and one
``annotations/<name>.txt`` per image. Every annotation line is one object, eight
comma-separated integers (some releases end lines with a trailing comma, which is accepted)::

    bbox_left,bbox_top,bbox_width,bbox_height,score,object_category,truncation,occlusion

The fields mean what they mean in VisDrone2019-VID, whose reader
(:mod:`edgecloud.data.formats.visdrone_vid`) this one shares its checks, category mapping and
ignore-region rules with: category 0, "others" (unless ``others="class"``), rows with
``score`` 0 and classes left out of ``class_names`` become ignore regions.

The split is returned as one one-frame :class:`VideoAnnotations` per image (named by the
image's file name without suffix), the representation the COCO JSON reader uses for images
without a video: DET images are unrelated stills of different sizes, and evaluation and
recordings take a video's frame size from its first frame. DET has no track ids; objects get
:data:`~edgecloud.data.formats.common.NO_TRACK`. Because every video has one frame, a frame
stride above 1 still keeps every image.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

from edgecloud.data.annotations import FrameAnnotations, VideoAnnotations
from edgecloud.data.errors import DatasetFormatError
from edgecloud.data.formats.common import NO_TRACK, read_integer_rows
from edgecloud.data.formats.visdrone_vid import (
    VISDRONE_CLASS_NAMES,
    OthersMode,
    visdrone_category_labels,
    visdrone_frame_annotations,
    visdrone_object_problem,
)
from edgecloud.data.frames import ImageFolderFrames

IMAGE_SUFFIX = ".jpg"
"""Suffix of the image files under ``images/``."""


@dataclass(frozen=True)
class VisDroneDetRow:
    """One annotation line: one object in the image, the eight fields in file order."""

    bbox_left: int
    bbox_top: int
    bbox_width: int
    bbox_height: int
    score: int
    object_category: int
    truncation: int
    occlusion: int

    def to_line(self) -> str:
        """The row as VisDrone writes it (no trailing comma), without the line break."""
        return ",".join(str(value) for value in astuple(self))


def write_visdrone_det_annotations(path: str | Path, rows: Iterable[VisDroneDetRow]) -> None:
    """Write rows to an annotation file in the VisDrone-DET text format."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(row.to_line() + "\n" for row in rows), encoding="ascii")


def read_visdrone_det_rows(path: str | Path) -> list[VisDroneDetRow]:
    """Read an annotation file as rows, checking each line on its own."""
    return [row for _, row in _read_numbered_rows(Path(path))]


def parse_visdrone_det_annotations(
    path: str | Path,
    *,
    class_names: Sequence[str] = VISDRONE_CLASS_NAMES,
    others: OthersMode = "ignore",
) -> FrameAnnotations:
    """Parse one image's annotation file into its ground truth.

    Boxes become float32 ``(left, top, left + width, top + height)``. Category 0, rows with
    ``score`` 0, "others" when ``others="ignore"`` and VisDrone classes missing from
    ``class_names`` go to ``ignore_boxes``; every other row is an object labelled by its
    position in ``class_names`` (1-based), with track id ``NO_TRACK``.
    """
    labels = visdrone_category_labels(class_names, others)
    rows = _read_numbered_rows(Path(path))
    return visdrone_frame_annotations(((row, NO_TRACK) for _, row in rows), labels)


def read_visdrone_det(
    root: str | Path,
    *,
    class_names: Sequence[str] = VISDRONE_CLASS_NAMES,
    others: OthersMode = "ignore",
    images: Sequence[str] | None = None,
    fps: float = 30.0,
) -> list[VideoAnnotations]:
    """Read the images of a VisDrone2019-DET split root (all of them, sorted, by default) as
    one-frame videos, for :class:`~edgecloud.data.datamodule.DetectionDataModule`.

    ``images`` selects images by name (file name without ``.jpg``). The root must be
    consistent: ``images/`` holds only ``.jpg`` files, ``annotations/`` only ``.txt`` files,
    each image has an annotation file and vice versa, and there is at least one image. An
    empty annotation file is an image without objects. Images are only listed here; a corrupt
    one is reported when it is read. A still image has no frame rate: ``fps`` only labels the
    videos (recordings store it).
    """
    root = Path(root)
    visdrone_category_labels(class_names, others)
    image_dir, annotation_dir = root / "images", root / "annotations"
    available = _paired_images(image_dir, annotation_dir)
    selected = available if images is None else list(images)
    known = set(available)
    for name in selected:
        if name not in known:
            raise DatasetFormatError(image_dir / f"{name}{IMAGE_SUFFIX}", "no such image")
    return [
        _read_image(
            image_dir / f"{name}{IMAGE_SUFFIX}",
            annotation_dir / f"{name}.txt",
            class_names=class_names,
            others=others,
            fps=fps,
        )
        for name in selected
    ]


def _read_numbered_rows(path: Path) -> list[tuple[int, VisDroneDetRow]]:
    return read_integer_rows(path, VisDroneDetRow, check=visdrone_object_problem)


def _paired_images(image_dir: Path, annotation_dir: Path) -> list[str]:
    """Sorted image names, after checking images and annotation files match one to one."""
    for folder in (image_dir, annotation_dir):
        if not folder.is_dir():
            raise DatasetFormatError(folder, "folder is missing (not a VisDrone2019-DET root?)")
    images = set()
    for entry in image_dir.iterdir():
        if not (entry.is_file() and entry.suffix == IMAGE_SUFFIX):
            raise DatasetFormatError(entry, "unexpected entry: images/ holds only .jpg files")
        images.add(entry.stem)
    files = set()
    for entry in annotation_dir.iterdir():
        if not (entry.is_file() and entry.suffix == ".txt"):
            raise DatasetFormatError(entry, "unexpected entry: annotations/ holds only .txt files")
        files.add(entry.stem)
    if unannotated := sorted(images - files):
        name = unannotated[0]
        raise DatasetFormatError(
            image_dir / f"{name}{IMAGE_SUFFIX}", f"image has no annotation file {name}.txt"
        )
    if orphaned := sorted(files - images):
        name = orphaned[0]
        raise DatasetFormatError(
            annotation_dir / f"{name}.txt", f"annotation file has no image {name}{IMAGE_SUFFIX}"
        )
    if not images:
        raise DatasetFormatError(image_dir, "split has no images")
    return sorted(images)


def _read_image(
    image: Path,
    annotation_file: Path,
    *,
    class_names: Sequence[str],
    others: OthersMode,
    fps: float,
) -> VideoAnnotations:
    annotations = parse_visdrone_det_annotations(
        annotation_file, class_names=class_names, others=others
    )
    frames = ImageFolderFrames([image], location=image)
    return VideoAnnotations(name=image.stem, frames=frames, annotations=[annotations], fps=fps)
