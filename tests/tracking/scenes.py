"""Synthetic videos with known motion: textured rectangles moving at constant integer velocities
over a textured background, or a camera panning over a large texture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgecloud.data.frames import ImageFolderFrames

WIDTH, HEIGHT = 320, 192


def texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth random RGB texture (blurred noise stretched to full contrast): corners everywhere,
    with structure a few pixels wide so optical flow can lock on."""
    noise = rng.uniform(0.0, 255.0, (height, width, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 1.5)
    low, high = smooth.min(), smooth.max()
    return np.round((smooth - low) / (high - low) * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class MovingObject:
    """A textured rectangle at ``box`` (integer x1y1x2y2) in frame 0, moving ``velocity`` px per
    frame."""

    box: tuple[int, int, int, int]
    velocity: tuple[int, int]

    def box_at(self, frame: int) -> np.ndarray:
        dx, dy = self.velocity[0] * frame, self.velocity[1] * frame
        x1, y1, x2, y2 = self.box
        return np.array([x1 + dx, y1 + dy, x2 + dx, y2 + dy], dtype=np.float64)


def render(
    objects: Sequence[MovingObject], *, num_frames: int, seed: int = 0
) -> tuple[list[np.ndarray], np.ndarray]:
    """RGB frames of the objects over a static background, and their true boxes ``(F, N, 4)``."""
    rng = np.random.default_rng(seed)
    background = texture(rng, HEIGHT, WIDTH)
    patches = [texture(rng, o.box[3] - o.box[1], o.box[2] - o.box[0]) for o in objects]
    frames, boxes = [], []
    for frame in range(num_frames):
        image = background.copy()
        frame_boxes = [o.box_at(frame) for o in objects]
        for patch, box in zip(patches, frame_boxes, strict=True):
            paste(image, patch, x=int(box[0]), y=int(box[1]))
        frames.append(image)
        boxes.append(frame_boxes)
    return frames, np.array(boxes, dtype=np.float64).reshape(num_frames, len(objects), 4)


def paste(image: np.ndarray, patch: np.ndarray, *, x: int, y: int) -> None:
    """Draw ``patch`` with its top-left corner at ``(x, y)``, cut at the image border."""
    height, width = patch.shape[:2]
    left, top = max(x, 0), max(y, 0)
    right, bottom = min(x + width, image.shape[1]), min(y + height, image.shape[0])
    if right > left and bottom > top:
        image[top:bottom, left:right] = patch[top - y : bottom - y, left - x : right - x]


def panning(*, num_frames: int, shift: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    """A camera moving over a static texture: frame ``t`` shows it shifted by ``-t * shift``."""
    dx, dy = shift
    world = texture(
        np.random.default_rng(seed), HEIGHT + abs(dy) * num_frames, WIDTH + abs(dx) * num_frames
    )
    x0 = 0 if dx >= 0 else abs(dx) * num_frames
    y0 = 0 if dy >= 0 else abs(dy) * num_frames
    return [
        world[y0 + dy * t : y0 + dy * t + HEIGHT, x0 + dx * t : x0 + dx * t + WIDTH]
        for t in range(num_frames)
    ]


class ListFrames:
    """An in-memory :class:`~edgecloud.data.frames.FrameSource`."""

    def __init__(self, frames: Sequence[np.ndarray]) -> None:
        self._frames = list(frames)

    @property
    def location(self) -> Path:
        return Path("memory")

    def __len__(self) -> int:
        return len(self._frames)

    def read(self, index: int) -> np.ndarray:
        return self._frames[index]


def write_frames(directory: Path, frames: Sequence[np.ndarray]) -> ImageFolderFrames:
    """The frames as lossless PNG files in ``directory``, read back through ImageFolderFrames."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, image in enumerate(frames):
        path = directory / f"{index:06d}.png"
        assert cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return ImageFolderFrames(paths, location=directory)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two ``(N, 4)`` x1y1x2y2 arrays."""
    width = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    height = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = width * height
    area = lambda box: (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)
