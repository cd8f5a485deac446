"""Populating the street: pedestrians, sign posts, parked and ridden two-wheelers and street
lights along each side, denser on busy stretches than on quiet ones; then the traffic and
each junction's contents (:mod:`.traffic`, :mod:`.junctions`)."""

from __future__ import annotations

import math

import numpy as np

from edgecloud.data.synthetic.urban.config import UrbanWorldConfig
from edgecloud.data.synthetic.urban.junctions import populate_junction
from edgecloud.data.synthetic.urban.people import walker
from edgecloud.data.synthetic.urban.street import Scene
from edgecloud.data.synthetic.urban.street_furniture import sign_post, street_light
from edgecloud.data.synthetic.urban.things import Static
from edgecloud.data.synthetic.urban.traffic import populate_traffic
from edgecloud.data.synthetic.urban.two_wheelers import two_wheeler


def _poisson_positions(
    rng: np.random.Generator, density: float, z0: float, z1: float
) -> np.ndarray:
    """Sorted positions of ``density`` things per 10 m, uniformly in ``[z0, z1)``."""
    count = rng.poisson(max(0.0, density) * max(0.0, z1 - z0) / 10.0)
    return np.sort(rng.uniform(z0, z1, count))


def populate(scene: Scene, config: UrbanWorldConfig, rng: np.random.Generator) -> None:
    """People, two-wheelers, furniture and traffic along the street."""
    street = scene.street
    things = scene.things
    edge = (street.road_edge(0), street.road_edge(1))
    facade = (street.facade(0), street.facade(1))
    quiet = config.quiet_density
    za, zb = street.z_start, street.z_end
    pieces = [(s.z0, s.z1, s.busy) for s in street.stretches]
    for side in (0, 1):
        sign = -1 if side == 0 else 1
        inner, outer = edge[side] + 0.45, facade[side] - 0.35
        for z0, z1, busy in pieces:
            factor = 1.0 if busy else quiet
            for z in _poisson_positions(rng, config.person_density * factor, z0, z1):
                x = sign * float(rng.uniform(inner, outer))
                moving = rng.random() < 0.75
                vz = float(rng.choice([-1, 1]) * rng.uniform(0.05, 0.09)) if moving else 0.0
                things.append(walker(x, float(z), 0.0, vz, rng))
            for z in _poisson_positions(rng, config.sign_density * factor, z0, z1):
                if street.in_junction(float(z), 1.0):
                    continue
                x = sign * float(rng.uniform(edge[side] + 0.3, edge[side] + 0.9))
                things.append(Static(float(z), sign_post(x, float(z), rng)))
            for z in _poisson_positions(rng, config.two_wheeler_density * factor * 0.5, z0, z1):
                # parked bicycles and motorcycles on the sidewalk
                motor = rng.random() < 0.25
                x = sign * float(rng.uniform(edge[side] + 0.8, outer))
                heading = sign * float(rng.uniform(1.2, 1.9))
                things.append(
                    two_wheeler(x, float(z), heading, 0.0, motor=motor, ridden=False, rng=rng)
                )
        z = za + float(rng.uniform(0, config.pole_spacing[1]))
        while z < zb:
            if not street.in_junction(z, 1.5) and (street.busy_at(z) or rng.random() < 0.6):
                x = sign * (edge[side] + 0.45)
                things.append(Static(z, street_light(x, z, sign, rng)))
            z += float(rng.uniform(*config.pole_spacing))
    # riders on the road: along the kerb in both directions
    lane_edge = street.lanes * street.lane_width
    for z0, z1, busy in pieces:
        factor = 1.0 if busy else quiet
        for z in _poisson_positions(rng, config.two_wheeler_density * factor * 0.5, z0, z1):
            motor = rng.random() < 0.35
            ahead = rng.random() < 0.6
            x = (lane_edge - 0.5) * (1 if ahead else -1) + float(rng.normal(0, 0.1))
            speed = float(rng.uniform(0.45, 0.9) if motor else rng.uniform(0.2, 0.35))
            heading = 0.0 if ahead else math.pi
            things.append(
                two_wheeler(x, float(z), heading, speed, motor=motor, ridden=True, rng=rng)
            )
    populate_traffic(scene, config, rng)
    for junction in street.junctions:
        populate_junction(scene, junction, config, rng)
