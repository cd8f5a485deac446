"""Bicycles and motorcycles, parked or ridden: thin wheels and frames in 3-D (so they
foreshorten with their heading) and a rider labelled ``rider`` on top. Both are small
classes whose thin parts vanish first when a frame is downscaled."""

from __future__ import annotations

import numpy as np

from edgecloud.data.synthetic.urban.appearance import CAR_PAINTS, CLOTHES, RGB, pick
from edgecloud.data.synthetic.urban.classes import BICYCLE, MOTORCYCLE, RIDER
from edgecloud.data.synthetic.urban.geometry import Shape, frame_axes, local_to_world, wheel_points
from edgecloud.data.synthetic.urban.people import Looks, random_looks
from edgecloud.data.synthetic.urban.things import Moving, Static, Thing


def _two_wheeler_shape(
    origin: np.ndarray,
    heading: float,
    *,
    motor: bool,
    rider: Looks | None,
    colour: RGB,
    helmet: RGB,
) -> Shape:
    """A bicycle or motorcycle standing on ``origin`` (and its rider, if any)."""
    along, across = frame_axes(heading)
    at = lambda pts: local_to_world(origin, along, across, pts)  # noqa: E731
    shape = Shape()
    cls = MOTORCYCLE if motor else BICYCLE
    tyre = (25.0, 25.0, 28.0)
    if motor:
        for s in (-0.7, 0.7):
            shape.loop(at(wheel_points(s, 0.31)), 0.14, tyre, cls)
        body = [
            [-0.85, 0.62, 0],
            [-0.45, 0.82, 0],
            [0.1, 0.84, 0],
            [0.42, 0.98, 0],
            [0.62, 0.9, 0],
            [0.35, 0.4, 0],
            [-0.35, 0.32, 0],
        ]
        shape.line(at(body[:5]), 0.32, colour, cls)
        shape.fill(at(body), colour, cls)
        shape.line(at([[0.35, 0.45, 0], [0.7, 0.31, 0]]), 0.06, (150, 150, 155), cls)
        shape.line(at([[0.55, 1.05, -0.38], [0.55, 1.05, 0.38]]), 0.05, (40, 40, 40), cls)
        shape.line(at([[-0.2, 0.3, 0], [0.2, 0.45, 0]]), 0.3, (60, 60, 64), cls)
    else:
        for s in (-0.52, 0.52):
            shape.loop(at(wheel_points(s, 0.34, n=14)), 0.045, tyre, cls)
        frame = [[-0.52, 0.34, 0], [0.0, 0.32, 0], [-0.15, 0.9, 0], [-0.52, 0.34, 0]]
        shape.line(at(frame), 0.04, colour, cls)
        shape.line(at([[-0.15, 0.9, 0], [0.42, 0.93, 0], [0.52, 0.34, 0]]), 0.04, colour, cls)
        shape.line(at([[0.0, 0.32, 0], [0.42, 0.93, 0]]), 0.04, colour, cls)
        shape.line(at([[0.45, 1.05, -0.28], [0.45, 1.05, 0.28]]), 0.035, (40, 40, 40), cls)
        shape.line(at([[-0.25, 0.96, 0], [-0.05, 0.96, 0]]), 0.07, (30, 30, 30), cls)
    if rider is not None:
        s = rider.height / 1.75
        seat, bar = (-0.35, 0.85) if motor else (-0.15, 0.95)
        hip = [seat, bar, 0.0]
        chest = [seat + (0.3 if motor else 0.22), bar + 0.5 * s, 0.0]
        knee_s = seat + (0.5 if motor else 0.35)
        foot_y = 0.35 if motor else 0.3
        for w in (-0.13, 0.13):
            shape.line(
                at([[hip[0], hip[1], w], [knee_s, hip[1] - 0.1, w], [knee_s - 0.1, foot_y, w]]),
                0.14 * s,
                rider.bottom,
                RIDER,
            )
        shape.line(at([hip, chest]), 0.36 * s, rider.top, RIDER)
        grip = 0.38 if motor else 0.28
        for w in (-0.2, 0.2):
            shape.line(
                at([[chest[0], chest[1] - 0.05, w], [0.5, 1.02, w * grip / 0.2]]),
                0.08 * s,
                rider.top,
                RIDER,
            )
        head = [chest[0] + 0.06, chest[1] + 0.2 * s, 0.0]
        head_top = [head[0], head[1] + 0.02, 0.0]
        shape.line(at([head, head_top]), (0.27 if motor else 0.22) * s, helmet, RIDER)
    return shape


def two_wheeler(
    x: float,
    z: float,
    heading: float,
    speed: float,
    *,
    motor: bool,
    ridden: bool,
    rng: np.random.Generator,
) -> Thing:
    """A bicycle or motorcycle at ``(x, z)``, ridden or parked, heading ``heading`` (0: +z,
    pi/2: +x) at ``speed`` metres per frame (0: standing still)."""
    colour = pick(rng, CAR_PAINTS if motor else CLOTHES, 12)
    rider = random_looks(rng) if ridden else None
    helmet = pick(rng, ((220, 220, 220), (30, 30, 30), (180, 30, 30), (40, 60, 140)), 8)
    if rider is not None and not motor and rng.random() < 0.5:
        helmet = rider.hair
    shape = _two_wheeler_shape(
        np.array([x, 0.0, z]), heading, motor=motor, rider=rider, colour=colour, helmet=helmet
    )
    along, _ = frame_axes(heading)
    reach = abs(along[2]) * (0.9 if motor else 0.7)
    if speed == 0:
        return Static(z - reach, shape)
    return Moving(z - reach, shape, along[0] * speed, along[2] * speed)
