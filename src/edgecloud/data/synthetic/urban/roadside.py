"""What lines the street beyond the sidewalks, stretch by stretch and side by side: house
terraces (with avenue trees along the kerb) or a quiet green roadside (fence, wall or hedge,
grass, trees, a tree line or set-back houses), and grass verges."""

from __future__ import annotations

import numpy as np

from edgecloud.data.synthetic.urban.appearance import CityStyle, pick, shade, vary
from edgecloud.data.synthetic.urban.buildings import houses
from edgecloud.data.synthetic.urban.classes import FENCE, TERRAIN, VEGETATION, WALL
from edgecloud.data.synthetic.urban.geometry import (
    Shape,
    front_plane,
    ground_quad,
    profile_strip,
    side_plane,
)
from edgecloud.data.synthetic.urban.street import CROSS_REACH, Scene, Street
from edgecloud.data.synthetic.urban.street_furniture import tree
from edgecloud.data.synthetic.urban.things import Static, Thing


def quiet_roadside(
    side: int,
    street: Street,
    z0: float,
    z1: float,
    *,
    depth: float,
    style: CityStyle,
    rng: np.random.Generator,
) -> tuple[list[Thing], Shape]:
    """A quiet roadside: a fence, wall or hedge along the sidewalk, grass, trees and a tree
    line or set-back houses behind, whose front reaches ``depth`` metres back (to close a
    cross street's view). Returns the things and the grass (a ground shape)."""
    x = street.facade(side)
    sign = -1 if side == 0 else 1
    things: list[Thing] = []
    back = x + float(rng.uniform(4.0, 14.0))
    ground = Shape()
    # level with the sidewalk, so no kerb shows where a cross street's sidewalk begins
    ground.fill(
        ground_quad(*sorted((sign * x, sign * (back + 2.0))), z0, z1, 0.12),
        vary(style.grass, rng, 6),
        TERRAIN,
    )
    boundary = rng.choice(["fence", "wall", "hedge", "none"], p=[0.35, 0.3, 0.2, 0.15])
    edge = Shape()
    length = z1 - z0
    if boundary == "fence":
        colour = pick(rng, ((70, 90, 70), (120, 100, 80), (140, 140, 140), (50, 52, 55)), 8)
        edge.fill(side_plane(sign * x, z0, z1, 0.0, float(rng.uniform(1.0, 1.8))), colour, FENCE)
    elif boundary == "wall":
        colour = pick(rng, ((170, 165, 155), (150, 120, 100), (120, 120, 118)), 8)
        top = float(rng.uniform(0.7, 2.2))
        edge.fill(side_plane(sign * x, z0, z1, 0.0, top), colour, WALL)
        edge.fill(side_plane(sign * x, z0, z1, top - 0.12, top), shade(colour, 1.15), WALL)
    elif boundary == "hedge":
        samples = max(2, int(length / 1.0))
        heights = float(rng.uniform(0.9, 2.0)) + rng.normal(0, 0.08, samples)
        edge.fill(profile_strip(sign * x, z0, z1, heights), pick(rng, style.greens, 6), VEGETATION)
    if edge.prims:
        things.append(Static(z0, edge))
    if rng.random() < 0.4:
        things += houses(side, back, z0, z1, busy=False, after_gap=depth, style=style, rng=rng)
    else:
        samples = max(2, int(length / 1.5))
        heights = np.clip(
            float(rng.uniform(5.0, 12.0)) + np.cumsum(rng.normal(0, 0.6, samples)), 3.0, 16.0
        )
        line = Shape()
        line.fill(
            profile_strip(sign * back, z0, z1, heights),
            pick(rng, style.greens, 6),
            VEGETATION,
        )
        things.append(Static(z0, line))
        # a front face closing the tree line towards the camera
        front = Shape()
        front.fill(
            front_plane(z0, sign * back, sign * (back + depth), 0.0, float(heights[0])),
            shade(pick(rng, style.greens, 6), 0.85),
            VEGETATION,
        )
        things.append(Static(z0, front))
    for _ in range(rng.poisson(length / 12.0)):
        tz = float(rng.uniform(z0 + 1, z1 - 1))
        tx = sign * float(rng.uniform(x + 1.5, back - 1.0))
        things.append(Static(tz, tree(tx, tz, rng, style.greens)))
    return things, ground


def line_street(scene: Scene, rng: np.random.Generator) -> tuple[Shape, Shape]:
    """Houses, courtyards, quiet green roadsides and avenue trees along both sides of every
    stretch, added to ``scene.roadside`` (avenue trees to ``scene.things``); junction gaps are
    left open. Returns the grass beyond the sidewalks and the grass verges and tree pits,
    ground shapes that :func:`.ground.lay_ground` puts below and above the sidewalks."""
    street, style = scene.street, scene.style
    edge = (street.road_edge(0), street.road_edge(1))
    facade = (street.facade(0), street.facade(1))
    terrain = Shape()
    pits = Shape()
    pieces = [
        (s.z0, s.z1, s.busy, any(abs(j.z1 - s.z0) < 1e-6 for j in street.junctions))
        for s in street.stretches
    ]
    for side in (0, 1):
        sign = -1 if side == 0 else 1
        for z0, z1, busy, after_junction in pieces:
            green = rng.random() < (0.15 if busy else 0.7)
            depth = CROSS_REACH if after_junction else float(rng.uniform(10.0, 16.0))
            if not busy and rng.random() < 0.5:
                # a grass verge between the kerb and the footway
                x0, x1 = sorted(
                    (sign * (edge[side] + 0.3), sign * (edge[side] + float(rng.uniform(1.0, 2.0))))
                )
                pits.fill(ground_quad(x0, x1, z0, z1, 0.125), vary(style.grass, rng, 6), TERRAIN)
            if green:
                things, patch = quiet_roadside(
                    side, street, z0, z1, depth=depth, style=style, rng=rng
                )
                scene.roadside += things
                terrain.extend(patch)
            else:
                scene.roadside += houses(
                    side, facade[side], z0, z1, busy=busy, after_gap=depth, style=style, rng=rng
                )
                if rng.random() < 0.25 and z1 - z0 > 20:
                    # an avenue: trees in pits along the kerb
                    for tz in np.arange(z0 + 4.0, z1 - 2.0, float(rng.uniform(8.0, 12.0))):
                        tx = sign * (edge[side] + 0.9)
                        pits.fill(
                            ground_quad(tx - 0.6, tx + 0.6, tz - 0.6, tz + 0.6, 0.125),
                            vary(style.grass, rng, 6),
                            TERRAIN,
                        )
                        scene.things.append(
                            Static(float(tz), tree(tx, float(tz), rng, style.greens, scale=0.9))
                        )
    return terrain, pits
