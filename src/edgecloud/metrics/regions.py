"""Small regions of a frame, the "detailed" regions of Wang et al., "Enabling Edge-Cloud Video
Analytics for Robotics Applications" (Runespoor), section III: the analytics
loss of ASR (Equation 2) is computed on them only, and CAC flags a frame as a tail frame when
the fraction of the frame they cover is below a threshold (1% for Cityscapes).

Segmentation: a region is a connected component of one class in a label map (pixels
4-connected, or 8-connected, the default, so diagonal neighbours join), found per class with
``cv2.connectedComponentsWithStats``. It is *small* when its area is below (strictly)
``max_area_fraction`` of the map's pixel count; "relative size of a region to the frame", with
the per-dataset threshold left to the caller. Pixels equal to ``ignore_index`` are never part
of a small region (they still count in the frame's pixel count), and they separate regions.
The label map may be ground truth (the ASR loss) or a prediction (CAC).

CAC runs its search "on downsampled prediction maps": :func:`small_region_ratio` can first keep
every ``downsample``-th row and column (nearest-neighbour striding, ``label_map[::k, ::k]``).
Thresholds are fractions of the map, so they carry over; thin regions may vanish or break up,
which is the approximation the paper accepts for speed.

Detection: a ground-truth box is small when its area, clipped to the frame, is below
(strictly) ``max_area_fraction`` of the frame's area (:func:`small_box_mask`; the boxes that
analytics-aware SR for detection computes its analytics loss on). :func:`small_box_ratio` adds
up the areas of the small boxes ("directly adding small bounding boxes"). Overlaps are counted
as often as they are covered, so the ratio is a sum of areas, not the area of their union, and
can in principle exceed 1.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from edgecloud.data.formats.cityscapes_labels import IGNORE_INDEX

__all__ = [
    "small_box_mask",
    "small_box_ratio",
    "small_region_mask",
    "small_region_masks",
    "small_region_ratio",
]


def _check_fraction(max_area_fraction: float) -> float:
    fraction = float(max_area_fraction)
    if not 0.0 < fraction <= 1.0:  # also rejects NaN
        raise ValueError(f"max_area_fraction must lie in (0, 1], got {max_area_fraction}")
    return fraction


def _check_connectivity(connectivity: int) -> None:
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")


def _label_map(label_map: np.ndarray, ndim: int, name: str) -> np.ndarray:
    array = np.asarray(label_map)
    if array.ndim != ndim or not np.issubdtype(array.dtype, np.integer):
        shape = "(H, W)" if ndim == 2 else "(N, H, W)"
        raise ValueError(
            f"{name} must be an integer {shape} array, got {array.dtype} {array.shape}"
        )
    return array


def _class_counts(label_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if label_map.dtype in (np.uint8, np.uint16):
        counts = np.bincount(label_map.ravel())
        values = np.flatnonzero(counts)
        return values, counts[values]
    return np.unique(label_map, return_counts=True)


def _small_mask(
    label_map: np.ndarray, fraction: float, ignore_index: int, connectivity: int
) -> np.ndarray:
    threshold = fraction * label_map.size
    mask = np.zeros(label_map.shape, dtype=bool)
    for value, count in zip(*_class_counts(label_map), strict=True):
        if value == ignore_index:
            continue
        pixels = label_map == value
        if count < threshold:  # every component of the class is small
            mask |= pixels
            continue
        _, components, stats, _ = cv2.connectedComponentsWithStats(
            pixels.view(np.uint8), connectivity=connectivity, ltype=cv2.CV_32S
        )
        small = stats[:, cv2.CC_STAT_AREA] < threshold
        small[0] = False  # component 0 is everything not of this class
        if small.any():
            mask |= small[components]
    return mask


def small_region_mask(
    label_map: np.ndarray,
    *,
    max_area_fraction: float,
    ignore_index: int = IGNORE_INDEX,
    connectivity: int = 8,
) -> np.ndarray:
    """``(H, W)`` bool: pixels of the integer label map that lie in a small region, a
    connected component of one class with fewer than ``max_area_fraction * H * W`` pixels."""
    fraction = _check_fraction(max_area_fraction)
    _check_connectivity(connectivity)
    array = _label_map(label_map, 2, "label_map")
    return _small_mask(array, fraction, ignore_index, connectivity)


def small_region_masks(
    label_maps: Any,
    *,
    max_area_fraction: float,
    ignore_index: int = IGNORE_INDEX,
    connectivity: int = 8,
) -> Any:
    """:func:`small_region_mask` of every map of an ``(N, H, W)`` batch (e.g. the labels of an
    ASR training batch). A numpy array gives a numpy bool array; a torch tensor gives a bool
    tensor on the tensor's device (the search itself runs on the CPU)."""
    fraction = _check_fraction(max_area_fraction)
    _check_connectivity(connectivity)
    device = None
    if not isinstance(label_maps, np.ndarray) and hasattr(label_maps, "detach"):
        device = label_maps.device
        label_maps = label_maps.detach().cpu().numpy()
    array = _label_map(label_maps, 3, "label_maps")
    masks = np.zeros(array.shape, dtype=bool)
    for index, frame in enumerate(array):
        masks[index] = _small_mask(frame, fraction, ignore_index, connectivity)
    if device is None:
        return masks
    import torch  # only for tensor inputs

    return torch.from_numpy(masks).to(device)


