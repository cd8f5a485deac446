"""Frames of annotated videos as (image, target) samples for torchvision detectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from edgecloud.data.annotations import FrameAnnotations, VideoAnnotations


def frame_to_tensor(frame_rgb: np.ndarray) -> torch.Tensor:
    """RGB uint8 (H, W, 3) → float32 (3, H, W) in [0, 1], the input torchvision detectors take."""
    return torch.from_numpy(np.ascontiguousarray(frame_rgb)).permute(2, 0, 1).float().div_(255.0)


def annotations_to_target(annotations: FrameAnnotations) -> dict[str, torch.Tensor]:
    return {
        "boxes": torch.from_numpy(annotations.boxes.astype(np.float32, copy=True)),
        "labels": torch.from_numpy(annotations.labels.astype(np.int64, copy=True)),
        "ignore_boxes": torch.from_numpy(annotations.ignore_boxes.astype(np.float32, copy=True)),
    }


def target_to_annotations(target: dict[str, torch.Tensor]) -> FrameAnnotations:
    """The inverse of :func:`annotations_to_target`, for scoring predictions on the CPU."""
    labels = target["labels"].cpu().numpy()
    return FrameAnnotations(
        boxes=target["boxes"].cpu().numpy().astype(np.float32),
        labels=labels.astype(np.int64),
        track_ids=np.full(len(labels), -1, dtype=np.int64),
        ignore_boxes=target["ignore_boxes"].cpu().numpy().astype(np.float32),
    )


def flip_target_horizontally(
    target: dict[str, torch.Tensor], *, width: int
) -> dict[str, torch.Tensor]:
    flipped = dict(target)
    for key in ("boxes", "ignore_boxes"):
        boxes = target[key].clone()
        boxes[:, [0, 2]] = width - target[key][:, [2, 0]]
        flipped[key] = boxes
    return flipped


class DetectionFrameDataset(Dataset):
    """Every ``frame_stride``-th frame of each video, in video order.

    ``horizontal_flip`` is the probability of mirroring a sample (training augmentation); the
    draw uses torch's generator, which Lightning seeds per worker.
    """

    def __init__(
        self,
        videos: Sequence[VideoAnnotations],
        *,
        frame_stride: int = 1,
        horizontal_flip: float = 0.0,
    ) -> None:
        if frame_stride < 1:
            raise ValueError(f"frame_stride must be >= 1, got {frame_stride}")
        if not 0.0 <= horizontal_flip <= 1.0:
            raise ValueError(f"horizontal_flip is a probability, got {horizontal_flip}")
        self.videos = list(videos)
        self.horizontal_flip = horizontal_flip
        self.index = [
            (video_index, frame_index)
            for video_index, video in enumerate(self.videos)
            for frame_index in range(0, len(video), frame_stride)
        ]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        video_index, frame_index = self.index[item]
        video = self.videos[video_index]
        image = frame_to_tensor(video.frames.read(frame_index))
        target = annotations_to_target(video.annotations[frame_index])
        if self.horizontal_flip and torch.rand(()) < self.horizontal_flip:
            image = image.flip(-1)
            target = flip_target_horizontally(target, width=image.shape[-1])
        target["video_index"] = torch.tensor(video_index)
        target["frame_index"] = torch.tensor(frame_index)
        return image, target


def collate_detection_batch(batch):
    """Keep images and targets as tuples: detectors take lists of differently sized images."""
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)
