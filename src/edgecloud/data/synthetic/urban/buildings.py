"""Buildings: terraces of houses along the sidewalk (facades with window grids, shop fronts,
flat or pitched roofs, the front face where a house rises above its neighbour) and the
courtyards between them. Facades are the large ``building`` regions of the world."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgecloud.data.synthetic.urban.appearance import (
    CLOTHES,
    FACADES,
    RGB,
    CityStyle,
    pick,
    shade,
    vary,
)
from edgecloud.data.synthetic.urban.classes import BUILDING, FENCE, TERRAIN, VEGETATION, WALL
from edgecloud.data.synthetic.urban.geometry import (
    Shape,
    front_plane,
    ground_quad,
    profile_strip,
    side_plane,
)
from edgecloud.data.synthetic.urban.things import Static, Thing


def _window_quads(
    origin: np.ndarray,
    along: np.ndarray,
    s0: float,
    s1: float,
    y0: float,
    y1: float,
    spacing: float,
    size: tuple[float, float],
    storey: float,
) -> np.ndarray:
    """``(K, 4, 3)`` window rectangles on a facade plane through ``origin`` along ``along``,
    in the span ``s0..s1`` and storeys between heights ``y0`` and ``y1``."""
    columns = np.arange(s0 + spacing / 2, s1 - spacing / 2 + 1e-6, spacing)
    sills = np.arange(y0 + 0.9, y1 - size[1] - 0.3, storey)
    if not len(columns) or not len(sills):
        return np.zeros((0, 4, 3))
    s, y = np.meshgrid(columns, sills, indexing="xy")
    s, y = s.ravel(), y.ravel()
    corners = np.array([[-0.5, 0], [0.5, 0], [0.5, 1], [-0.5, 1]]) * [size[0], size[1]]
    local_s = s[:, None] + corners[None, :, 0]
    local_y = y[:, None] + corners[None, :, 1]
    return origin + local_s[..., None] * along + local_y[..., None] * np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class _House:
    side: int
    x: float
    z0: float
    z1: float
    height: float
    depth: float
    colour: RGB
    roof: RGB
    pitched: bool
    storey: float
    spacing: float
    window: tuple[float, float]
    glass: RGB
    frame: RGB
    shop: bool
    exposed_above: float
    """The front face is hidden by the neighbour in front up to this height (-1: no front)."""


def _house_shape(house: _House, rng: np.random.Generator) -> Shape:
    side, x, z0, z1 = house.side, house.x * house.side, house.z0, house.z1
    outer = x + side * house.depth
    shape = Shape()
    light = 0.82 if side < 0 else 1.0
    wall = shade(house.colour, light)
    shape.fill(side_plane(x, z0, z1, 0.0, house.height), wall, BUILDING)
    if house.exposed_above >= 0:
        shape.fill(front_plane(z0, x, outer, 0.0, house.height), shade(house.colour, 0.9), BUILDING)
    if house.pitched:
        rise = min(house.depth / 2, 6.0) * 0.7
        roof = np.array(
            [
                [x, house.height, z0],
                [x, house.height, z1],
                [x + side * 4.0, house.height + rise, z1],
                [x + side * 4.0, house.height + rise, z0],
            ]
        )
        shape.fill(roof, shade(house.roof, light), BUILDING)
    else:
        shape.fill(
            side_plane(x, z0, z1, house.height - 0.45, house.height),
            shade(house.colour, light * 1.12),
            BUILDING,
        )
    along = np.array([0.0, 0.0, 1.0])
    origin = np.array([x, 0.0, 0.0])
    wins = _window_quads(
        origin,
        along,
        z0,
        z1,
        house.storey if house.shop else 0.0,
        house.height,
        house.spacing,
        house.window,
        house.storey,
    )
    if house.exposed_above >= 0:
        across = np.array([float(side), 0.0, 0.0])
        front = _window_quads(
            np.array([x, 0.0, z0]),
            across,
            0.0,
            min(house.depth, 60.0),
            max(house.exposed_above, 0.0),
            house.height,
            house.spacing,
            house.window,
            house.storey,
        )
        wins = np.concatenate([wins, front])
    if house.frame != house.colour and len(wins):
        pad = np.array([[-0.08, -0.08], [0.08, -0.08], [0.08, 0.1], [-0.08, 0.1]])
        direction = wins[:, 1] - wins[:, 0]
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        widened = (
            wins
            + pad[None, :, :1] * direction[:, None]
            + pad[None, :, 1:] * np.array([0.0, 1.0, 0.0])
        )
        shape.quads(widened, shade(house.frame, light), BUILDING)
    tones = rng.choice(3, len(wins), p=[0.7, 0.15, 0.15])
    for tone, brightness in enumerate((1.0, 0.75, 1.35)):
        shape.quads(wins[tones == tone], shade(house.glass, light * brightness), BUILDING)
    if house.shop:
        y_top = house.storey - 0.4
        for s in np.arange(z0 + 0.6, z1 - 2.0, float(rng.uniform(3.0, 5.0))):
            width = float(rng.uniform(1.8, 3.2))
            if s + width > z1 - 0.4:
                break
            shape.fill(
                side_plane(x, s, s + width, 0.3, y_top), shade(house.glass, light * 1.1), BUILDING
            )
        shape.fill(
            side_plane(x, z0, z1, y_top + 0.05, y_top + 0.45),
            shade(pick(rng, CLOTHES + FACADES, 10), light),
            BUILDING,
        )
    return shape


def houses(
    side: int,
    x: float,
    z0: float,
    z1: float,
    *,
    busy: bool,
    after_gap: float,
    style: CityStyle,
    rng: np.random.Generator,
) -> list[Thing]:
    """A terrace of houses along one side from ``z0`` to ``z1``; the first one's front face is
    exposed (``after_gap`` is its depth: long after a junction, to close the cross street)."""
    things: list[Thing] = []
    z = z0
    previous = -1.0
    first = True
    storey = float(rng.uniform(2.9, 3.4))
    while z < z1 - 2.0:
        if previous >= 0 and z1 - z > 12.0 and rng.random() < 0.12:
            # a courtyard: a wall or fence along the sidewalk, something set back behind it
            gap = float(rng.uniform(4.0, 9.0))
            things.append(Static(z, _courtyard(side, x, z, z + gap, previous, style, rng)))
            z += gap
            previous = -1.0
            continue
        length = float(rng.uniform(7.0, 20.0))
        end = min(z1, z + length) if z1 - (z + length) > 5.0 else z1
        storeys = int(rng.integers(style.storeys[0], style.storeys[1] + 1)) - (0 if busy else 1)
        height = max(2, storeys) * storey + float(rng.uniform(0.3, 1.2))
        colour = style.facades[int(rng.integers(len(style.facades)))]
        house = _House(
            side=-1 if side == 0 else 1,
            x=x,
            z0=z,
            z1=end,
            height=height,
            depth=after_gap if first else float(rng.uniform(10.0, 16.0)),
            colour=vary(colour, rng, 5),
            roof=vary(style.roof, rng, 6),
            pitched=bool(rng.random() < (0.25 if busy else 0.6)),
            storey=storey,
            spacing=float(rng.uniform(2.2, 3.4)),
            window=(float(rng.uniform(0.9, 1.4)), float(rng.uniform(1.2, 1.7))),
            glass=vary((55, 68, 82), rng, 8),
            frame=vary((225, 225, 220), rng, 5) if rng.random() < 0.6 else colour,
            shop=busy and rng.random() < 0.6,
            exposed_above=0.0 if previous < 0 else (previous if height > previous + 0.5 else -1.0),
        )
        things.append(Static(z, _house_shape(house, rng)))
        previous = height
        first = False
        z = end
    return things


def _courtyard(
    side: int,
    x: float,
    z0: float,
    z1: float,
    height: float,
    style: CityStyle,
    rng: np.random.Generator,
) -> Shape:
    """A gap between two houses: grass, a back building or trees, a wall or fence in front."""
    sign = -1 if side == 0 else 1
    back = x + float(rng.uniform(3.0, 8.0))
    shape = Shape()
    shape.fill(
        ground_quad(*sorted((sign * x, sign * (back + 1.0))), z0, z1, 0.12),
        vary(style.grass, rng, 6),
        TERRAIN,
    )
    if rng.random() < 0.5:
        colour = shade(
            style.facades[int(rng.integers(len(style.facades)))], 0.85 if sign < 0 else 1.0
        )
        shape.fill(
            side_plane(sign * back, z0, z1, 0.0, height * float(rng.uniform(0.6, 1.0))),
            colour,
            BUILDING,
        )
    else:
        heights = float(rng.uniform(3.0, 7.0)) + rng.normal(0, 0.4, 6)
        shape.fill(
            profile_strip(sign * back, z0, z1, heights),
            pick(rng, style.greens, 6),
            VEGETATION,
        )
    if rng.random() < 0.5:
        top = float(rng.uniform(1.4, 2.6))
        colour = pick(rng, ((170, 165, 155), (150, 120, 100), (120, 120, 118)), 8)
        shape.fill(side_plane(sign * x, z0, z1, 0.0, top), colour, WALL)
        shape.fill(side_plane(sign * x, z0, z1, top - 0.12, top), shade(colour, 1.15), WALL)
    else:
        colour = pick(rng, ((70, 90, 70), (120, 100, 80), (140, 140, 140), (50, 52, 55)), 8)
        shape.fill(side_plane(sign * x, z0, z1, 0.0, float(rng.uniform(1.2, 2.0))), colour, FENCE)
    return shape
