"""Traffic on the street: parked cars along the parking strips, vehicles driving in the other
lanes and the oncoming ones, and maybe one ahead of the camera in its own lane."""

from __future__ import annotations

import math

import numpy as np

from edgecloud.data.synthetic.urban.classes import BUS, CAR, TRUCK
from edgecloud.data.synthetic.urban.config import UrbanWorldConfig
from edgecloud.data.synthetic.urban.street import Scene
from edgecloud.data.synthetic.urban.vehicles import vehicle


def vehicle_kind(config: UrbanWorldConfig, rng: np.random.Generator) -> int:
    """A car, or (with ``heavy_vehicle_fraction`` chance) a bus or a truck."""
    if rng.random() < config.heavy_vehicle_fraction:
        return BUS if rng.random() < 0.5 else TRUCK
    return CAR


def populate_traffic(scene: Scene, config: UrbanWorldConfig, rng: np.random.Generator) -> None:
    """Parked cars, cars in the other lanes, and maybe one ahead of the camera in its lane."""
    street = scene.street
    things = scene.things
    za, zb = street.z_start, street.z_end
    travel = street.speed * (config.frames_per_clip - 1)
    camera_lane = int(street.camera_x // street.lane_width)
    for side, parked in enumerate(street.parking):
        if not parked:
            continue
        sign = -1 if side == 0 else 1
        x = sign * (street.lanes * street.lane_width + 1.1)
        z = za + float(rng.uniform(0, 8))
        while z < zb:
            kind = TRUCK if rng.random() < 0.04 else CAR
            length = 4.5 if kind == CAR else 8.0
            if rng.random() < config.parked_density * 0.55 and not street.in_junction(
                z, length + 2.0
            ):
                heading = 0.0 if sign > 0 else math.pi
                things.append(
                    vehicle(x + float(rng.normal(0, 0.1)), z + length / 2, heading, 0.0, kind, rng)
                )
            z += length + float(rng.uniform(0.6, 4.0))
    for sign in (-1, 1):
        for lane in range(street.lanes):
            x = sign * (lane + 0.5) * street.lane_width
            if sign > 0 and lane == camera_lane:
                speed = street.speed
                if rng.random() < 0.55:
                    z = float(rng.uniform(12.0, 35.0))
                    kind = vehicle_kind(config, rng)
                    things.append(vehicle(x + float(rng.normal(0, 0.1)), z, 0.0, speed, kind, rng))
                continue
            speed = (
                street.speed * float(rng.uniform(0.6, 1.4))
                if sign > 0
                else float(rng.uniform(0.4, 1.1))
            )
            # spread over the stretch the camera sees while the clip lasts
            low = za if sign > 0 else 0.0
            high = zb + (speed * config.frames_per_clip if sign < 0 else travel)
            z = low + float(rng.uniform(0, 10))
            while z < high:
                if rng.random() < config.vehicle_density * 0.8:
                    kind = vehicle_kind(config, rng)
                    heading = 0.0 if sign > 0 else math.pi
                    things.append(
                        vehicle(x + float(rng.normal(0, 0.1)), z, heading, speed, kind, rng)
                    )
                    z += 14.0
                z += float(rng.uniform(4.0, 12.0))
