"""Detection samples from annotated videos, the flip augmentation, and the datamodule."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from edgecloud.data.annotations import FrameAnnotations, VideoAnnotations
from edgecloud.data.datamodule import DetectionDataModule
from edgecloud.data.detection_dataset import (
    DetectionFrameDataset,
    annotations_to_target,
    collate_detection_batch,
    frame_to_tensor,
    target_to_annotations,
)
from edgecloud.data.frames import ImageFolderFrames

WIDTH, HEIGHT = 64, 48


def gradient_frame(index: int) -> np.ndarray:
    """An RGB frame that is not mirror-symmetric: red grows with x, green is the frame index."""
    frame = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    frame[..., 0] = np.arange(WIDTH, dtype=np.uint8)[None, :] * 4
    frame[..., 1] = index * 10
    frame[..., 2] = np.arange(HEIGHT, dtype=np.uint8)[:, None] * 5
    return frame


def annotated_frame(index: int) -> FrameAnnotations:
    """One object at x 10..20 and one ignore region at x 0..30; y depends on the frame."""
    return FrameAnnotations(
        boxes=np.array([[10, index, 20, index + 8]], dtype=np.float32),
        labels=np.array([1 + index % 2], dtype=np.int64),
        track_ids=np.array([index], dtype=np.int64),
        ignore_boxes=np.array([[0, 5, 30, 25]], dtype=np.float32),
    )


def make_video(folder: Path, name: str, num_frames: int) -> VideoAnnotations:
    """A video of lossless PNG frames (so pixels compare exactly) with in-memory annotations."""
    folder.mkdir(parents=True)
    paths = []
    for index in range(num_frames):
        path = folder / f"{index:07d}.png"
        assert cv2.imwrite(str(path), cv2.cvtColor(gradient_frame(index), cv2.COLOR_RGB2BGR))
        paths.append(path)
    return VideoAnnotations(
        name=name,
        frames=ImageFolderFrames(paths, location=folder),
        annotations=[annotated_frame(index) for index in range(num_frames)],
        fps=30.0,
    )


@pytest.fixture
def videos(tmp_path: Path) -> list[VideoAnnotations]:
    return [make_video(tmp_path / "a", "a", 5), make_video(tmp_path / "b", "b", 3)]


# --- DetectionFrameDataset ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("stride", "expected"),
    [
        (1, [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (1, 1), (1, 2)]),
        (2, [(0, 0), (0, 2), (0, 4), (1, 0), (1, 2)]),
        (3, [(0, 0), (0, 3), (1, 0)]),
        (10, [(0, 0), (1, 0)]),
    ],
)
def test_frame_stride_picks_every_nth_frame_of_each_video(
    videos: list[VideoAnnotations], stride: int, expected: list[tuple[int, int]]
) -> None:
    dataset = DetectionFrameDataset(videos, frame_stride=stride)
    assert len(dataset) == len(expected)
    assert dataset.index == expected


def test_sample_is_the_indexed_frame_and_its_annotations(videos: list[VideoAnnotations]) -> None:
    dataset = DetectionFrameDataset(videos, frame_stride=2)
    image, target = dataset[4]  # video 1, frame 2
    torch.testing.assert_close(image, frame_to_tensor(gradient_frame(2)))
    assert int(target["video_index"]) == 1
    assert int(target["frame_index"]) == 2
    torch.testing.assert_close(target["boxes"], torch.tensor([[10.0, 2.0, 20.0, 10.0]]))
    torch.testing.assert_close(target["labels"], torch.tensor([1]))
    torch.testing.assert_close(target["ignore_boxes"], torch.tensor([[0.0, 5.0, 30.0, 25.0]]))


def test_frame_to_tensor_layout_range_and_dtype() -> None:
    frame = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    frame[..., 0] = 255
    frame[3, 7] = (51, 102, 0)
    tensor = frame_to_tensor(frame)
    assert tensor.shape == (3, HEIGHT, WIDTH)
    assert tensor.dtype == torch.float32
    assert float(tensor.min()) == 0.0
    assert float(tensor.max()) == 1.0
    torch.testing.assert_close(tensor[:, 3, 7], torch.tensor([0.2, 0.4, 0.0]))
    torch.testing.assert_close(tensor[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))


def test_frame_to_tensor_accepts_a_non_contiguous_view() -> None:
    frame = gradient_frame(1)[:, ::-1]
    torch.testing.assert_close(frame_to_tensor(frame)[0, 0, 0], torch.tensor(252 / 255))


def test_certain_flip_mirrors_image_boxes_and_ignore_boxes(
    videos: list[VideoAnnotations],
) -> None:
    dataset = DetectionFrameDataset(videos, horizontal_flip=1.0)
    image, target = dataset[3]
    torch.testing.assert_close(image, frame_to_tensor(gradient_frame(3)).flip(-1))
    torch.testing.assert_close(image[0, 0, 0], torch.tensor(252 / 255))  # was x = 63
    # x' = width - x: the object x 10..20 becomes 44..54, the ignore region 0..30 becomes 34..64.
    torch.testing.assert_close(target["boxes"], torch.tensor([[44.0, 3.0, 54.0, 11.0]]))
    torch.testing.assert_close(target["ignore_boxes"], torch.tensor([[34.0, 5.0, 64.0, 25.0]]))
    torch.testing.assert_close(target["labels"], torch.tensor([2]))
    assert int(target["frame_index"]) == 3


def test_flip_leaves_the_annotations_unchanged(videos: list[VideoAnnotations]) -> None:
    _ = DetectionFrameDataset(videos, horizontal_flip=1.0)[0]
    np.testing.assert_array_equal(videos[0].annotations[0].boxes, [[10, 0, 20, 8]])
    np.testing.assert_array_equal(videos[0].annotations[0].ignore_boxes, [[0, 5, 30, 25]])


def test_no_flip_leaves_image_and_boxes(videos: list[VideoAnnotations]) -> None:
    dataset = DetectionFrameDataset(videos, horizontal_flip=0.0)
    for item in range(len(dataset)):
        image, target = dataset[item]
        frame_index = int(target["frame_index"])
        torch.testing.assert_close(image, frame_to_tensor(gradient_frame(frame_index)))
        torch.testing.assert_close(
            target["boxes"], torch.tensor([[10.0, frame_index, 20.0, frame_index + 8.0]])
        )
        torch.testing.assert_close(target["ignore_boxes"], torch.tensor([[0.0, 5.0, 30.0, 25.0]]))


@pytest.mark.parametrize("stride", [0, -1])
def test_invalid_stride_raises(videos: list[VideoAnnotations], stride: int) -> None:
    with pytest.raises(ValueError, match=f"frame_stride must be >= 1, got {stride}"):
        DetectionFrameDataset(videos, frame_stride=stride)


@pytest.mark.parametrize("probability", [-0.1, 1.5])
def test_invalid_flip_probability_raises(
    videos: list[VideoAnnotations], probability: float
) -> None:
    with pytest.raises(ValueError, match="horizontal_flip is a probability"):
        DetectionFrameDataset(videos, horizontal_flip=probability)


# --- targets -----------------------------------------------------------------------------


def test_target_round_trips_to_annotations() -> None:
    annotations = FrameAnnotations(
        boxes=np.array([[1.5, 2, 30, 40], [5, 6, 7, 8.25]], dtype=np.float32),
        labels=np.array([3, 1], dtype=np.int64),
        track_ids=np.array([11, 12], dtype=np.int64),
        ignore_boxes=np.array([[0, 0, 10, 10]], dtype=np.float32),
    )
    target = annotations_to_target(annotations)
    assert target["boxes"].dtype == torch.float32
    assert target["labels"].dtype == torch.int64
    back = target_to_annotations(target)
    np.testing.assert_array_equal(back.boxes, annotations.boxes)
    np.testing.assert_array_equal(back.labels, annotations.labels)
    np.testing.assert_array_equal(back.ignore_boxes, annotations.ignore_boxes)
    assert back.boxes.dtype == np.float32
    assert back.labels.dtype == np.int64
    # Targets carry no track ids: they come back as "no track".
    np.testing.assert_array_equal(back.track_ids, [-1, -1])


def test_empty_target_round_trips() -> None:
    back = target_to_annotations(annotations_to_target(FrameAnnotations()))
    assert back.boxes.shape == (0, 4)
    assert back.labels.shape == (0,)
    assert back.ignore_boxes.shape == (0, 4)


def test_target_does_not_share_memory_with_annotations() -> None:
    annotations = annotated_frame(0)
    target = annotations_to_target(annotations)
    target["boxes"][0, 0] = 99.0
    target["ignore_boxes"][0, 0] = 99.0
    assert annotations.boxes[0, 0] == 10.0
    assert annotations.ignore_boxes[0, 0] == 0.0


def test_collate_keeps_differently_sized_images_as_lists() -> None:
    batch = [
        (torch.zeros(3, 48, 64), {"labels": torch.tensor([1])}),
        (torch.zeros(3, 20, 30), {"labels": torch.tensor([2, 3])}),
        (torch.zeros(3, 10, 10), {"labels": torch.tensor([], dtype=torch.int64)}),
    ]
    images, targets = collate_detection_batch(batch)
    assert isinstance(images, list)
    assert isinstance(targets, list)
    assert [image.shape[1:] for image in images] == [(48, 64), (20, 30), (10, 10)]
    assert all(image is sample[0] for image, sample in zip(images, batch, strict=True))
    assert [target["labels"].tolist() for target in targets] == [[1], [2, 3], []]


# --- DetectionDataModule -----------------------------------------------------------------


def make_datamodule(videos: list[VideoAnnotations], **kwargs) -> DetectionDataModule:
    return DetectionDataModule(
        class_names=["car", "person"],
        train_videos=lambda: [videos[0]],
        val_videos=lambda: [videos[1]],
        **kwargs,
    )


def test_prepare_data_calls_prepare_once(videos: list[VideoAnnotations]) -> None:
    calls = []
    datamodule = make_datamodule(videos, prepare=lambda: calls.append("prepared"))
    assert calls == []
    datamodule.prepare_data()
    assert calls == ["prepared"]


def test_prepare_data_without_prepare_does_nothing(videos: list[VideoAnnotations]) -> None:
    make_datamodule(videos).prepare_data()


def test_setup_fit_builds_train_and_val_sets(videos: list[VideoAnnotations]) -> None:
    datamodule = make_datamodule(
        videos, train_frame_stride=2, val_frame_stride=1, horizontal_flip=0.25
    )
    datamodule.setup("fit")
    assert datamodule.train_set.index == [(0, 0), (0, 2), (0, 4)]
    assert datamodule.train_set.horizontal_flip == 0.25
    assert datamodule.val_set.index == [(0, 0), (0, 1), (0, 2)]
    assert datamodule.val_set.horizontal_flip == 0.0
    [val_video] = datamodule.val_set.videos
    assert val_video is videos[1]


def test_setup_validate_builds_only_the_val_set(videos: list[VideoAnnotations]) -> None:
    datamodule = make_datamodule(videos)
    datamodule.setup("validate")
    assert datamodule.train_set is None
    assert len(datamodule.val_set) == 3


def test_setup_reads_videos_once(videos: list[VideoAnnotations]) -> None:
    reads = []

    def train_videos() -> list[VideoAnnotations]:
        reads.append("train")
        return [videos[0]]

    datamodule = DetectionDataModule(
        class_names=["car"], train_videos=train_videos, val_videos=lambda: [videos[1]]
    )
    datamodule.setup("fit")
    datamodule.setup("fit")
    assert reads == ["train"]


def test_train_dataloader_drops_a_short_last_batch_by_default(
    videos: list[VideoAnnotations],
) -> None:
    datamodule = make_datamodule(videos, batch_size=2, horizontal_flip=0.0)
    datamodule.setup("fit")
    assert [len(images) for images, _ in datamodule.train_dataloader()] == [2, 2]


def test_train_dataloader_yields_batches_of_lists(videos: list[VideoAnnotations]) -> None:
    datamodule = make_datamodule(videos, batch_size=2, horizontal_flip=0.0, drop_last_train=False)
    datamodule.setup("fit")
    batches = list(datamodule.train_dataloader())
    assert [len(images) for images, _ in batches] == [2, 2, 1]
    images, targets = batches[0]
    assert isinstance(images, list)
    assert isinstance(targets, list)
    assert images[0].shape == (3, HEIGHT, WIDTH)
    assert set(targets[0]) == {"boxes", "labels", "ignore_boxes", "video_index", "frame_index"}
    frame_indices = sorted(int(t["frame_index"]) for _, batch in batches for t in batch)
    assert frame_indices == [0, 1, 2, 3, 4]


def test_val_dataloader_keeps_frame_order(videos: list[VideoAnnotations]) -> None:
    datamodule = make_datamodule(videos, batch_size=2, val_batch_size=3)
    datamodule.setup("validate")
    [(images, targets)] = list(datamodule.val_dataloader())
    assert len(images) == 3
    assert [int(target["frame_index"]) for target in targets] == [0, 1, 2]


def test_val_videos_prepares_and_returns_whole_videos(videos: list[VideoAnnotations]) -> None:
    calls = []
    datamodule = make_datamodule(videos, prepare=lambda: calls.append("prepared"))
    [val_video] = datamodule.val_videos()
    assert val_video is videos[1]
    assert calls == ["prepared"]


@pytest.mark.parametrize("class_names", [[], ["car", "car"], ["car", "person", "car"]])
def test_bad_class_names_raise(videos: list[VideoAnnotations], class_names: list[str]) -> None:
    with pytest.raises(ValueError, match="class_names must be non-empty and unique"):
        DetectionDataModule(
            class_names=class_names,
            train_videos=lambda: [videos[0]],
            val_videos=lambda: [videos[1]],
        )
