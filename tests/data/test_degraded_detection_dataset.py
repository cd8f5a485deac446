"""Detection frames with the server's degraded copy: crops, box handling, small flags, JPEG
knobs, and the detection datamodule's super-resolution mode."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from edgecloud.data.annotations import FrameAnnotations, VideoAnnotations
from edgecloud.data.datamodule import DetectionDataModule
from edgecloud.data.degradation import Knobs, degrade
from edgecloud.data.degraded_detection_dataset import (
    DegradedDetectionDataset,
    crop_annotations,
)
from edgecloud.data.frames import ImageFolderFrames

HEIGHT, WIDTH = 50, 66  # not multiples of 4: whole frames are trimmed to 48 x 64


def textured_frame(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def frame_annotations() -> FrameAnnotations:
    """A frame of 3300 pixels; small below 1% means below 33 pixels."""
    return FrameAnnotations(
        boxes=np.array(
            [
                [2, 2, 7, 7],  # 25 pixels: small
                [20, 10, 60, 40],  # 1200 pixels: not small
                [40, 44, 45, 50],  # 30 pixels: small, crosses the trimmed bottom edge (48)
            ],
            dtype=np.float32,
        ),
        labels=np.array([1, 2, 3], dtype=np.int64),
        track_ids=np.array([-1, -1, -1], dtype=np.int64),
        ignore_boxes=np.array([[0, 30, 10, 50]], dtype=np.float32),
    )


def make_video(folder: Path, name: str, num_frames: int = 2) -> VideoAnnotations:
    """Lossless PNG frames (pixels compare exactly) with in-memory annotations."""
    folder.mkdir(parents=True)
    paths = []
    for index in range(num_frames):
        path = folder / f"{index:07d}.png"
        assert cv2.imwrite(str(path), cv2.cvtColor(textured_frame(index), cv2.COLOR_RGB2BGR))
        paths.append(path)
    return VideoAnnotations(
        name=name,
        frames=ImageFolderFrames(paths, location=folder),
        annotations=[frame_annotations() for _ in range(num_frames)],
        fps=30.0,
    )


@pytest.fixture
def video(tmp_path: Path) -> VideoAnnotations:
    return make_video(tmp_path / "clip", "clip")


def dataset(videos, **kwargs) -> DegradedDetectionDataset:
    options = {"scale": 4, "jpeg_qualities": [90], "small_box_fraction": 0.01}
    return DegradedDetectionDataset(videos, **{**options, **kwargs})


def test_crop_annotations_clips_shifts_and_turns_cut_boxes_into_ignore_regions() -> None:
    annotations = FrameAnnotations(
        boxes=np.array(
            [
                [12, 12, 16, 16],  # inside the crop
                [8, 12, 12, 16],  # half inside (x 10..12 of 8..12): kept, clipped
                [7, 12, 11, 16],  # a quarter inside: an ignore region
                [0, 0, 4, 4],  # outside: dropped
            ],
            dtype=np.float32,
        ),
        labels=np.array([1, 2, 3, 4], dtype=np.int64),
        track_ids=np.array([5, 6, 7, 8], dtype=np.int64),
        ignore_boxes=np.array([[20, 20, 40, 40], [0, 0, 5, 5]], dtype=np.float32),
    )
    small = np.array([True, False, True, True])
    cropped, kept_small = crop_annotations(
        annotations, small, top=10, left=10, height=20, width=20, min_visible_fraction=0.5
    )
    np.testing.assert_array_equal(cropped.boxes, [[2, 2, 6, 6], [0, 2, 2, 6]])
    np.testing.assert_array_equal(cropped.labels, [1, 2])
    np.testing.assert_array_equal(cropped.track_ids, [5, 6])
    assert kept_small.tolist() == [True, False]
    # the clipped ignore region, then the cut box (clipped); the region outside is dropped
    np.testing.assert_array_equal(cropped.ignore_boxes, [[10, 10, 20, 20], [0, 2, 1, 6]])


def test_whole_frames_are_trimmed_to_the_scale_with_small_flags_of_the_whole_frame(video):
    item = dataset([video])[0]
    assert item["image"].shape == (3, 48, 64)
    assert item["low_res"].shape == (3, 12, 16)
    target = item["target"]
    # the third box loses 2 of its 6 rows to the trim and stays an object (4/6 visible)
    np.testing.assert_array_equal(
        target["boxes"], [[2, 2, 7, 7], [20, 10, 60, 40], [40, 44, 45, 48]]
    )
    assert target["small"].tolist() == [True, False, True]
    assert target["frame_size"].tolist() == [HEIGHT, WIDTH]
    np.testing.assert_array_equal(target["ignore_boxes"], [[0, 30, 10, 48]])
    frame = textured_frame(0)[:48, :64]
    np.testing.assert_array_equal(item["image"], torch.from_numpy(frame).permute(2, 0, 1) / 255.0)
    sent = degrade(frame, Knobs(scale=4, quality=90))
    assert item["num_bytes"] == sent.num_bytes
    np.testing.assert_array_equal(
        item["low_res"], torch.from_numpy(sent.image).permute(2, 0, 1) / 255.0
    )


def test_crops_keep_the_small_flags_of_the_whole_frame(video):
    # The 25-pixel box is 1.6% of a 32x48 crop, yet small (under 1% of the whole frame);
    # the 1200-pixel box is never small. Crops start on multiples of the scale.
    data = dataset([video], crop_size=[32, 48], small_box_fraction=0.01)
    torch.manual_seed(0)
    seen = set()
    for _ in range(30):
        item = data[0]
        target = item["target"]
        assert item["image"].shape == (3, 32, 48)
        assert item["low_res"].shape == (3, 8, 12)
        for label, small in zip(target["labels"].tolist(), target["small"].tolist(), strict=True):
            assert small == (label != 2)
            seen.add(label)
    assert {1, 2} <= seen


def test_jpeg_quality_is_drawn_per_item_with_torchs_seeded_generator(video):
    data = dataset([video], jpeg_qualities=[10, 95])
    frame = textured_frame(0)[:48, :64]
    sizes = {q: degrade(frame, Knobs(scale=4, quality=q)).num_bytes for q in (10, 95)}
    torch.manual_seed(3)
    first = [data[0]["num_bytes"] for _ in range(12)]
    torch.manual_seed(3)
    again = [data[0]["num_bytes"] for _ in range(12)]
    assert first == again
    assert set(first) == set(sizes.values())


def test_horizontal_flip_mirrors_image_and_boxes(video):
    item = dataset([video], horizontal_flip=1.0)[0]
    np.testing.assert_array_equal(
        item["image"],
        torch.from_numpy(textured_frame(0)[:48, :64][:, ::-1].copy()).permute(2, 0, 1) / 255.0,
    )
    np.testing.assert_array_equal(item["target"]["boxes"][0], [57, 2, 62, 7])
    assert item["target"]["small"].tolist() == [True, False, True]


def test_sizes_that_are_not_multiples_of_the_scale_are_rejected(video):
    with pytest.raises(ValueError, match="multiples of the scale 4"):
        dataset([video], crop_size=[16, 22])
    with pytest.raises(ValueError, match="larger than"):
        dataset([video], crop_size=[52, 64])[0]
    with pytest.raises(ValueError, match="jpeg_qualities"):
        dataset([video], jpeg_qualities=[])
    with pytest.raises(ValueError, match="max_area_fraction"):
        dataset([video], small_box_fraction=0.0)


def test_datamodule_serves_degraded_batches_with_a_scale(tmp_path):
    train = [make_video(tmp_path / "a", "a", 4)]
    val = [make_video(tmp_path / "b", "b", 3)]
    datamodule = DetectionDataModule(
        class_names=["a", "b", "c"],
        train_videos=lambda: train,
        val_videos=lambda: val,
        batch_size=2,
        scale=4,
        crop_size=[16, 24],
        jpeg_qualities=[50, 90],
        small_box_fraction=0.01,
    )
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    assert [tuple(image.shape) for image in batch["image"]] == [(3, 16, 24)] * 2
    assert [tuple(image.shape) for image in batch["low_res"]] == [(3, 4, 6)] * 2
    assert batch["num_bytes"].shape == (2,) and len(batch["target"]) == 2
    val_batch = next(iter(datamodule.val_dataloader()))
    assert [tuple(image.shape) for image in val_batch["image"]] == [(3, 48, 64)] * 2
    assert val_batch["target"][0]["small"].tolist() == [True, False, True]
