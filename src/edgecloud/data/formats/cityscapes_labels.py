"""The Cityscapes label table: label ids as stored in ``*_gtFine_labelIds.png``, and the 19
train ids that benchmarks (and every model here) use, with 255 = ignored.

The rows follow ``cityscapesScripts/helpers/labels.py`` (Cordts et al., CVPR 2016): 34 label
ids, of which 19 map to a train id; the rest (void classes, parking, rail track, guard rail,
bridge, tunnel, polegroup, caravan, trailer) are ignored in evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = 255
"""Train id of pixels that are neither trained on nor scored."""


@dataclass(frozen=True)
class CityscapesLabel:
    """One row of the Cityscapes label table."""

    name: str
    label_id: int
    train_id: int
    category: str
    color: tuple[int, int, int]


CITYSCAPES_LABELS: tuple[CityscapesLabel, ...] = (
    CityscapesLabel("unlabeled", 0, IGNORE_INDEX, "void", (0, 0, 0)),
    CityscapesLabel("ego vehicle", 1, IGNORE_INDEX, "void", (0, 0, 0)),
    CityscapesLabel("rectification border", 2, IGNORE_INDEX, "void", (0, 0, 0)),
    CityscapesLabel("out of roi", 3, IGNORE_INDEX, "void", (0, 0, 0)),
    CityscapesLabel("static", 4, IGNORE_INDEX, "void", (0, 0, 0)),
    CityscapesLabel("dynamic", 5, IGNORE_INDEX, "void", (111, 74, 0)),
    CityscapesLabel("ground", 6, IGNORE_INDEX, "void", (81, 0, 81)),
    CityscapesLabel("road", 7, 0, "flat", (128, 64, 128)),
    CityscapesLabel("sidewalk", 8, 1, "flat", (244, 35, 232)),
    CityscapesLabel("parking", 9, IGNORE_INDEX, "flat", (250, 170, 160)),
    CityscapesLabel("rail track", 10, IGNORE_INDEX, "flat", (230, 150, 140)),
    CityscapesLabel("building", 11, 2, "construction", (70, 70, 70)),
    CityscapesLabel("wall", 12, 3, "construction", (102, 102, 156)),
    CityscapesLabel("fence", 13, 4, "construction", (190, 153, 153)),
    CityscapesLabel("guard rail", 14, IGNORE_INDEX, "construction", (180, 165, 180)),
    CityscapesLabel("bridge", 15, IGNORE_INDEX, "construction", (150, 100, 100)),
    CityscapesLabel("tunnel", 16, IGNORE_INDEX, "construction", (150, 120, 90)),
    CityscapesLabel("pole", 17, 5, "object", (153, 153, 153)),
    CityscapesLabel("polegroup", 18, IGNORE_INDEX, "object", (153, 153, 153)),
    CityscapesLabel("traffic light", 19, 6, "object", (250, 170, 30)),
    CityscapesLabel("traffic sign", 20, 7, "object", (220, 220, 0)),
    CityscapesLabel("vegetation", 21, 8, "nature", (107, 142, 35)),
    CityscapesLabel("terrain", 22, 9, "nature", (152, 251, 152)),
    CityscapesLabel("sky", 23, 10, "sky", (70, 130, 180)),
    CityscapesLabel("person", 24, 11, "human", (220, 20, 60)),
    CityscapesLabel("rider", 25, 12, "human", (255, 0, 0)),
    CityscapesLabel("car", 26, 13, "vehicle", (0, 0, 142)),
    CityscapesLabel("truck", 27, 14, "vehicle", (0, 0, 70)),
    CityscapesLabel("bus", 28, 15, "vehicle", (0, 60, 100)),
    CityscapesLabel("caravan", 29, IGNORE_INDEX, "vehicle", (0, 0, 90)),
    CityscapesLabel("trailer", 30, IGNORE_INDEX, "vehicle", (0, 0, 110)),
    CityscapesLabel("train", 31, 16, "vehicle", (0, 80, 100)),
    CityscapesLabel("motorcycle", 32, 17, "vehicle", (0, 0, 230)),
    CityscapesLabel("bicycle", 33, 18, "vehicle", (119, 11, 32)),
)
"""Every label id 0..33 in order (``license plate``, id -1, never appears in label maps)."""

CITYSCAPES_CLASS_NAMES: tuple[str, ...] = tuple(
    label.name
    for label in sorted(CITYSCAPES_LABELS, key=lambda lb: lb.train_id)
    if label.train_id != IGNORE_INDEX
)
"""The 19 evaluated classes; the index is the train id."""

NUM_CLASSES = len(CITYSCAPES_CLASS_NAMES)


def label_id_to_train_id_table() -> np.ndarray:
    """A 256-entry uint8 lookup table: ``table[label_ids]`` maps a labelIds image to train ids.

    Values that are not Cityscapes label ids (34..255) map to 255, so ``labelIds`` images with
    unknown values must be rejected by the reader before the lookup, not silently ignored.
    """
    table = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for label in CITYSCAPES_LABELS:
        table[label.label_id] = label.train_id
    return table


def train_id_to_label_id_table() -> np.ndarray:
    """A 256-entry uint8 lookup table from train ids (and 255) back to label ids, for writers:
    each train id goes to its class's label id, 255 to ``unlabeled`` (0)."""
    table = np.zeros(256, dtype=np.uint8)
    for label in CITYSCAPES_LABELS:
        if label.train_id != IGNORE_INDEX:
            table[label.train_id] = label.label_id
    return table


def train_id_palette() -> np.ndarray:
    """(256, 3) uint8 RGB colours of the train ids (black for 255), for drawing predictions."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for label in CITYSCAPES_LABELS:
        if label.train_id != IGNORE_INDEX:
            palette[label.train_id] = label.color
    return palette
