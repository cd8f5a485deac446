"""Small regions on hand-drawn label maps (thresholds, connectivity, ignore pixels, the
downsampled search), against scikit-image's connected-component labelling on random maps, and
the small-box ratio of detections."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.measure import label as skimage_label

from edgecloud.metrics.regions import (
    small_box_mask,
    small_box_ratio,
    small_region_mask,
    small_region_masks,
    small_region_ratio,
)


def _parse(drawing: str) -> np.ndarray:
    """Rows of class ids separated by spaces, ``X`` for ignored (255)."""
    rows = [line.split() for line in drawing.strip().splitlines()]
    return np.array([[255 if cell == "X" else int(cell) for cell in row] for row in rows], np.uint8)


# 100 pixels: road (0) 69, a 2-pixel pole (5), a 3x3 sign (7), a building block (2) of 18 and a
# 1-pixel building island at (7, 8), one ignored pixel at (4, 9).
STREET = _parse(
    """
    0 0 0 0 0 0 0 0 0 0
    0 5 0 0 0 7 7 7 0 0
    0 5 0 0 0 7 7 7 0 0
    0 0 0 0 0 7 7 7 0 0
    0 0 0 0 0 0 0 0 0 X
    0 0 0 0 0 0 0 0 0 0
    0 0 0 0 0 0 0 0 0 0
    2 2 2 2 2 2 0 0 2 0
    2 2 2 2 2 2 0 0 0 0
    2 2 2 2 2 2 0 0 0 0
    """
)
POLE = STREET == 5
SIGN = STREET == 7
ISLAND = np.zeros_like(POLE)
ISLAND[7, 8] = True
BLOCK = (STREET == 2) & ~ISLAND


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0.02, ISLAND),  # area < 2
        (0.05, POLE | ISLAND),  # area < 5
        (0.09, POLE | ISLAND),  # the 9-pixel sign is not below 9
        (0.10, POLE | ISLAND | SIGN),
        (0.20, POLE | ISLAND | SIGN | BLOCK),
        (1.00, STREET != 255),  # everything but the ignored pixel
    ],
)
def test_hand_drawn_street(fraction, expected):
    mask = small_region_mask(STREET, max_area_fraction=fraction)
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, expected)
    assert small_region_ratio(STREET, max_area_fraction=fraction) == expected.sum() / 100


def test_connectivity_4_or_8():
    diagonal = np.zeros((6, 6), dtype=np.int64)
    diagonal[[1, 2, 3], [1, 2, 3]] = 1
    # below 2 pixels: three 1-pixel regions with 4-connectivity, one 3-pixel region with 8
    four = small_region_mask(diagonal, max_area_fraction=2 / 36, connectivity=4)
    eight = small_region_mask(diagonal, max_area_fraction=2 / 36, connectivity=8)
    np.testing.assert_array_equal(four, diagonal == 1)
    assert not eight.any()
    # a diagonal wall splits the other class only with 4-connectivity: the corner at (0, 0)
    # is cut off from the rest of class 0 if the diagonal runs through (0, 1) and (1, 0)
    wall = np.zeros((6, 6), dtype=np.int64)
    wall[[0, 1], [1, 0]] = 1
    corner = np.zeros((6, 6), dtype=bool)
    corner[0, 0] = True
    np.testing.assert_array_equal(
        small_region_mask(wall, max_area_fraction=2 / 36, connectivity=4), corner | (wall == 1)
    )
    # with 8-connectivity the corner joins class 0 diagonally, the wall stays one region of 2
    assert not small_region_mask(wall, max_area_fraction=2 / 36, connectivity=8).any()


def test_ignore_pixels():
    # ignored pixels are never small and split regions: the 0s are two pieces of 4 and 8
    split = _parse(
        """
        0 0 X 0 0 0 0
        0 0 X 0 0 0 0
        """
    )
    left = np.zeros(split.shape, dtype=bool)
    left[:, :2] = True
    np.testing.assert_array_equal(small_region_mask(split, max_area_fraction=5 / 14), left)
    assert small_region_ratio(split, max_area_fraction=5 / 14) == 4 / 14  # ignored in the frame
    # another ignore value (e.g. PyTorch's -100)
    other = split.astype(np.int64)
    other[split == 255] = -100
    np.testing.assert_array_equal(
        small_region_mask(other, max_area_fraction=5 / 14, ignore_index=-100), left
    )
    # with ignore_index changed, 255 is a class like any other: a small 2-pixel region
    np.testing.assert_array_equal(
        small_region_mask(split, max_area_fraction=5 / 14, ignore_index=-1), left | (split == 255)
    )


def test_downsampled_search():
    # STREET[::2, ::2]:   0 0 0 0 0
    #                     0 0 0 7 0    the pole (column 1) and the island vanish,
    #                     0 0 0 0 0    the sign keeps 1 pixel, the block 3
    #                     0 0 0 0 0
    #                     2 2 2 0 0
    assert small_region_ratio(STREET, max_area_fraction=0.1, downsample=2) == 1 / 25
    assert small_region_ratio(STREET, max_area_fraction=0.2, downsample=2) == 4 / 25
    # at full resolution: 12 and 30 of 100
    assert small_region_ratio(STREET, max_area_fraction=0.1) == 0.12
    assert small_region_ratio(STREET, max_area_fraction=0.2) == 0.30
    # downsample=k is the full search on the strided map
    coarse = STREET[::3, ::3]
    assert small_region_ratio(STREET, max_area_fraction=0.2, downsample=3) == pytest.approx(
        small_region_mask(coarse, max_area_fraction=0.2).mean()
    )


def test_matches_scikit_image_labelling_on_random_maps():
    rng = np.random.default_rng(5)
    for trial in range(20):
        # blocky random maps: 3 classes on a coarse grid, upsampled, plus ignored noise
        coarse = rng.integers(0, 3, size=(6, 8))
        label_map = np.kron(coarse, np.ones((3, 2), dtype=np.int64)).astype(np.uint8)
        label_map[rng.random(label_map.shape) < 0.1] = 255
        connectivity = 4 if trial % 2 else 8
        fraction = rng.uniform(0.005, 0.1)
        # scikit-image labels regions of equal value directly (background = ignored)
        regions = skimage_label(
            label_map.astype(np.int64), background=255, connectivity=connectivity // 4
        )
        sizes = np.bincount(regions.ravel())
        expected = (sizes[regions] < fraction * label_map.size) & (regions > 0)
        mask = small_region_mask(label_map, max_area_fraction=fraction, connectivity=connectivity)
        np.testing.assert_array_equal(mask, expected)


def test_batched_masks_numpy_and_torch():
    other = np.zeros_like(STREET)
    other[4:6, 4:6] = 3  # a 4-pixel square
    batch = np.stack([STREET, other])
    masks = small_region_masks(batch, max_area_fraction=0.05)
    np.testing.assert_array_equal(masks[0], POLE | ISLAND)
    np.testing.assert_array_equal(masks[1], other == 3)
    tensor_masks = small_region_masks(torch.from_numpy(batch).long(), max_area_fraction=0.05)
    assert isinstance(tensor_masks, torch.Tensor) and tensor_masks.dtype == torch.bool
    np.testing.assert_array_equal(tensor_masks.numpy(), masks)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        small_region_masks(STREET, max_area_fraction=0.05)


def test_bad_arguments():
    for fraction in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"max_area_fraction must lie in \(0, 1\]"):
            small_region_mask(STREET, max_area_fraction=fraction)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        small_region_mask(STREET[None], max_area_fraction=0.1)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        small_region_ratio(STREET[0], max_area_fraction=0.1)
    with pytest.raises(ValueError, match="integer"):
        small_region_mask(STREET.astype(float), max_area_fraction=0.1)
    with pytest.raises(ValueError, match="connectivity must be 4 or 8"):
        small_region_mask(STREET, max_area_fraction=0.1, connectivity=6)
    for downsample in (0, 1.5):
        with pytest.raises(ValueError, match="downsample"):
            small_region_ratio(STREET, max_area_fraction=0.1, downsample=downsample)


def test_small_box_ratio():
    # a 100 x 200 frame (20000 pixels); below 1% means below 200 pixels
    boxes = np.array(
        [
            [0, 0, 10, 10],  # 100, small
            [5, 5, 15, 15],  # 100, small, overlaps the first: counted again
            [0, 0, 100, 50],  # 5000
            [195, 80, 205, 110],  # clipped to 5 x 20 = 100, small
            [10, 10, 30, 20],  # exactly 200: not below
        ],
        dtype=np.float32,
    )
    ratio = small_box_ratio(boxes, image_size=(100, 200), max_area_fraction=0.01)
    assert ratio == pytest.approx(300 / 20000)
    assert small_box_ratio(boxes, image_size=(100, 200), max_area_fraction=1.0) == pytest.approx(
        5500 / 20000
    )
    assert small_box_ratio(np.zeros((0, 4)), image_size=(100, 200), max_area_fraction=0.01) == 0
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        small_box_ratio(np.zeros((2, 3)), image_size=(100, 200), max_area_fraction=0.01)
    with pytest.raises(ValueError, match="x2 >= x1"):
        small_box_ratio([[10, 0, 5, 5]], image_size=(100, 200), max_area_fraction=0.01)
    with pytest.raises(ValueError, match="finite"):
        small_box_ratio([[0, 0, np.inf, 5]], image_size=(100, 200), max_area_fraction=0.01)
    with pytest.raises(ValueError, match="image_size"):
        small_box_ratio(boxes, image_size=(0, 200), max_area_fraction=0.01)
    with pytest.raises(ValueError, match="max_area_fraction"):
        small_box_ratio(boxes, image_size=(100, 200), max_area_fraction=0)


def test_small_box_mask_flags_boxes_below_the_fraction_of_the_frame():
    # a 100 x 200 frame (20000 pixels); below 1% means below 200 pixels
    boxes = np.array(
        [
            [0, 0, 10, 10],  # 100: small
            [0, 0, 100, 50],  # 5000
            [195, 80, 205, 110],  # 10 x 30 = 300, clipped to the frame 5 x 20 = 100: small
            [10, 10, 30, 20],  # exactly 200: not below
            [40, 40, 59.5, 50],  # 195: small
        ],
        dtype=np.float32,
    )
    mask = small_box_mask(boxes, image_size=(100, 200), max_area_fraction=0.01)
    assert mask.tolist() == [True, False, True, False, True]
    assert small_box_mask(
        np.zeros((0, 4)), image_size=(100, 200), max_area_fraction=0.01
    ).shape == (0,)
    with pytest.raises(ValueError, match="max_area_fraction"):
        small_box_mask(boxes, image_size=(100, 200), max_area_fraction=1.5)
