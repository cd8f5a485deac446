"""The ground of a clip: road and cross streets, sidewalks and kerbs, manholes and patches,
lane markings, stop lines and zebra crossings, laid in an order where nothing covers what is
in front of it (the ground is drawn as one shape, before everything standing on it)."""

from __future__ import annotations

import numpy as np

from edgecloud.data.synthetic.urban.appearance import CityStyle, shade
from edgecloud.data.synthetic.urban.classes import ROAD, SIDEWALK
from edgecloud.data.synthetic.urban.geometry import (
    Shape,
    ellipse,
    front_plane,
    ground_quad,
    side_plane,
)
from edgecloud.data.synthetic.urban.street import CROSS_REACH, Street


def _marking_dashes(
    shape: Shape,
    x: float,
    z0: float,
    z1: float,
    dash: float,
    gap: float,
    width: float,
    street: Street,
) -> None:
    """A lane marking at ``x``: dashes of ``dash`` metres with ``gap`` between them (a solid
    line: one dash over the whole length), left out at junctions."""
    z = z0
    while z < z1:
        end = min(z + dash, z1)
        if not street.in_junction(z, 1.0) and not street.in_junction(end, 1.0):
            shape.fill(
                ground_quad(x - width / 2, x + width / 2, z, end, 0.005), (222, 222, 215), ROAD
            )
        z += dash + gap


def lay_ground(
    ground: Shape,
    street: Street,
    style: CityStyle,
    terrain: Shape,
    pits: Shape,
    rng: np.random.Generator,
) -> None:
    """Add the ground to ``ground`` in an order where nothing covers what is in front of it:
    ``terrain`` (grass beyond the sidewalks, lower than them), road, sidewalks and kerbs,
    ``pits`` (grass verges and tree pits), manholes and patches, markings."""
    edge = (street.road_edge(0), street.road_edge(1))
    facade = (street.facade(0), street.facade(1))
    za, zb = street.z_start, street.z_end
    asphalt = style.asphalt
    ground.extend(terrain)
    ground.fill(ground_quad(-edge[0], edge[1], za, zb), asphalt, ROAD)
    for j in street.junctions:
        ground.fill(ground_quad(-CROSS_REACH, CROSS_REACH, j.road_z0, j.road_z1), asphalt, ROAD)
    paving = style.paving
    kerb = shade(paving, 1.12)
    for side in (0, 1):
        sign = -1 if side == 0 else 1
        spans = []
        z = za
        for j in street.junctions:
            spans.append((z, j.road_z0))
            z = j.road_z1
        spans.append((z, zb))
        for z0, z1 in spans:
            x0, x1 = sorted((sign * edge[side], sign * facade[side]))
            ground.fill(ground_quad(x0, x1, z0, z1, 0.12), paving, SIDEWALK)
            k0, k1 = sorted((sign * edge[side], sign * (edge[side] + 0.25)))
            ground.fill(ground_quad(k0, k1, z0, z1, 0.12), kerb, SIDEWALK)
            kerb_face = side_plane(sign * edge[side], z0, z1, 0.0, 0.12)
            ground.fill(kerb_face, shade(kerb, 0.9), SIDEWALK)
        for j in street.junctions:
            for z0, z1 in ((j.z0, j.road_z0), (j.road_z1, j.z1)):
                x0, x1 = sorted((sign * facade[side], sign * CROSS_REACH))
                ground.fill(ground_quad(x0, x1, z0, z1, 0.12), paving, SIDEWALK)
            x0, x1 = sorted((sign * edge[side], sign * CROSS_REACH))
            ground.fill(front_plane(j.road_z1, x0, x1, 0.0, 0.12), shade(kerb, 0.95), SIDEWALK)
    ground.extend(pits)
    # manholes and patched asphalt
    for _ in range(rng.poisson((zb - za) / 25.0)):
        mz = float(rng.uniform(za, zb))
        mx = float(rng.uniform(-edge[0] + 0.5, edge[1] - 0.5))
        if rng.random() < 0.5:
            ring = ellipse(0.35, 0.35, 10, cx=mx, cy=mz)
            ground.fill(
                np.column_stack([ring[:, 0], np.full(10, 0.004), ring[:, 1]]),
                shade(asphalt, 0.6),
                ROAD,
            )
        else:
            w, length = rng.uniform(0.8, 3.0, 2)
            ground.fill(
                ground_quad(mx - w / 2, mx + w / 2, mz, mz + length, 0.002),
                shade(asphalt, float(rng.uniform(0.8, 1.15))),
                ROAD,
            )
    centre_solid = street.lanes == 2 and rng.random() < 0.5
    if centre_solid:
        _marking_dashes(ground, 0.0, za, zb, zb - za, 0.0, 0.14, street)
    else:
        _marking_dashes(ground, 0.0, za + float(rng.uniform(0, 9)), zb, 3.0, 6.0, 0.12, street)
    for k in range(1, street.lanes):
        for sign in (-1, 1):
            _marking_dashes(
                ground,
                sign * k * street.lane_width,
                za + float(rng.uniform(0, 9)),
                zb,
                3.0,
                6.0,
                0.12,
                street,
            )
    for side, parked in enumerate(street.parking):
        if parked:
            sign = -1 if side == 0 else 1
            _marking_dashes(
                ground, sign * street.lanes * street.lane_width, za, zb, zb - za, 0.0, 0.12, street
            )
    for j in street.junctions:
        # zebra across the street in the near sidewalk's band, stop line before it
        for x in np.arange(-edge[0] + 0.4, edge[1] - 0.4, 1.0):
            ground.fill(
                ground_quad(x, x + 0.5, j.z0 + 0.3, j.road_z0 - 0.3, 0.005), (225, 225, 218), ROAD
            )
        ground.fill(
            ground_quad(0.1, street.lanes * street.lane_width, j.z0 - 0.8, j.z0 - 0.4, 0.005),
            (225, 225, 218),
            ROAD,
        )
        # zebras across the cross street next to our road, and its centre line
        for sign in (-1, 1):
            x0 = edge[0 if sign < 0 else 1] + 0.5
            for z in np.arange(j.road_z0 + 0.3, j.road_z1 - 0.3, 1.0):
                a, b = sorted((sign * x0, sign * (x0 + 3.0)))
                ground.fill(ground_quad(a, b, z, z + 0.5, 0.005), (225, 225, 218), ROAD)
            middle = (j.road_z0 + j.road_z1) / 2
            for x in np.arange(x0 + 4.0, CROSS_REACH, 9.0):
                a, b = sorted((sign * x, sign * (x + 3.0)))
                ground.fill(
                    ground_quad(a, b, middle - 0.06, middle + 0.06, 0.005), (222, 222, 215), ROAD
                )
