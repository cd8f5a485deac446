"""Pedestrians: random looks (clothes, skin, hair, height), a billboard figure with legs,
arms and head, standing or walking with a stride drawn from a few precomputed poses (a
small class: a few pixels wide at the default size)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgecloud.data.synthetic.urban.appearance import CLOTHES, RGB, pick, shade
from edgecloud.data.synthetic.urban.classes import PERSON
from edgecloud.data.synthetic.urban.geometry import Camera, Shape, billboard, ellipse, rect
from edgecloud.data.synthetic.urban.things import Static, Thing

_SKINS = ((225, 185, 160), (200, 160, 130), (160, 115, 85), (110, 75, 55))
_HAIRS = ((30, 25, 20), (70, 50, 35), (150, 120, 80), (110, 110, 110))


@dataclass(frozen=True)
class Looks:
    """What a person (a pedestrian or a rider) looks like."""

    top: RGB
    bottom: RGB
    skin: RGB
    hair: RGB
    height: float
    bag: bool


def random_looks(rng: np.random.Generator) -> Looks:
    """Random clothes, skin, hair, height and maybe a bag."""
    return Looks(
        top=pick(rng, CLOTHES, 12),
        bottom=pick(rng, CLOTHES[:4] + CLOTHES[6:7], 8),
        skin=pick(rng, _SKINS, 6),
        hair=pick(rng, _HAIRS, 6),
        height=float(rng.uniform(1.55, 1.95)),
        bag=bool(rng.random() < 0.3),
    )


def _person_shape(
    x: float, z: float, looks: Looks, *, phase: float, sideways: float, facing: bool
) -> Shape:
    """A pedestrian as a billboard at depth ``z``: legs mid-stride, torso, arms, head."""
    s = looks.height / 1.75
    shape = Shape()
    hip, shoulder = 0.92 * s, 1.42 * s
    swing = 0.22 * s * math.sin(phase) * sideways
    for k in (-1, 1):
        foot = k * (0.08 * s + swing)
        shape.line(
            billboard(x, z, [[k * 0.07 * s, hip], [foot, 0.06]]), 0.14 * s, looks.bottom, PERSON
        )
    shape.fill(
        billboard(
            x,
            z,
            [
                [-0.16 * s, hip - 0.05],
                [0.16 * s, hip - 0.05],
                [0.2 * s, shoulder],
                [-0.2 * s, shoulder],
            ],
        ),
        looks.top,
        PERSON,
    )
    for k in (-1, 1):
        hand = k * (0.24 * s - 0.1 * s * math.sin(phase) * k * sideways)
        shape.line(
            billboard(x, z, [[k * 0.2 * s, shoulder - 0.05], [hand, hip - 0.12]]),
            0.08 * s,
            looks.top,
            PERSON,
        )
    if looks.bag:
        shape.fill(
            billboard(x, z, rect(0.18 * s, 0.34 * s, hip - 0.25, hip + 0.05)),
            shade(looks.bottom, 0.7),
            PERSON,
        )
    head = ellipse(0.1 * s, 0.125 * s, 10, cy=1.6 * s)
    shape.fill(billboard(x, z, head), looks.skin if facing else looks.hair, PERSON)
    if facing:
        shape.fill(
            billboard(x, z, ellipse(0.105 * s, 0.06 * s, 8, cy=1.68 * s)), looks.hair, PERSON
        )
    return shape


def walker(x: float, z: float, vx: float, vz: float, rng: np.random.Generator) -> Thing:
    """A pedestrian at ``(x, z)`` walking ``(vx, vz)`` metres per frame, or standing when both
    are 0; one walking towards the camera faces it, one standing faces it or not at random."""
    looks = random_looks(rng)
    facing = vz <= 0 if vz else bool(rng.random() < 0.5)
    sideways = 1.0 if abs(vx) > abs(vz) else 0.35
    if vx == 0 and vz == 0:
        phase = float(rng.uniform(-0.3, 0.3))
        return Static(z, _person_shape(x, z, looks, phase=phase, sideways=sideways, facing=facing))
    return _Walker(x, z, vx, vz, looks, sideways=sideways, facing=facing, rng=rng)


class _Walker(Thing):
    """A pedestrian walking at a constant velocity; the stride is drawn in one of
    ``POSES`` poses, each built once around the origin."""

    POSES = 8

    def __init__(
        self,
        x: float,
        z: float,
        vx: float,
        vz: float,
        looks: Looks,
        *,
        sideways: float,
        facing: bool,
        rng: np.random.Generator,
    ) -> None:
        self.start = np.array([x, 0.0, z])
        self.velocity = np.array([vx, 0.0, vz])
        self.phase = float(rng.uniform(0, 2 * math.pi))
        self.step = math.hypot(vx, vz) / (0.75 * looks.height) * math.pi
        self.poses = [
            _person_shape(
                0.0,
                0.0,
                looks,
                phase=2 * math.pi * k / self.POSES,
                sideways=sideways,
                facing=facing,
            )
            for k in range(self.POSES)
        ]
        self.extent = 0.5

    def key(self, t: int) -> float:
        return float(self.start[2] + self.velocity[2] * t)

    def shape(self, t: int, camera: Camera) -> tuple[Shape, np.ndarray | None]:
        pose = round((self.phase + self.step * t) / (2 * math.pi) * self.POSES) % self.POSES
        return self.poses[pose], self.start + self.velocity * t
