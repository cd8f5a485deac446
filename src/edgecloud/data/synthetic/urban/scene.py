"""Building a clip's scene: plan the street, then draw the skyline, the roadside, the ground
and the population into it, and merge the still things of the street into depth slabs so
that a frame takes few draw calls."""

from __future__ import annotations

import math

import numpy as np

from edgecloud.data.synthetic.urban.appearance import CityStyle, pick, shade, vary
from edgecloud.data.synthetic.urban.classes import BUILDING, VEGETATION
from edgecloud.data.synthetic.urban.config import UrbanWorldConfig
from edgecloud.data.synthetic.urban.geometry import FAR, Shape, billboard, rect
from edgecloud.data.synthetic.urban.ground import lay_ground
from edgecloud.data.synthetic.urban.population import populate
from edgecloud.data.synthetic.urban.roadside import line_street
from edgecloud.data.synthetic.urban.street import Scene, plan_street
from edgecloud.data.synthetic.urban.things import Static, Thing


def _skyline(style: CityStyle, rng: np.random.Generator) -> Shape:
    """Buildings and trees at the end of the street, placed relative to the camera."""
    shape = Shape()
    x = -260.0
    while x < 260.0:
        width = float(rng.uniform(6.0, 25.0))
        if rng.random() < 0.7:
            height = float(rng.uniform(8.0, 35.0))
            colour = shade(style.facades[int(rng.integers(len(style.facades)))], 0.8)
            shape.fill(
                billboard(0.0, FAR, rect(x, x + width, -2.0, height)),
                vary(colour, rng, 5),
                BUILDING,
            )
        else:
            heights = float(rng.uniform(6.0, 14.0)) + rng.normal(0, 1.0, 6)
            pts = np.column_stack([np.linspace(x, x + width, 6), heights])
            pts = np.concatenate([pts, [[x + width, -2.0], [x, -2.0]]])
            shape.fill(billboard(0.0, FAR, pts), pick(rng, style.greens, 6), VEGETATION)
        x += width
    return shape


def build_scene(config: UrbanWorldConfig, style: CityStyle, rng: np.random.Generator) -> Scene:
    """Everything drawn in a clip of a city of ``style``: the street's plan, skyline, roadside,
    ground and population, drawn from ``rng`` in that order."""
    street = plan_street(config, style, rng)
    scene = Scene(street, style, _skyline(style, rng), Shape())
    terrain, pits = line_street(scene, rng)
    lay_ground(scene.ground, street, style, terrain, pits, rng)
    populate(scene, config, rng)
    scene.things = _bucketed(scene.things)
    return scene


_BUCKET = 3.0
"""Depth in metres of the slabs of street in which still things are drawn as one shape."""


def _bucketed(things: list[Thing]) -> list[Thing]:
    """The things, with the still ones merged per ``_BUCKET`` metres of depth (far to near
    within each): far fewer draw calls, at the price of ordering them against moving things
    by the slab's nearest depth rather than their own."""
    slabs: dict[int, list[Static]] = {}
    merged: list[Thing] = []
    for thing in things:
        if isinstance(thing, Static):
            slabs.setdefault(math.floor(thing.z / _BUCKET), []).append(thing)
        else:
            merged.append(thing)
    for _, members in sorted(slabs.items()):
        members.sort(key=lambda thing: -thing.z)
        shape = Shape()
        for member in members:
            shape.extend(member.fixed)
        merged.append(Static(members[-1].z, shape))
    return merged
