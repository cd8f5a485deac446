"""A junction's contents, where the small classes crowd: signal poles on every corner, sign
posts before and after, waiting groups and people on the zebras, riders and cars on the
cross street, parked bicycles near the corner."""

from __future__ import annotations

import math

import numpy as np

from edgecloud.data.synthetic.urban.config import UrbanWorldConfig
from edgecloud.data.synthetic.urban.people import walker
from edgecloud.data.synthetic.urban.street import Junction, Scene
from edgecloud.data.synthetic.urban.street_furniture import sign_post, signal_pole
from edgecloud.data.synthetic.urban.things import Static
from edgecloud.data.synthetic.urban.traffic import vehicle_kind
from edgecloud.data.synthetic.urban.two_wheelers import two_wheeler
from edgecloud.data.synthetic.urban.vehicles import vehicle


def populate_junction(
    scene: Scene, j: Junction, config: UrbanWorldConfig, rng: np.random.Generator
) -> None:
    """Signals, signs, waiting crowds, crossing people and riders, cars on the cross street."""
    street = scene.street
    things = scene.things
    edge = (street.road_edge(0), street.road_edge(1))
    state = 0 if j.lights_red else 2
    travel = street.speed * (config.frames_per_clip - 1)
    reached = j.z0 < travel + 8.0
    density = config.person_density
    for side in (0, 1):
        sign = -1 if side == 0 else 1
        x_corner = sign * (edge[side] + 0.5)
        mast = float(rng.uniform(3.0, 5.5)) if side == 1 and rng.random() < 0.6 else 0.0
        things.append(
            Static(j.z0 + 0.3, signal_pole(x_corner, j.z0 + 0.3, sign, state, rng, mast=mast))
        )
        far_state = state if rng.random() < 0.5 else 0
        things.append(Static(j.z1 - 0.3, signal_pole(x_corner, j.z1 - 0.3, sign, far_state, rng)))
        for z in (j.z0 - float(rng.uniform(2, 6)), j.z1 + float(rng.uniform(1, 5))):
            if rng.random() < 0.8:
                x = sign * (edge[side] + float(rng.uniform(0.3, 0.8)))
                things.append(Static(z, sign_post(x, z, rng, plates=int(rng.integers(1, 3)))))
        # waiting groups on the corners
        for z_corner in (j.z0 + j.walk / 2, j.z1 - j.walk / 2):
            for _ in range(rng.poisson(density * 1.8)):
                x = sign * float(rng.uniform(edge[side] + 0.4, edge[side] + 4.0))
                z = z_corner + float(rng.uniform(-j.walk / 2 + 0.3, j.walk / 2 - 0.3))
                things.append(walker(x, z, 0.0, 0.0, rng))
        # crossing the cross street on the zebra beside our road
        for _ in range(rng.poisson(density * 1.2)):
            x = sign * float(rng.uniform(edge[side] + 0.7, edge[side] + 3.3))
            z = float(rng.uniform(j.road_z0, j.road_z1))
            vz = float(rng.choice([-1, 1]) * rng.uniform(0.05, 0.09))
            things.append(walker(x, z, 0.0, vz, rng))
        # riders waiting at the cross street's stop lines or crossing it
        for _ in range(rng.poisson(config.two_wheeler_density * 2.0)):
            motor = rng.random() < 0.4
            x = sign * float(rng.uniform(edge[side] + 4.5, edge[side] + 25.0))
            lane_z = j.road_z0 + j.road * (0.7 if sign > 0 else 0.3)
            heading = -sign * math.pi / 2
            speed = 0.0 if rng.random() < 0.5 else float(rng.uniform(0.2, 0.4))
            things.append(two_wheeler(x, lane_z, heading, speed, motor=motor, ridden=True, rng=rng))
        # cars waiting on the cross street
        x = sign * (edge[side] + float(rng.uniform(4.5, 7.0)))
        for _ in range(int(rng.integers(0, 3))):
            lane_z = j.road_z0 + j.road * (0.72 if sign > 0 else 0.28)
            things.append(
                vehicle(
                    x + sign * 2.4,
                    lane_z,
                    -sign * math.pi / 2,
                    0.0,
                    vehicle_kind(config, rng),
                    rng,
                )
            )
            x += sign * float(rng.uniform(5.5, 8.0))
        # parked bicycles near the corner
        for _ in range(rng.poisson(config.two_wheeler_density * 2.0)):
            x = sign * float(rng.uniform(edge[side] + 1.0, street.facade(side) - 0.3))
            z = j.z0 - float(rng.uniform(0.5, 6.0))
            things.append(
                two_wheeler(
                    x,
                    z,
                    sign * float(rng.uniform(1.3, 1.8)),
                    0.0,
                    motor=False,
                    ridden=False,
                    rng=rng,
                )
            )
    if not reached:
        # people crossing our road on the zebra, only where the camera does not get there
        # during the clip (it never stops, so it would drive through them)
        for _ in range(rng.poisson(density * 1.5)):
            x = float(rng.uniform(-edge[0], edge[1]))
            z = float(rng.uniform(j.z0 + 0.5, j.road_z0 - 0.5))
            vx = float(rng.choice([-1, 1]) * rng.uniform(0.05, 0.09))
            things.append(walker(x, z, vx, 0.0, rng))
