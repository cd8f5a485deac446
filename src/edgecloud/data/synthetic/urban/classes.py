"""Cityscapes train ids the urban world labels with, and its two groups of classes.

Every module that draws labels what it draws with one of these train ids, so they are named
once here; the small and large class groups are what the world is built around (Runespoor's
tail classes that downscaling destroys, and the regions that survive it).
"""

from __future__ import annotations

from edgecloud.data.formats.cityscapes_labels import CITYSCAPES_CLASS_NAMES, IGNORE_INDEX

SMALL_CLASS_NAMES: tuple[str, ...] = (
    "pole",
    "traffic light",
    "traffic sign",
    "person",
    "rider",
    "motorcycle",
    "bicycle",
)
"""The small, detailed classes that downscaling destroys first (Runespoor's tail classes)."""

LARGE_CLASS_NAMES: tuple[str, ...] = (
    "road",
    "sidewalk",
    "building",
    "vegetation",
    "terrain",
    "sky",
)
"""The large, stable regions that survive downscaling."""

CLASS_IDS = {name: index for index, name in enumerate(CITYSCAPES_CLASS_NAMES)}
"""Train id of each Cityscapes class name."""
ROAD, SIDEWALK, BUILDING, WALL, FENCE = (
    CLASS_IDS[n] for n in ("road", "sidewalk", "building", "wall", "fence")
)
POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY = (
    CLASS_IDS[n] for n in ("pole", "traffic light", "traffic sign", "vegetation", "terrain", "sky")
)
PERSON, RIDER, CAR, TRUCK, BUS = (CLASS_IDS[n] for n in ("person", "rider", "car", "truck", "bus"))
MOTORCYCLE, BICYCLE = CLASS_IDS["motorcycle"], CLASS_IDS["bicycle"]
EGO = IGNORE_INDEX
"""The ego vehicle's bonnet: ignored (written as label id 0, ``unlabeled``)."""
