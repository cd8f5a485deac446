"""Segmentation and degraded-frame datasets and their datamodule, on hand-written Cityscapes frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from edgecloud.data.formats.cityscapes import read_cityscapes, write_cityscapes_frame
from edgecloud.data.formats.cityscapes_labels import CITYSCAPES_CLASS_NAMES
from edgecloud.data.segmentation_datamodule import SegmentationDataModule
from edgecloud.data.segmentation_dataset import (
    DegradedFrameDataset,
    SegmentationFrameDataset,
    image_to_tensor,
    tensor_to_image,
)

HEIGHT, WIDTH = 24, 48
POLE = CITYSCAPES_CLASS_NAMES.index("pole")
ROAD = CITYSCAPES_CLASS_NAMES.index("road")


def frame_arrays(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A noisy road frame with a 2x3 pole (0.5% of the frame) in the left half."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    train_ids = np.full((HEIGHT, WIDTH), ROAD, np.uint8)
    train_ids[4:6, 4:7] = POLE
    return image, train_ids


@pytest.fixture
def cityscapes_root(tmp_path):
    for split, city, frames in (("train", "aachen", 4), ("val", "bonn", 3)):
        for frame in range(frames):
            image, train_ids = frame_arrays(frame)
            write_cityscapes_frame(
                tmp_path,
                split=split,
                city=city,
                sequence=0,
                frame=frame,
                image_rgb=image,
                train_ids=train_ids,
            )
    return tmp_path


def test_image_tensor_round_trip_is_exact() -> None:
    image, _ = frame_arrays(0)
    tensor = image_to_tensor(image)
    assert tensor.shape == (3, HEIGHT, WIDTH) and tensor.dtype == torch.float32
    assert tensor.min() >= 0.0 and tensor.max() <= 1.0
    np.testing.assert_array_equal(tensor_to_image(tensor), image)


def test_tensor_to_image_clamps_overshoot() -> None:
    tensor = torch.tensor([-0.2, 0.5, 1.3]).view(3, 1, 1)
    assert tensor_to_image(tensor).ravel().tolist() == [0, 128, 255]


def test_whole_frames_are_served_unchanged(cityscapes_root) -> None:
    dataset = SegmentationFrameDataset(read_cityscapes(cityscapes_root, split="train"))
    item = dataset[2]
    image, train_ids = frame_arrays(2)
    np.testing.assert_array_equal(tensor_to_image(item["image"]), image)
    assert item["target"].dtype == torch.int64
    np.testing.assert_array_equal(item["target"].numpy(), train_ids)
    assert item["index"] == 2 and len(dataset) == 4


def test_crops_fall_on_the_multiple_and_flip_image_and_labels_together(cityscapes_root) -> None:
    frames = read_cityscapes(cityscapes_root, split="train")
    dataset = SegmentationFrameDataset(
        frames, crop_size=(12, 24), horizontal_flip=1.0, crop_multiple=4
    )
    image, train_ids = frame_arrays(1)
    torch.manual_seed(0)
    for _ in range(10):
        item = dataset[1]
        crop = tensor_to_image(item["image"])[:, ::-1]  # undo the flip
        labels = item["target"].numpy()[:, ::-1]
        matches = [
            (top, left)
            for top in range(0, HEIGHT - 12 + 1)
            for left in range(0, WIDTH - 24 + 1)
            if np.array_equal(image[top : top + 12, left : left + 24], crop)
        ]
        assert len(matches) == 1
        top, left = matches[0]
        assert top % 4 == 0 and left % 4 == 0
        np.testing.assert_array_equal(train_ids[top : top + 12, left : left + 24], labels)


@pytest.mark.parametrize(
    ("crop_size", "message"), [((10, 24), "multiples of 4"), ((12, 24, 3), "multiples of 4")]
)
def test_bad_crop_sizes_are_rejected(cityscapes_root, crop_size, message) -> None:
    frames = read_cityscapes(cityscapes_root, split="train")
    with pytest.raises(ValueError, match=message):
        SegmentationFrameDataset(frames, crop_size=crop_size, crop_multiple=4)


def test_a_crop_larger_than_the_frame_fails_when_served(cityscapes_root) -> None:
    frames = read_cityscapes(cityscapes_root, split="train")
    dataset = SegmentationFrameDataset(frames, crop_size=(48, 48))
    with pytest.raises(ValueError, match="larger than the 48x24 frame"):
        dataset[0]


def test_degraded_items_carry_the_real_jpeg_of_the_downscaled_frame(cityscapes_root) -> None:
    frames = read_cityscapes(cityscapes_root, split="val")
    dataset = DegradedFrameDataset(frames, scale=4, jpeg_qualities=[70])
    item = dataset[0]
    image, _ = frame_arrays(0)
    small = cv2.resize(image, (WIDTH // 4, HEIGHT // 4), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 70]
    )
    assert ok
    assert item["num_bytes"] == len(encoded)
    decoded = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(tensor_to_image(item["low_res"]), decoded)
    assert item["image"].shape == (3, HEIGHT, WIDTH)


def test_whole_degraded_frames_are_trimmed_to_the_scale(cityscapes_root) -> None:
    # 48x24 frames at x5 are served as their top-left 45x20, the pole's small mask included
    frames = read_cityscapes(cityscapes_root, split="val")
    item = DegradedFrameDataset(frames, scale=5, jpeg_qualities=[90])[0]
    image, train_ids = frame_arrays(0)
    np.testing.assert_array_equal(tensor_to_image(item["image"]), image[:20, :45])
    np.testing.assert_array_equal(item["target"].numpy(), train_ids[:20, :45])
    assert item["low_res"].shape == (3, 4, 9)
    assert item["small"].shape == (20, 45) and item["small"].sum() == 6


def test_small_regions_are_measured_on_the_whole_frame_before_cropping(cityscapes_root) -> None:
    # The 6-pixel pole is 0.52% of the 48x24 frame but 2.1% of a 12x24 crop: it stays small
    # under a 1% threshold because the threshold applies to the frame.
    frames = read_cityscapes(cityscapes_root, split="train")
    dataset = DegradedFrameDataset(
        frames, scale=2, jpeg_qualities=[90], small_region_fraction=0.01, crop_size=(12, 24)
    )
    torch.manual_seed(0)
    seen_pole = False
    for _ in range(20):
        item = dataset[0]
        pole = item["target"] == POLE
        assert torch.equal(item["small"], pole)
        seen_pole |= bool(pole.any())
    assert seen_pole
    assert item["low_res"].shape == (3, 6, 12)


def test_training_qualities_are_drawn_per_item(cityscapes_root) -> None:
    frames = read_cityscapes(cityscapes_root, split="train")
    dataset = DegradedFrameDataset(frames, scale=2, jpeg_qualities=[10, 95])
    torch.manual_seed(0)
    sizes = {dataset[0]["num_bytes"] for _ in range(20)}
    assert len(sizes) == 2


def test_degraded_dataset_needs_a_quality(cityscapes_root) -> None:
    with pytest.raises(ValueError, match="at least one JPEG quality"):
        DegradedFrameDataset(
            read_cityscapes(cityscapes_root, split="val"), scale=2, jpeg_qualities=[]
        )


def datamodule(root, **overrides) -> SegmentationDataModule:
    settings = {
        "class_names": CITYSCAPES_CLASS_NAMES,
        "train_frames": lambda: read_cityscapes(root, split="train"),
        "val_frames": lambda: read_cityscapes(root, split="val"),
        "batch_size": 2,
    }
    return SegmentationDataModule(**(settings | overrides))


def test_datamodule_serves_segmentation_batches_with_frame_strides(cityscapes_root) -> None:
    module = datamodule(cityscapes_root, train_frame_stride=2, crop_size=(24, 24))
    module.setup("fit")
    assert len(module.train_set) == 2 and len(module.val_set) == 3
    batch = next(iter(module.train_dataloader()))
    assert batch["image"].shape == (2, 3, 24, 24) and "low_res" not in batch
    val_batch = next(iter(module.val_dataloader()))
    assert val_batch["image"].shape == (2, 3, HEIGHT, WIDTH)
    assert len(module.val_frames()) == 3


def test_datamodule_with_a_scale_serves_degraded_batches(cityscapes_root) -> None:
    module = datamodule(cityscapes_root, scale=4, jpeg_qualities=[50, 90], val_jpeg_quality=60)
    module.setup("fit")
    batch = next(iter(module.val_dataloader()))
    assert batch["low_res"].shape == (2, 3, HEIGHT // 4, WIDTH // 4)
    assert batch["small"].dtype == torch.bool
    assert module.val_set.knobs[0].quality == 60
    assert [knobs.quality for knobs in module.train_set.knobs] == [50, 90]


def test_datamodule_runs_prepare_once_per_call(cityscapes_root) -> None:
    calls = []
    module = datamodule(cityscapes_root, prepare=lambda: calls.append(1))
    module.prepare_data()
    assert calls == [1]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"class_names": ["a", "a"]}, "non-empty and unique"),
        ({"train_frame_stride": 0}, "strides must be positive"),
    ],
)
def test_datamodule_rejects_bad_settings(cityscapes_root, overrides, message) -> None:
    with pytest.raises(ValueError, match=message):
        datamodule(cityscapes_root, **overrides)
