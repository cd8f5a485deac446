"""Detection frames with the server's degraded copy, for super-resolution on detection data.

:class:`DegradedDetectionDataset` is the detection counterpart of
:class:`~edgecloud.data.segmentation_dataset.DegradedFrameDataset`: every item is a frame (or
a random crop of it) at full resolution, the copy the server would receive of it (downscaled
by ``scale`` and JPEG-coded at a quality drawn per item from ``jpeg_qualities``, through
:func:`~edgecloud.data.degradation.degrade`) and the ground truth of the crop, each box
flagged ``small`` when it covers less than ``small_box_fraction`` of the *whole frame*
(decided before cropping, so that a crop does not make objects look larger than they are).
Analytics-aware SR computes its detection loss on the small boxes only.

Sizes: crops are ``crop_size`` (height, width), both multiples of ``scale`` (anything else is
rejected when the dataset is built), placed on multiples of ``scale`` so the low-resolution
copy covers whole pixels of the frame. Without ``crop_size`` (validation) an item is the whole
frame; a side that is not a multiple of ``scale`` loses its last ``side % scale`` (< ``scale``)
rows or columns, because VisDrone2019-DET's stills come in many sizes (1360x765 among them).

Boxes of a crop: every box is clipped to the crop. A box keeping at least
``min_visible_fraction`` of its area stays an object; a box cut down to less becomes an ignore
region (neither a true nor a false positive in evaluation, absent from the training targets),
so a sliver of a car at the crop's edge is not taught as a whole car. Ignore regions are
clipped the same way and kept while any of them is left.

Randomness (crop position, flip, JPEG quality) comes from torch's generator, which Lightning
seeds per worker, so a seeded run draws the same items every time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from edgecloud.data.annotations import FrameAnnotations, VideoAnnotations
from edgecloud.data.degradation import Knobs, degrade, exact_size
from edgecloud.data.detection_dataset import (
    DetectionFrameDataset,
    annotations_to_target,
    flip_target_horizontally,
    frame_to_tensor,
)
from edgecloud.data.segmentation_dataset import _random_crop_origin
from edgecloud.metrics.regions import small_box_mask


def crop_annotations(
    annotations: FrameAnnotations,
    small: np.ndarray,
    *,
    top: int,
    left: int,
    height: int,
    width: int,
    min_visible_fraction: float,
) -> tuple[FrameAnnotations, np.ndarray]:
    """The ground truth of the crop ``[top, top + height) x [left, left + width)`` in the
    crop's pixel coordinates, and the ``small`` flags of the boxes it keeps (module docstring:
    boxes keeping less than ``min_visible_fraction`` of their area become ignore regions)."""
    origin = np.array([left, top, left, top], dtype=np.float64)
    limits = np.array([width, height, width, height], dtype=np.float64)

    def clip(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        clipped = np.clip(boxes.astype(np.float64) - origin, 0.0, limits)
        area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
        return clipped, area

    boxes, visible = clip(annotations.boxes)
    full = annotations.boxes.astype(np.float64)
    full_area = (full[:, 2] - full[:, 0]) * (full[:, 3] - full[:, 1])
    kept = (visible > 0) & (visible >= min_visible_fraction * full_area)
    cut = (visible > 0) & ~kept
    ignore, ignore_area = clip(annotations.ignore_boxes)
    ignore = np.concatenate([ignore[ignore_area > 0], boxes[cut]])
    cropped = FrameAnnotations(
        boxes=boxes[kept].astype(np.float32),
        labels=annotations.labels[kept],
        track_ids=annotations.track_ids[kept],
        ignore_boxes=ignore.astype(np.float32).reshape(-1, 4),
    )
    return cropped, small[kept]


class DegradedDetectionDataset(DetectionFrameDataset):
    """Every ``frame_stride``-th frame of each video as a dict:

    * ``"image"``: ``(3, H, W)`` float in ``[0, 1]``, the (cropped) frame at full resolution;
    * ``"low_res"``: ``(3, H / scale, W / scale)``, the server's JPEG-coded copy of it, and
      ``"num_bytes"``, its encoded size;
    * ``"target"``: the crop's ``boxes``, ``labels`` and ``ignore_boxes`` (as
      :class:`~edgecloud.data.detection_dataset.DetectionFrameDataset` targets), ``small``
      (``(N,)`` bool per box), ``frame_size`` (``(2,)`` height and width of the whole frame
      the item was taken from, for a detector that rescales frames), ``video_index`` and
      ``frame_index``;
    * ``"index"``: the item's index.

    Args:
        videos: the annotated videos (DET stills are one-frame videos).
        scale: the downscale factor of the server's copy.
        jpeg_qualities: the JPEG quality of an item is drawn from these.
        small_box_fraction: a box under this fraction of the whole frame's area is small.
        crop_size: ``(height, width)`` of a random crop per item, multiples of ``scale``; None
            serves whole frames (trimmed to multiples of ``scale``).
        frame_stride: keep every n-th frame of a video.
        horizontal_flip: probability of mirroring an item (image and boxes together).
        min_visible_fraction: a box cut by the crop stays an object while it keeps at least
            this fraction of its area.
    """

    def __init__(
        self,
        videos: Sequence[VideoAnnotations],
        *,
        scale: int,
        jpeg_qualities: Sequence[int],
        small_box_fraction: float,
        crop_size: Sequence[int] | None = None,
        frame_stride: int = 1,
        horizontal_flip: float = 0.0,
        min_visible_fraction: float = 0.5,
    ) -> None:
        if not jpeg_qualities:
            raise ValueError("jpeg_qualities must name at least one JPEG quality")
        self.knobs = [Knobs(scale=scale, quality=int(q)) for q in jpeg_qualities]
        if crop_size is not None:
            crop_size = tuple(int(side) for side in crop_size)
            if len(crop_size) != 2 or any(side <= 0 or side % scale for side in crop_size):
                raise ValueError(
                    f"crop_size must be (height, width) in positive multiples of the scale "
                    f"{scale}, got {crop_size}"
                )
        if not 0.0 < min_visible_fraction <= 1.0:
            raise ValueError(f"min_visible_fraction must lie in (0, 1], got {min_visible_fraction}")
        # checked here, not at the first item
        small_box_mask(np.zeros((0, 4)), image_size=(1, 1), max_area_fraction=small_box_fraction)
        super().__init__(videos, frame_stride=frame_stride, horizontal_flip=horizontal_flip)
        if not self.index:
            raise ValueError("a degraded detection dataset needs at least one frame")
        self.scale = scale
        self.small_box_fraction = small_box_fraction
        self.crop_size = crop_size
        self.min_visible_fraction = min_visible_fraction

    def _window(self, height: int, width: int) -> tuple[int, int, int, int]:
        """``(top, left, height, width)`` of the item's crop of a ``height x width`` frame."""
        if self.crop_size is None:
            return 0, 0, *exact_size(height, width, multiple=self.scale)
        top, left = _random_crop_origin((height, width), self.crop_size, multiple=self.scale)
        return top, left, *self.crop_size

    def __getitem__(self, item: int) -> dict[str, object]:
        video_index, frame_index = self.index[item]
        video = self.videos[video_index]
        frame = video.frames.read(frame_index)
        annotations = video.annotations[frame_index]
        height, width = frame.shape[:2]
        small = small_box_mask(
            annotations.boxes,
            image_size=(height, width),
            max_area_fraction=self.small_box_fraction,
        )
        top, left, crop_h, crop_w = self._window(height, width)
        annotations, small = crop_annotations(
            annotations,
            small,
            top=top,
            left=left,
            height=crop_h,
            width=crop_w,
            min_visible_fraction=self.min_visible_fraction,
        )
        frame = frame[top : top + crop_h, left : left + crop_w]
        target = annotations_to_target(annotations)
        if self.horizontal_flip and torch.rand(()) < self.horizontal_flip:
            frame = frame[:, ::-1]
            target = flip_target_horizontally(target, width=crop_w)
        frame = np.ascontiguousarray(frame)
        knobs = self.knobs[int(torch.randint(0, len(self.knobs), ()).item())]
        sent = degrade(frame, knobs)
        target["small"] = torch.from_numpy(small.copy())
        target["frame_size"] = torch.tensor([height, width])
        target["video_index"] = torch.tensor(video_index)
        target["frame_index"] = torch.tensor(frame_index)
        return {
            "image": frame_to_tensor(frame),
            "low_res": frame_to_tensor(sent.image),
            "num_bytes": sent.num_bytes,
            "target": target,
            "index": item,
        }


def collate_degraded_detection_batch(batch: Sequence[dict]) -> dict[str, object]:
    """Lists of images, low-resolution copies and targets (whole frames may differ in size;
    equal-sized ones are stacked by the module), ``num_bytes`` and ``index`` as tensors."""
    return {
        "image": [item["image"] for item in batch],
        "low_res": [item["low_res"] for item in batch],
        "target": [item["target"] for item in batch],
        "num_bytes": torch.tensor([item["num_bytes"] for item in batch]),
        "index": torch.tensor([item["index"] for item in batch]),
    }