def small_region_ratio(
    label_map: np.ndarray,
    *,
    max_area_fraction: float,
    downsample: int = 1,
    ignore_index: int = IGNORE_INDEX,
    connectivity: int = 8,
) -> float:
    """Fraction of the frame's pixels (ignored ones included) that lie in small regions, found
    on ``label_map[::downsample, ::downsample]`` (module docstring)."""
    if isinstance(downsample, bool) or not isinstance(downsample, int | np.integer):
        raise ValueError(f"downsample must be an integer >= 1, got {downsample!r}")
    if downsample < 1:
        raise ValueError(f"downsample must be an integer >= 1, got {downsample}")
    array = _label_map(label_map, 2, "label_map")[::downsample, ::downsample]
    if array.size == 0:
        raise ValueError("label_map is empty")
    mask = small_region_mask(
        array,
        max_area_fraction=max_area_fraction,
        ignore_index=ignore_index,
        connectivity=connectivity,
    )
    return float(mask.mean())


def _clipped_box_areas(boxes_xyxy: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    height, width = image_size
    if height <= 0 or width <= 0:
        raise ValueError(f"image_size must be a positive (height, width), got {image_size}")
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    if boxes.size == 0:
        return np.zeros(0, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) x1, y1, x2, y2, got shape {boxes.shape}")
    if not np.all(np.isfinite(boxes)):
        raise ValueError("box coordinates must be finite")
    if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
        raise ValueError("boxes must be (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1")
    x = np.clip(boxes[:, [0, 2]], 0.0, width)
    y = np.clip(boxes[:, [1, 3]], 0.0, height)
    return (x[:, 1] - x[:, 0]) * (y[:, 1] - y[:, 0])


def small_box_mask(
    boxes_xyxy: np.ndarray,
    *,
    image_size: tuple[int, int],
    max_area_fraction: float,
) -> np.ndarray:
    """``(N,)`` bool: which of the boxes (``(N, 4)`` ``x1, y1, x2, y2`` in pixels) are small,
    their area clipped to the frame below ``max_area_fraction`` of the frame's area;
    ``image_size`` is ``(height, width)`` of the whole frame."""
    fraction = _check_fraction(max_area_fraction)
    areas = _clipped_box_areas(boxes_xyxy, image_size)
    return areas < fraction * float(image_size[0]) * float(image_size[1])


def small_box_ratio(
    boxes_xyxy: np.ndarray,
    *,
    image_size: tuple[int, int],
    max_area_fraction: float,
) -> float:
    """Sum of the areas of the boxes (``(N, 4)`` ``x1, y1, x2, y2`` in pixels, clipped to the
    frame) smaller than ``max_area_fraction`` of the frame, over the frame's area;
    ``image_size`` is ``(height, width)``. Overlaps count twice (module docstring)."""
    fraction = _check_fraction(max_area_fraction)
    areas = _clipped_box_areas(boxes_xyxy, image_size)
    frame_area = float(image_size[0]) * float(image_size[1])
    return float(areas[areas < fraction * frame_area].sum() / frame_area)
