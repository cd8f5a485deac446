"""COCO JSON reader: category order, video grouping, ignore regions, element-naming errors."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgecloud.data.errors import DatasetFormatError
from edgecloud.data.formats.coco_json import NO_TRACK, read_coco_json

RED, GREEN, BLUE = (240, 30, 30), (30, 240, 30), (30, 30, 240)

DOCUMENT: dict[str, Any] = {
    "categories": [{"id": 3, "name": "car"}, {"id": 1, "name": "person"}],
    "images": [
        {"id": 20, "file_name": "vid/b.jpg", "video_id": 7, "frame_id": 2},
        {"id": 10, "file_name": "vid/a.jpg", "video_id": 7, "frame_id": 1},
        {"id": 30, "file_name": "misc/single.jpg"},
    ],
    "annotations": [
        {"id": 1, "image_id": 10, "category_id": 3, "bbox": [1, 2, 10, 20], "track_id": 4},
        {"id": 2, "image_id": 10, "category_id": 1, "bbox": [0.5, 0, 3, 4], "iscrowd": 1},
        {"id": 3, "image_id": 20, "category_id": 1, "bbox": [5, 6, 7, 8], "instance_id": 9},
        {"id": 4, "image_id": 30, "category_id": 1, "bbox": [1, 1, 2, 2], "iscrowd": 0},
    ],
}


def boxes(*rows) -> np.ndarray:
    return np.array(rows, dtype=np.float32).reshape(-1, 4)


def write_dataset(root: Path, document: Any, write_jpeg) -> Path:
    write_jpeg(root / "images" / "vid" / "a.jpg", RED)
    write_jpeg(root / "images" / "vid" / "b.jpg", GREEN)
    write_jpeg(root / "images" / "misc" / "single.jpg", BLUE)
    path = root / "train.json"
    path.write_text(json.dumps(document, indent=1))
    return path


@pytest.fixture
def dataset(tmp_path: Path, write_jpeg) -> Path:
    return write_dataset(tmp_path, DOCUMENT, write_jpeg)


def test_groups_video_frames_and_reads_boxes(dataset: Path) -> None:
    video, single = read_coco_json(dataset, dataset.parent / "images")
    assert (video.name, len(video), video.fps) == ("video_7", 2, 30.0)
    first, second = video.annotations
    np.testing.assert_array_equal(first.boxes, boxes((1, 2, 11, 22)))
    np.testing.assert_array_equal(first.labels, [2])
    np.testing.assert_array_equal(first.track_ids, [4])
    np.testing.assert_array_equal(first.ignore_boxes, boxes((0.5, 0, 3.5, 4)))
    np.testing.assert_array_equal(second.boxes, boxes((5, 6, 12, 14)))
    np.testing.assert_array_equal(second.labels, [1])
    np.testing.assert_array_equal(second.track_ids, [9])
    assert (single.name, len(single)) == ("misc/single", 1)
    np.testing.assert_array_equal(single.annotations[0].labels, [1])
    np.testing.assert_array_equal(single.annotations[0].track_ids, [NO_TRACK])


def test_frames_decode_in_frame_id_order(dataset: Path, assert_colour) -> None:
    video, single = read_coco_json(dataset, dataset.parent / "images")
    assert video.frames.location == dataset.parent / "images" / "vid"
    assert_colour(video.frames.read(0), RED)
    assert_colour(video.frames.read(1), GREEN)
    assert_colour(single.frames.read(0), BLUE)


def test_class_names_set_label_order(dataset: Path) -> None:
    video, _ = read_coco_json(dataset, dataset.parent, class_names=["car", "person"])
    np.testing.assert_array_equal(video.annotations[0].labels, [1])
    np.testing.assert_array_equal(video.annotations[1].labels, [2])


def test_videos_list_names_videos(tmp_path: Path, write_jpeg) -> None:
    document = {**DOCUMENT, "videos": [{"id": 7, "name": "street"}]}
    path = write_dataset(tmp_path, document, write_jpeg)
    assert read_coco_json(path, tmp_path)[0].name == "street"


def test_missing_image_is_reported_when_read(dataset: Path) -> None:
    (dataset.parent / "images" / "vid" / "b.jpg").unlink()
    video, _ = read_coco_json(dataset, dataset.parent / "images")
    with pytest.raises(DatasetFormatError, match=r"vid/b\.jpg: frame file is missing"):
        video.frames.read(1)


def edit(section: str, index: int, **changes: Any) -> Callable[[dict], None]:
    def apply(document: dict) -> None:
        element = document[section][index]
        for key, value in changes.items():
            if value is None:
                del element[key]
            else:
                element[key] = value

    return apply


def append(section: str, element: dict) -> Callable[[dict], None]:
    return lambda document: document[section].append(element)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (edit("annotations", 1, image_id=99), "annotations[1] (id 2): unknown image_id 99"),
        (edit("annotations", 2, category_id=2), "annotations[2] (id 3): unknown category_id 2"),
        (edit("annotations", 0, bbox=[1, 2, 3]), "annotations[0] (id 1): 'bbox' must be 4"),
        (edit("annotations", 0, bbox=[1, 2, 3, "4"]), "annotations[0] (id 1): 'bbox' must be 4"),
        (edit("annotations", 0, bbox="1 2 3 4"), "annotations[0] (id 1): 'bbox' must be list"),
        (edit("annotations", 3, bbox=[1, 1, 0, 2]), "annotations[3] (id 4): bbox size must be"),
        (edit("annotations", 3, bbox=[1, 1, 2, -2]), "annotations[3] (id 4): bbox size must be"),
        (edit("annotations", 3, iscrowd=2), "annotations[3] (id 4): 'iscrowd' must be 0 or 1"),
        (edit("annotations", 0, track_id="4"), "annotations[0] (id 1): 'track_id' must be int"),
        (edit("annotations", 1, id=None, image_id=None), "annotations[1]: 'image_id' must be int"),
        (append("annotations", [1, 2]), "annotations[4]: expected a JSON object"),
        (edit("images", 2, id=10), "images[2] (id 10): duplicate image id (first at images[1]"),
        (edit("images", 2, file_name=""), "images[2] (id 30): 'file_name' is empty"),
        (edit("images", 1, frame_id=None), "images[1] (id 10): has only one of 'video_id'"),
        (
            edit("images", 1, frame_id=2),
            "images[1] (id 10): frame_id 2 of video 7 repeats images[0]",
        ),
        (edit("categories", 1, id=3), "categories[1] (id 3): duplicate category id 3"),
        (edit("categories", 1, name="car"), "categories[1] (id 1): duplicate category name"),
        (edit("categories", 0, name=None), "categories[0] (id 3): 'name' must be str"),
        (lambda document: document.pop("images"), "top-level 'images' is missing"),
        (lambda document: document.update(categories=[]), "'categories' is empty"),
        (edit("videos", 0, id=8), "images[0] (id 20): video_id 7 is not in 'videos'"),
    ],
)
def test_bad_element_names_file_and_element(
    tmp_path: Path, write_jpeg, change: Callable[[dict], None], problem: str
) -> None:
    document = copy.deepcopy(DOCUMENT)
    document["videos"] = [{"id": 7, "name": "street"}]
    change(document)
    path = write_dataset(tmp_path, document, write_jpeg)
    with pytest.raises(DatasetFormatError, match=re.escape(f"train.json: {problem}")):
        read_coco_json(path, tmp_path)


def test_category_not_in_class_names(dataset: Path) -> None:
    with pytest.raises(
        DatasetFormatError,
        match=re.escape("train.json: categories[1] (id 1): name 'person' is not in class_names"),
    ):
        read_coco_json(dataset, dataset.parent, class_names=["car"])


def test_class_name_without_category(dataset: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"train\.json: class_names entry 'bus'"):
        read_coco_json(dataset, dataset.parent, class_names=["car", "person", "bus"])


def test_duplicate_class_names(dataset: Path) -> None:
    with pytest.raises(ValueError, match="class_names has duplicates"):
        read_coco_json(dataset, dataset.parent, class_names=["car", "car"])


def test_invalid_json_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "images": [],\n  "annotations": [,]\n}\n')
    with pytest.raises(
        DatasetFormatError, match=r"broken\.json:3: invalid JSON: Expecting value \(column 19\)"
    ):
        read_coco_json(path, tmp_path)


def test_top_level_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[]")
    with pytest.raises(DatasetFormatError, match=r"list\.json: top level is not a JSON object"):
        read_coco_json(path, tmp_path)


def test_missing_annotation_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"nope\.json: annotation file is missing"):
        read_coco_json(tmp_path / "nope.json", tmp_path)
