"""The street of one clip: its plan (road cross-section, busy and quiet stretches, cross
streets with junctions, the camera's lane and speed) and the scene that holds everything
drawn along it. Planning puts a change of stretch inside every clip's travel."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgecloud.data.synthetic.urban.appearance import CityStyle
from edgecloud.data.synthetic.urban.config import UrbanWorldConfig
from edgecloud.data.synthetic.urban.geometry import FAR, Shape
from edgecloud.data.synthetic.urban.things import Thing

CROSS_REACH = 150.0
"""How far cross streets and the facades along them extend sideways, in metres."""


@dataclass(frozen=True)
class Stretch:
    """A busy or a quiet stretch of the street from ``z0`` to ``z1``."""

    z0: float
    z1: float
    busy: bool


@dataclass(frozen=True)
class Junction:
    """A cross street: sidewalk ``[z0, z0 + walk)``, road ``[z0 + walk, z0 + walk + road)``,
    sidewalk again up to :attr:`z1`."""

    z0: float
    walk: float
    road: float
    lights_red: bool

    @property
    def road_z0(self) -> float:
        return self.z0 + self.walk

    @property
    def road_z1(self) -> float:
        return self.z0 + self.walk + self.road

    @property
    def z1(self) -> float:
        return self.z0 + 2 * self.walk + self.road


@dataclass
class Street:
    """The layout of one clip: road cross-section, stretches, junctions, camera motion."""

    lanes: int
    lane_width: float
    parking: tuple[bool, bool]
    walk: tuple[float, float]
    camera_x: float
    speed: float
    z_start: float
    z_end: float
    stretches: list[Stretch]
    junctions: list[Junction]

    def road_edge(self, side: int) -> float:
        """Distance from the centre line to the kerb on ``side`` (0 left, 1 right)."""
        return self.lanes * self.lane_width + (2.2 if self.parking[side] else 0.0)

    def facade(self, side: int) -> float:
        return self.road_edge(side) + self.walk[side]

    def in_junction(self, z: float, margin: float = 0.0) -> bool:
        return any(j.z0 - margin <= z <= j.z1 + margin for j in self.junctions)

    def busy_at(self, z: float) -> bool:
        if self.in_junction(z):
            return True
        return any(s.busy for s in self.stretches if s.z0 <= z < s.z1)


def plan_street(config: UrbanWorldConfig, style: CityStyle, rng: np.random.Generator) -> Street:
    """A random street for a clip of ``config`` in a city of ``style``, laid out so that a
    change of stretch happens while the clip is filmed."""
    lanes = 2 if rng.random() < style.two_lanes else 1
    lane_width = float(rng.uniform(3.0, 3.6))
    parking = (bool(rng.random() < style.parking), bool(rng.random() < style.parking))
    walk = (float(rng.uniform(2.5, 5.0)), float(rng.uniform(2.5, 5.0)))
    lane = int(rng.integers(lanes))
    camera_x = (lane + 0.5) * lane_width + float(rng.uniform(-0.25, 0.25))
    speed = float(rng.uniform(*config.speed))
    travel = speed * (config.frames_per_clip - 1)
    z_start, z_end = -40.0, travel + FAR + 30.0
    low, high = config.stretch_length
    # the first change of stretch falls between 8 m ahead of the first frame and 25 m ahead of
    # the last, so every clip films one
    first_change = float(rng.uniform(8.0, travel + 25.0))
    stretches: list[Stretch] = []
    junctions: list[Junction] = []
    busy = bool(rng.random() < 0.5)
    z = z_start
    end = first_change
    while z < z_end:
        stretches.append(Stretch(z, end, busy))
        z = end
        if rng.random() < config.junction_probability:
            junction = Junction(
                z0=z,
                walk=float(rng.uniform(2.5, 4.0)),
                road=float(rng.uniform(6.5, 12.0)),
                lights_red=bool(rng.random() < 0.5),
            )
            junctions.append(junction)
            z = junction.z1
        busy = (not busy) if rng.random() < 0.8 else busy
        end = z + float(rng.uniform(low, high))
    return Street(
        lanes, lane_width, parking, walk, camera_x, speed, z_start, z_end, stretches, junctions
    )


@dataclass
class Scene:
    """Everything drawn in a clip, in layers: the far skyline, the ground, the roadside
    (sorted far to near), the street (sorted far to near)."""

    street: Street
    style: CityStyle
    skyline: Shape
    ground: Shape
    roadside: list[Thing] = field(default_factory=list)
    things: list[Thing] = field(default_factory=list)
