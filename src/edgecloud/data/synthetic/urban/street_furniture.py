"""Street furniture: street lights, sign posts with European-style plates, traffic-light
poles (optionally with a mast arm over the road) and trees. Poles, signs and signals are
small classes: a few pixels wide at the default size."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edgecloud.data.synthetic.urban.appearance import RGB, pick, shade
from edgecloud.data.synthetic.urban.classes import LIGHT, POLE, SIGN, VEGETATION
from edgecloud.data.synthetic.urban.geometry import Shape, billboard, ellipse, rect


def _pole(shape: Shape, x: float, z: float, height: float, width: float, colour: RGB) -> None:
    shape.fill(billboard(x, z, rect(-width / 2, width / 2, 0.0, height)), colour, POLE)


def street_light(x: float, z: float, side: int, rng: np.random.Generator) -> Shape:
    """A street light at ``(x, z)`` whose arm reaches over the road (``side``: -1 on the
    left of the street, 1 on the right)."""
    shape = Shape()
    height = float(rng.uniform(6.0, 9.0))
    colour = pick(rng, ((110, 112, 115), (70, 80, 75), (150, 150, 150)), 6)
    _pole(shape, x, z, height, float(rng.uniform(0.13, 0.2)), colour)
    reach = float(rng.uniform(1.2, 2.5))
    tip = x - side * reach
    shape.line(billboard(0, z, [[x, height - 0.1], [tip, height + 0.15]]), 0.09, colour, POLE)
    shape.fill(billboard(tip, z, rect(-0.3, 0.3, height - 0.05, height + 0.12)), (60, 60, 62), POLE)
    return shape


_SIGN_STYLES = ("prohibition", "mandatory", "warning", "yield", "priority", "info", "name", "stop")


def _shrunk(outline: np.ndarray, centre: tuple[float, float], factor: float) -> np.ndarray:
    """A 2-D outline scaled by ``factor`` about ``centre`` (a plate's inner border)."""
    return np.asarray(centre) + (np.asarray(outline, float) - centre) * factor


def _sign_plate(
    shape: Shape, x: float, z: float, y: float, kind: str, back: bool, size: float
) -> float:
    """One sign plate (seen from the back: plain grey) with its lower edge at ``y``; returns
    its top. Borders and symbols are part of the sign, in the label too."""
    grey = (150, 150, 152)
    red, white, blue, ink = (200, 30, 30), (242, 240, 235), (30, 80, 170), (25, 25, 25)

    def plate(points: np.ndarray | list, colour: RGB) -> None:
        shape.fill(billboard(x, z, points), colour, SIGN)

    def stroke(points: list, width: float, colour: RGB) -> None:
        shape.line(billboard(x, z, points), width * size, colour, SIGN)

    if kind in ("prohibition", "mandatory", "stop", "priority"):
        r = (0.35 if kind in ("stop", "priority") else 0.32) * size
        centre = (0.0, y + r)
        sides = {"stop": 8, "priority": 4}.get(kind, 14)
        outline = ellipse(r, r, sides, cy=y + r)
        plate(
            outline,
            grey
            if back
            else {"prohibition": red, "mandatory": blue, "stop": red, "priority": white}[kind],
        )
        if back:
            return y + 2 * r
        if kind == "prohibition":
            plate(_shrunk(outline, centre, 0.75), white)
            stroke([[-0.4 * r, y + r], [0.4 * r, y + r]], 0.06, ink)
        elif kind == "mandatory":
            stroke(
                [[-0.45 * r, y + 0.6 * r], [0.0, y + 1.4 * r], [0.45 * r, y + 0.6 * r]], 0.07, white
            )
        elif kind == "stop":
            plate(_shrunk(outline, centre, 0.85), white)
            plate(_shrunk(outline, centre, 0.75), red)
            stroke([[-0.45 * r, y + r], [0.45 * r, y + r]], 0.08, white)
        else:
            plate(_shrunk(outline, centre, 0.65), (240, 200, 20))
        return y + 2 * r
    if kind in ("warning", "yield"):
        a = 0.8 * size
        h = a * math.sqrt(3) / 2
        up = kind == "warning"
        outline = np.array(
            [[-a / 2, y], [a / 2, y], [0, y + h]]
            if up
            else [[-a / 2, y + h], [a / 2, y + h], [0, y]]
        )
        plate(outline, grey if back else red)
        if not back:
            plate(_shrunk(outline, (0.0, y + (h / 3 if up else 2 * h / 3)), 0.62), white)
            if up:
                stroke([[0, y + 0.15 * h], [0, y + 0.45 * h]], 0.05, ink)
        return y + h
    # info (blue square) and street name (long pale rectangle)
    half, tall = (0.3 * size, 0.6 * size) if kind == "info" else (0.5 * size, 0.25 * size)
    plate(
        rect(-half, half, y, y + tall),
        grey if back else (blue if kind == "info" else (235, 230, 200)),
    )
    if not back:
        if kind == "info":
            plate(rect(-0.35 * half, 0.35 * half, y + 0.2 * tall, y + 0.8 * tall), white)
        else:
            stroke([[-0.75 * half, y + tall / 2], [0.75 * half, y + tall / 2]], 0.06, ink)
    return y + tall


def sign_post(x: float, z: float, rng: np.random.Generator, *, plates: int | None = None) -> Shape:
    """A post at ``(x, z)`` carrying ``plates`` sign plates (default: one, sometimes two),
    sometimes seen from the back."""
    shape = Shape()
    count = plates if plates is not None else 1 + int(rng.random() < 0.35)
    y = float(rng.uniform(1.9, 2.5))
    post_top = y + 0.75 * count
    _pole(shape, x, z, post_top, float(rng.uniform(0.06, 0.09)), (150, 152, 155))
    back = bool(rng.random() < 0.2)
    size = float(rng.uniform(0.85, 1.2))
    for _ in range(count):
        kind = _SIGN_STYLES[int(rng.integers(len(_SIGN_STYLES)))]
        y = _sign_plate(shape, x, z, y, kind, back, size) + 0.06
    return shape


def _traffic_light_box(
    shape: Shape, x: float, z: float, y: float, state: int, small: bool = False
) -> None:
    """A signal housing with its lower edge at ``y``; ``state`` 0 red, 1 amber, 2 green."""
    width, height = (0.26, 0.6) if small else (0.34, 0.95)
    housing = (35, 37, 35)
    shape.fill(billboard(x, z, rect(-width / 2, width / 2, y, y + height)), housing, LIGHT)
    lamps = 2 if small else 3
    lit = {0: (255, 40, 30), 1: (255, 180, 20), 2: (40, 230, 110)}
    for k in range(lamps):
        colour_state = (0, 2)[k] if small else k
        cy = y + height * (1 - (k + 0.5) / lamps)
        on = colour_state == state
        colour = lit[colour_state] if on else (60, 55, 50)
        shape.fill(billboard(x, z, ellipse(0.3 * width, 0.3 * width, 8, cy=cy)), colour, LIGHT)


def signal_pole(
    x: float, z: float, side: int, state: int, rng: np.random.Generator, *, mast: float = 0.0
) -> Shape:
    """A traffic-light pole at a corner, optionally with a mast arm reaching ``mast`` metres
    over the road carrying a second signal."""
    shape = Shape()
    colour = pick(rng, ((100, 104, 104), (60, 62, 64), (160, 160, 150)), 6)
    height = 5.8 if mast else float(rng.uniform(3.0, 3.8))
    _pole(shape, x, z, height, float(rng.uniform(0.12, 0.18)), colour)
    _traffic_light_box(shape, x - side * 0.28, z, float(rng.uniform(2.0, 2.4)), state)
    _traffic_light_box(shape, x + side * 0.24, z, 1.9, 0 if state == 2 else 2, small=True)
    if mast:
        shape.line(
            billboard(0, z, [[x, height - 0.3], [x - side * mast, height - 0.3]]),
            0.12,
            colour,
            POLE,
        )
        _traffic_light_box(shape, x - side * mast * 0.85, z, height - 1.35, state)
    if rng.random() < 0.5:
        _sign_plate(
            shape, x, z, height + 0.05 if not mast else height - 0.25 - 0.3, "name", False, 0.9
        )
    return shape


def tree(
    x: float, z: float, rng: np.random.Generator, greens: Sequence[RGB], *, scale: float = 1.0
) -> Shape:
    """A tree at ``(x, z)``: a trunk and a crown of a few overlapping blobs, ``scale`` times
    the usual size."""
    shape = Shape()
    height = float(rng.uniform(4.5, 9.0)) * scale
    crown = float(rng.uniform(1.5, 2.8)) * scale
    trunk = (75, 60, 45)
    shape.line(billboard(x, z, [[0, 0], [0, height - crown]]), 0.28 * scale, trunk, VEGETATION)
    centre_y = height - crown * 0.9
    base = greens[int(rng.integers(len(greens)))]
    for k in range(int(rng.integers(4, 7))):
        dx, dy = rng.normal(0, 0.35 * crown, 2)
        r = crown * float(rng.uniform(0.5, 0.8))
        colour = shade(base, float(rng.uniform(0.8, 1.2)) if k else 0.85)
        shape.fill(
            billboard(x, z, ellipse(r * 1.1, r, 12, cx=dx, cy=centre_y + dy)), colour, VEGETATION
        )
    return shape
