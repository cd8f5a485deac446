"""Ground textures, roads and occluders (tree canopies, rooftops) of the synthetic drone world.

A scene's world is one large ground image (the camera sees a moving crop of it) and one
premultiplied BGRA occluder layer of the same size that is composited *over* the objects.
Both are drawn once per scene with numpy and cv2 at world resolution; nothing here loops over
pixels in Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Biome:
    """Colours of one kind of landscape."""

    ground: tuple[RGB, RGB]
    """Two ground colours blended by large-scale noise."""
    patches: tuple[RGB, ...]
    """Fields, lots, lawns and flat roofs painted as blotches on the ground."""
    asphalt: RGB


BIOMES: tuple[Biome, ...] = (
    Biome(
        ground=((150, 148, 140), (110, 110, 112)),
        patches=((170, 95, 75), (125, 125, 130), (200, 200, 195), (85, 120, 60), (90, 90, 95)),
        asphalt=(78, 78, 82),
    ),
    Biome(
        ground=((95, 130, 65), (150, 140, 115)),
        patches=((160, 158, 150), (120, 150, 80), (175, 100, 80), (140, 120, 90), (70, 100, 55)),
        asphalt=(88, 88, 90),
    ),
    Biome(
        ground=((90, 135, 60), (150, 135, 85)),
        patches=((170, 160, 90), (130, 100, 70), (50, 85, 45), (110, 150, 70), (185, 175, 120)),
        asphalt=(100, 98, 95),
    ),
)
_TREE_GREENS: tuple[RGB, ...] = ((45, 80, 40), (60, 95, 45), (35, 65, 38), (75, 100, 50))
_ROOF_COLOURS: tuple[RGB, ...] = ((165, 80, 60), (115, 115, 120), (75, 80, 90), (60, 120, 120))


@dataclass(frozen=True)
class Road:
    """A straight road crossing the whole world, with ``lanes`` lanes in each direction."""

    origin: tuple[float, float]
    angle: float
    lanes: int
    lane_width: float

    @property
    def direction(self) -> np.ndarray:
        """Unit vector along the road."""
        return np.array([math.cos(self.angle), math.sin(self.angle)])

    @property
    def normal(self) -> np.ndarray:
        """Unit vector across the road, to the right of :attr:`direction` (image y is down)."""
        return np.array([-math.sin(self.angle), math.cos(self.angle)])

    @property
    def half_width(self) -> float:
        """Distance from the centre line to the kerb."""
        return self.lanes * self.lane_width + 0.25 * self.lane_width

    def lane_point(self, t: float, *, sign: int, lane: int, shift: float = 0.0) -> np.ndarray:
        """Centre of ``lane`` (0 = innermost) at distance ``t`` along the road.

        Traffic drives on the right of its heading; ``sign`` is +1 for traffic along
        :attr:`direction` and -1 against it, ``shift`` moves the point further out.
        """
        offset = (lane + 0.5) * self.lane_width + shift
        return np.asarray(self.origin) + t * self.direction + sign * offset * self.normal


@dataclass(frozen=True)
class Tree:
    """A round canopy, in world pixels."""

    centre: tuple[float, float]
    radius: float


@dataclass(frozen=True)
class Roof:
    """A rectangular gabled roof turned by ``angle`` radians, in world pixels."""

    centre: tuple[float, float]
    length: float
    width: float
    angle: float


def _smooth_noise(shape: tuple[int, int], cell: float, rng: np.random.Generator) -> np.ndarray:
    """Value noise in [0, 1] with features about ``cell`` pixels across."""
    h, w = shape
    grid = rng.random((max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)), dtype=np.float32)
    return np.clip(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def _jitter(colour: RGB, rng: np.random.Generator, amount: float) -> tuple[float, float, float]:
    """``colour`` shifted by a random brightness and per-channel amount."""
    values = np.clip(np.array(colour) + rng.normal(0, amount, 3) + rng.normal(0, amount), 0, 255)
    return tuple(float(v) for v in values)


def _fixed(points: np.ndarray) -> np.ndarray:
    """Float polygon vertices as cv2 fixed-point (3 fractional bits) int32."""
    return np.round(np.asarray(points) * 8).astype(np.int32)


def rotated_rect(
    centre: tuple[float, float], length: float, width: float, angle: float
) -> np.ndarray:
    """The four corners of a ``length`` x ``width`` rectangle turned by ``angle`` radians."""
    c, s = math.cos(angle), math.sin(angle)
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * [length / 2, width / 2]
    return half @ np.array([[c, s], [-s, c]]) + np.asarray(centre)


def _paint_patches(
    image: np.ndarray, biome: Biome, scale: float, grid: float, rng: np.random.Generator
) -> None:
    """Blotches (fields, lawns) and grid-aligned flat roofs and lots, at several sizes."""
    h, w = image.shape[:2]
    for size in (140.0, 60.0, 25.0):
        count = int(h * w / (size * size * 6))
        for _ in range(count):
            centre = rng.uniform([0, 0], [w, h])
            colour = _jitter(biome.patches[int(rng.integers(len(biome.patches)))], rng, 10)
            radius = size * scale * rng.uniform(0.5, 1.2)
            if rng.random() < 0.5:
                angles = np.sort(rng.uniform(0, 2 * math.pi, 7))
                radii = radius * rng.uniform(0.6, 1.0, 7)
                points = centre + np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None]
            else:
                points = rotated_rect(
                    tuple(centre), 2 * radius, radius * rng.uniform(0.6, 1.4), grid
                )
                edge = tuple(c * 0.75 for c in colour)
                cv2.polylines(image, [_fixed(points)], True, edge, 2, cv2.LINE_AA, 3)
            cv2.fillPoly(image, [_fixed(points)], colour, cv2.LINE_AA, 3)


def _paint_lines(image: np.ndarray, scale: float, grid: float, rng: np.random.Generator) -> None:
    """Thin field boundaries, paths and fences, mostly following the scene grid."""
    h, w = image.shape[:2]
    diagonal = math.hypot(h, w)
    for _ in range(int(h * w / 60_000) + 1):
        angle = grid + (math.pi / 2) * int(rng.integers(4)) + rng.normal(0, 0.05)
        centre = rng.uniform([0, 0], [w, h])
        reach = rng.uniform(0.1, 0.5) * diagonal * np.array([math.cos(angle), math.sin(angle)])
        shade = float(rng.choice([0.6, 1.35]))
        base = image[int(centre[1]), int(centre[0])].astype(np.float64)
        colour = tuple(float(min(255.0, c * shade)) for c in base)
        thickness = max(1, round(rng.uniform(1, 3) * scale))
        cv2.line(
            image, _fixed(centre - reach), _fixed(centre + reach), colour, thickness, cv2.LINE_AA, 3
        )


def _paint_road(image: np.ndarray, road: Road, biome: Biome, rng: np.random.Generator) -> None:
    """Sidewalks, asphalt, kerb lines and dashed lane markings of one road."""
    h, w = image.shape[:2]
    reach = 2 * math.hypot(h, w)
    start = np.asarray(road.origin) - reach * road.direction
    end = np.asarray(road.origin) + reach * road.direction

    def band(offset: float, thickness: float, colour: tuple[float, float, float]) -> None:
        shift = offset * road.normal
        width = max(1, round(thickness))
        cv2.line(image, _fixed(start + shift), _fixed(end + shift), colour, width, cv2.LINE_AA, 3)

    band(0.0, 2 * road.half_width + 1.2 * road.lane_width, _jitter((165, 162, 155), rng, 8))
    band(0.0, 2 * road.half_width, _jitter(biome.asphalt, rng, 5))
    marking = max(1.0, 0.12 * road.lane_width)
    for side in (-1, 1):
        band(side * (road.half_width - 0.15 * road.lane_width), marking, (215, 215, 205))
    dash = 0.8 * road.lane_width
    centre_colour = (220, 190, 60) if rng.random() < 0.5 else (225, 225, 215)
    for lane_edge in range(road.lanes):
        for side in (-1, 1) if lane_edge else (1,):
            shift = side * lane_edge * road.lane_width * road.normal
            colour = centre_colour if lane_edge == 0 else (225, 225, 215)
            for t in np.arange(-reach, reach, 2.5 * dash):
                a = np.asarray(road.origin) + t * road.direction + shift
                if -dash <= a[0] <= w + dash and -dash <= a[1] <= h + dash:
                    b = a + dash * road.direction
                    cv2.line(
                        image, _fixed(a), _fixed(b), colour, max(1, round(marking)), cv2.LINE_AA, 3
                    )


def render_ground(
    height: int,
    width: int,
    *,
    biome: Biome,
    roads: list[Road],
    scale: float,
    grid: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """The ground of a scene as BGR ``uint8``: noise-blended soil, patches, lines and roads.

    ``scale`` is the scene's altitude scale (pixels per nominal pixel) and ``grid`` the
    angle that buildings, lots and most paths align to.
    """
    low = _smooth_noise((height, width), rng.uniform(150, 300), rng)[..., None]
    mid = _smooth_noise((height, width), rng.uniform(25, 60), rng)[..., None]
    first, second = (np.array(_jitter(c, rng, 8), np.float32) for c in biome.ground)
    ground = first * (1 - low) + second * low
    ground *= 0.85 + 0.3 * mid
    image = np.clip(ground, 0, 255).astype(np.uint8)
    _paint_patches(image, biome, scale, grid, rng)
    _paint_lines(image, scale, grid, rng)
    for road in roads:
        _paint_road(image, road, biome, rng)
    grain = rng.standard_normal((height, width, 1), dtype=np.float32) * 5.0
    image = np.clip(image.astype(np.float32) + grain, 0, 255).astype(np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 0.6)
    return np.ascontiguousarray(image[..., ::-1])


def paint_pad(
    ground: np.ndarray, corners: np.ndarray, rgb: RGB, *, stalls: float, angle: float
) -> None:
    """A paved pad (plaza or parking lot) on BGR ``ground``; parking stall lines every
    ``stalls`` pixels along ``angle`` when ``stalls > 0``."""
    bgr = tuple(float(c) for c in rgb[::-1])
    cv2.fillPoly(ground, [_fixed(corners)], bgr, cv2.LINE_AA, 3)
    if stalls <= 0:
        return
    along = np.array([math.cos(angle), math.sin(angle)])
    across = np.array([-math.sin(angle), math.cos(angle)])
    centre = corners.mean(axis=0)
    extent = float(np.abs((corners - centre) @ along).max())
    depth = float(np.abs((corners - centre) @ across).max())
    for t in np.arange(-extent, extent + 1e-6, stalls):
        a, b = centre + t * along - depth * across, centre + t * along + depth * across
        cv2.line(ground, _fixed(a), _fixed(b), (225, 225, 225), 1, cv2.LINE_AA, 3)


def _paint_tree(rgb: np.ndarray, alpha: np.ndarray, tree: Tree, rng: np.random.Generator) -> None:
    """A canopy: overlapping dark blobs with lighter sun-facing highlights."""
    base = _jitter(_TREE_GREENS[int(rng.integers(len(_TREE_GREENS)))], rng, 6)
    centre = np.asarray(tree.centre)
    for _ in range(int(rng.integers(4, 8))):
        offset = rng.normal(0, 0.3 * tree.radius, 2)
        radius = tree.radius * rng.uniform(0.45, 0.75)
        shade = rng.uniform(0.8, 1.1)
        colour = tuple(c * shade for c in base)
        point = _fixed(centre + offset)
        r = round(radius * 8)
        cv2.circle(rgb, point, r, colour, -1, cv2.LINE_AA, 3)
        cv2.circle(alpha, point, r, 255, -1, cv2.LINE_AA, 3)
        highlight = tuple(min(255.0, c * 1.35) for c in colour)
        cv2.circle(
            rgb,
            _fixed(centre + offset - 0.25 * radius),
            round(radius * 0.45 * 8),
            highlight,
            -1,
            cv2.LINE_AA,
            3,
        )


def _paint_roof(rgb: np.ndarray, alpha: np.ndarray, roof: Roof, rng: np.random.Generator) -> None:
    """A gabled roof: two differently lit halves split by a ridge, with a darker outline."""
    colour = _jitter(_ROOF_COLOURS[int(rng.integers(len(_ROOF_COLOURS)))], rng, 8)
    corners = rotated_rect(roof.centre, roof.length, roof.width, roof.angle)
    cv2.fillPoly(alpha, [_fixed(corners)], 255, cv2.LINE_AA, 3)
    cv2.fillPoly(rgb, [_fixed(corners)], colour, cv2.LINE_AA, 3)
    across = np.array([-math.sin(roof.angle), math.cos(roof.angle)])
    half = rotated_rect(
        tuple(np.asarray(roof.centre) + across * roof.width / 4),
        roof.length,
        roof.width / 2,
        roof.angle,
    )
    cv2.fillPoly(rgb, [_fixed(half)], tuple(c * 0.75 for c in colour), cv2.LINE_AA, 3)
    along = np.array([math.cos(roof.angle), math.sin(roof.angle)]) * roof.length / 2
    ridge = tuple(min(255.0, c * 1.25) for c in colour)
    centre = np.asarray(roof.centre)
    cv2.line(rgb, _fixed(centre - along), _fixed(centre + along), ridge, 2, cv2.LINE_AA, 3)
    cv2.polylines(rgb, [_fixed(corners)], True, tuple(c * 0.55 for c in colour), 2, cv2.LINE_AA, 3)


def render_occluders(
    height: int, width: int, *, trees: list[Tree], roofs: list[Roof], rng: np.random.Generator
) -> np.ndarray:
    """The layer drawn over the objects, as premultiplied BGRA ``uint8``."""
    rgb = np.zeros((height, width, 3), np.uint8)
    alpha = np.zeros((height, width), np.uint8)
    for roof in roofs:
        _paint_roof(rgb, alpha, roof, rng)
    for tree in trees:
        _paint_tree(rgb, alpha, tree, rng)
    premultiplied = (rgb.astype(np.uint16) * alpha[..., None] + 127) // 255
    return np.dstack([premultiplied[..., ::-1].astype(np.uint8), alpha])


def cast_shadows(
    ground: np.ndarray, occluders: np.ndarray, *, offset: tuple[int, int], strength: float
) -> None:
    """Darken ``ground`` in place under the occluder layer shifted by ``offset`` (dx, dy)."""
    dx, dy = offset
    shifted = np.zeros(occluders.shape[:2], np.uint8)
    h, w = shifted.shape
    shifted[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)] = occluders[
        max(0, -dy) : h + min(0, -dy), max(0, -dx) : w + min(0, -dx), 3
    ]
    shade = cv2.GaussianBlur(shifted, (0, 0), 2.0).astype(np.float32) * (strength / 255.0)
    ground[:] = np.clip(ground * (1.0 - shade[..., None]), 0, 255).astype(np.uint8)
