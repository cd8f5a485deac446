"""Top-down sprites of the VisDrone object classes for the synthetic drone world.

Every sprite is drawn in its canonical pose (heading along +x, i.e. the front of the object
points right) on a 4x supersampled canvas and box-filtered down, so edges are anti-aliased.
Sprites are *premultiplied* BGRA ``uint8``: colour channels are already multiplied by alpha, so
bilinear warping and ``dst * (1 - a) + src`` compositing stay exact at soft edges.

Classes come in confusable pairs whose difference is a detail of two or three pixels at the
nominal size (car/van: windshield placement and rear window vs roof ribs; truck/bus: cab and
cargo box vs window rows; pedestrian/people: round standing blob vs seated body with legs;
bicycle/motor: thin frame vs engine block, headlight and helmet; tricycle/awning-tricycle: open
cargo bed vs striped awning). The details survive at full resolution and blur away when the
frame is downscaled, which is what separates a full-resolution "cloud" detector from a
low-resolution "edge" one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

PEDESTRIAN, PEOPLE, BICYCLE, CAR, VAN, TRUCK, TRICYCLE, AWNING_TRICYCLE, BUS, MOTOR, OTHERS = range(
    1, 12
)
"""VisDrone ``object_category`` ids; 0 (ignored region) is not an object and has no sprite."""

RGB = tuple[int, int, int]

_SUPERSAMPLE = 4
_SHIFT = 3  # fractional bits of the fixed-point coordinates passed to cv2 drawing calls
_PAD = 1  # transparent border (output pixels) so warping never cuts an edge
_ARC = np.linspace(0.0, math.pi / 2, 6)
_CORNER_ARCS = np.stack(
    [
        np.stack([np.cos(_ARC + start), np.sin(_ARC + start)], axis=1)
        for start in (0.0, math.pi / 2, math.pi, 1.5 * math.pi)
    ]
)
"""Unit quarter circles of the four corners of a rounded box, in drawing order."""


@dataclass(frozen=True)
class ClassSpec:
    """Nominal footprint of a class at altitude scale 1, and how it behaves in the world."""

    length: float
    """Extent along the heading, in pixels."""
    width: float
    """Extent across the heading, in pixels."""
    layer: int
    """Draw order: objects on a higher layer are drawn over (and occlude) lower ones."""
    frequency: float
    """Relative share of this class among spawned objects."""
    speed: tuple[float, float]
    """Range of moving speeds in pixels per frame at altitude scale 1."""
    vehicle: bool
    """Drives along roads (True) or walks freely (False)."""


CLASS_SPECS: dict[int, ClassSpec] = {
    PEDESTRIAN: ClassSpec(6.0, 10.0, 1, 0.20, (0.15, 0.5), vehicle=False),
    PEOPLE: ClassSpec(11.0, 8.0, 0, 0.08, (0.0, 0.0), vehicle=False),
    BICYCLE: ClassSpec(11.0, 4.0, 2, 0.07, (0.4, 1.0), vehicle=True),
    CAR: ClassSpec(22.0, 10.0, 4, 0.29, (1.0, 3.0), vehicle=True),
    VAN: ClassSpec(25.0, 11.0, 4, 0.09, (0.9, 2.6), vehicle=True),
    TRUCK: ClassSpec(44.0, 13.0, 5, 0.05, (0.7, 2.0), vehicle=True),
    TRICYCLE: ClassSpec(15.0, 8.0, 3, 0.04, (0.4, 1.0), vehicle=True),
    AWNING_TRICYCLE: ClassSpec(15.0, 8.0, 3, 0.04, (0.4, 1.0), vehicle=True),
    BUS: ClassSpec(58.0, 14.0, 5, 0.03, (0.7, 2.0), vehicle=True),
    MOTOR: ClassSpec(12.0, 5.0, 2, 0.10, (1.0, 3.0), vehicle=True),
    OTHERS: ClassSpec(14.0, 9.0, 3, 0.01, (0.0, 0.0), vehicle=False),
}

_WINDOW: RGB = (32, 38, 48)
_TYRE: RGB = (25, 25, 28)
_LIGHT: RGB = (250, 245, 215)
_CAR_COLOURS: tuple[RGB, ...] = (
    (235, 235, 235),
    (235, 235, 235),
    (30, 30, 32),
    (30, 30, 32),
    (180, 182, 186),
    (180, 182, 186),
    (110, 112, 115),
    (170, 30, 30),
    (40, 60, 140),
    (200, 190, 160),
    (50, 90, 60),
    (220, 190, 40),
)
_VAN_COLOURS: tuple[RGB, ...] = (
    (238, 238, 236),
    (238, 238, 236),
    (238, 238, 236),
    (180, 182, 186),
    (110, 112, 115),
    (40, 60, 140),
    (30, 30, 32),
)
_CAB_COLOURS: tuple[RGB, ...] = (
    (190, 40, 35),
    (40, 70, 160),
    (230, 230, 225),
    (220, 120, 30),
    (50, 120, 70),
)
_CARGO_COLOURS: tuple[RGB, ...] = (
    (220, 220, 215),
    (150, 150, 150),
    (50, 80, 150),
    (60, 110, 70),
    (125, 95, 65),
)
_BUS_COLOURS: tuple[RGB, ...] = (
    (225, 190, 40),
    (180, 40, 35),
    (40, 80, 160),
    (225, 225, 220),
    (60, 140, 80),
)
_CLOTHES: tuple[RGB, ...] = (
    (40, 40, 45),
    (40, 50, 90),
    (220, 220, 220),
    (180, 40, 40),
    (60, 90, 170),
    (60, 110, 60),
    (170, 150, 110),
    (120, 120, 120),
    (210, 130, 150),
    (220, 200, 70),
)
_HAIR: tuple[RGB, ...] = ((30, 25, 20), (80, 55, 35), (140, 135, 130), (20, 20, 20))
_HELMETS: tuple[RGB, ...] = ((240, 240, 240), (200, 40, 40), (230, 200, 40), (20, 20, 20))
_MOTOR_COLOURS: tuple[RGB, ...] = ((180, 30, 30), (25, 25, 28), (40, 70, 160), (170, 172, 176))
_TRICYCLE_COLOURS: tuple[RGB, ...] = (
    (50, 90, 170),
    (60, 130, 70),
    (170, 50, 40),
    (200, 170, 50),
    (120, 120, 120),
)
_AWNING_STRIPES: tuple[tuple[RGB, RGB], ...] = (
    ((200, 40, 40), (240, 240, 235)),
    ((40, 80, 180), (240, 240, 235)),
    ((50, 140, 60), (230, 210, 60)),
    ((230, 120, 30), (240, 240, 235)),
)
_OTHERS_COLOURS: tuple[RGB, ...] = ((125, 95, 60), (100, 100, 105), (160, 130, 90))


class _Painter:
    """Fills shapes given in sprite units on a supersampled premultiplied-RGBA canvas.

    Sprite units are output pixels; ``x`` runs along the heading (front at ``+length / 2``),
    ``y`` across it, and the origin is the centre of the object.
    """

    def __init__(self, length: float, width: float) -> None:
        out_w = math.ceil(length) + 2 * _PAD
        out_h = math.ceil(width) + 2 * _PAD
        self._out_size = (out_w, out_h)
        self._canvas = np.zeros((out_h * _SUPERSAMPLE, out_w * _SUPERSAMPLE, 4), np.uint8)
        self._origin = np.array([out_w, out_h], np.float64) * _SUPERSAMPLE / 2

    def _fixed(self, points: np.ndarray) -> np.ndarray:
        canvas = np.asarray(points, np.float64) * _SUPERSAMPLE + self._origin
        return np.round(canvas * (1 << _SHIFT)).astype(np.int32)

    def polygon(self, points: Sequence[tuple[float, float]] | np.ndarray, colour: RGB) -> None:
        """Fill a polygon given by its vertices."""
        cv2.fillPoly(self._canvas, [self._fixed(points)], (*colour, 255), cv2.LINE_8, _SHIFT)

    def box(
        self, x0: float, x1: float, y0: float, y1: float, colour: RGB, *, corner: float = 0.0
    ) -> None:
        """Fill an axis-aligned box, with corners rounded to radius ``corner``."""
        radius = min(corner, (x1 - x0) / 2, (y1 - y0) / 2)
        if radius <= 0:
            self.polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], colour)
            return
        centres = np.array(
            [
                [x1 - radius, y1 - radius],
                [x0 + radius, y1 - radius],
                [x0 + radius, y0 + radius],
                [x1 - radius, y0 + radius],
            ]
        )
        self.polygon((centres[:, None, :] + radius * _CORNER_ARCS).reshape(-1, 2), colour)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, colour: RGB) -> None:
        """Fill an axis-aligned ellipse."""
        centre = self._fixed([(cx, cy)])[0]
        axes = np.round(np.array([rx, ry]) * _SUPERSAMPLE * (1 << _SHIFT)).astype(np.int32)
        axes = np.maximum(axes, 1)
        cv2.ellipse(
            self._canvas,
            (int(centre[0]), int(centre[1])),
            (int(axes[0]), int(axes[1])),
            0.0,
            0.0,
            360.0,
            (*colour, 255),
            -1,
            cv2.LINE_8,
            _SHIFT,
        )

    def bar(self, p: tuple[float, float], q: tuple[float, float], thickness: float, c: RGB) -> None:
        """Fill a straight bar of the given thickness from ``p`` to ``q``."""
        direction = np.subtract(q, p).astype(np.float64)
        normal = np.array([-direction[1], direction[0]]) / max(np.hypot(*direction), 1e-9)
        half = normal * thickness / 2
        self.polygon(
            [np.add(p, half), np.add(q, half), np.subtract(q, half), np.subtract(p, half)], c
        )

    def finish(self) -> np.ndarray:
        """The sprite at output resolution, premultiplied BGRA.

        Every canvas pixel is either untouched (all zero) or painted opaque, so the canvas is
        already premultiplied and the box filter keeps it so.
        """
        small = cv2.resize(self._canvas, self._out_size, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small, cv2.COLOR_RGBA2BGRA)


def _pick(rng: np.random.Generator, options: Sequence[RGB], *, jitter: float = 12.0) -> RGB:
    """One colour from ``options`` with a small per-instance random shift."""
    base = np.array(options[int(rng.integers(len(options)))], np.float64)
    shifted = base + rng.normal(0.0, jitter, 3) + rng.normal(0.0, jitter)
    return tuple(int(v) for v in np.clip(shifted, 0, 255))


def _shade(colour: RGB, factor: float) -> RGB:
    """A lighter (factor > 1) or darker (factor < 1) version of ``colour``."""
    return tuple(int(min(255, c * factor)) for c in colour)


def _draw_car(p: _Painter, L: float, W: float, rng: np.random.Generator) -> None:
    """Rounded body; windshield a third back from the nose; rear window; headlights."""
    body = _pick(rng, _CAR_COLOURS)
    p.box(-L / 2, L / 2, -W / 2, W / 2, body, corner=0.28 * W)
    p.box(-0.28 * L, 0.12 * L, -0.38 * W, 0.38 * W, _shade(body, 0.88), corner=0.1 * W)
    p.polygon(
        [(0.12 * L, -0.42 * W), (0.29 * L, -0.34 * W), (0.29 * L, 0.34 * W), (0.12 * L, 0.42 * W)],
        _WINDOW,
    )
    p.box(-0.40 * L, -0.29 * L, -0.36 * W, 0.36 * W, _WINDOW, corner=0.06 * W)
    for side in (-1, 1):
        p.ellipse(0.46 * L, side * 0.32 * W, 0.04 * L, 0.09 * W, _LIGHT)


def _draw_van(p: _Painter, L: float, W: float, rng: np.random.Generator) -> None:
    """Boxy body; windshield right behind a short hood; long roof with transverse ribs."""
    body = _pick(rng, _VAN_COLOURS)
    p.box(-L / 2, L / 2, -W / 2, W / 2, body, corner=0.12 * W)
    p.box(0.40 * L, L / 2, -0.45 * W, 0.45 * W, _shade(body, 0.8), corner=0.08 * W)
    p.box(0.29 * L, 0.40 * L, -0.43 * W, 0.43 * W, _WINDOW)
    for x in (-0.32, -0.12, 0.08):
        p.box(x * L, (x + 0.04) * L, -0.36 * W, 0.36 * W, _shade(body, 0.6))


def _draw_truck(p: _Painter, L: float, W: float, rng: np.random.Generator) -> None:
    """Short coloured cab with windshield, a dark gap, then a long box or loaded open bed."""
    cab = _pick(rng, _CAB_COLOURS)
    cargo = _pick(rng, _CARGO_COLOURS)
    p.box(0.28 * L, L / 2, -0.46 * W, 0.46 * W, cab, corner=0.15 * W)
    p.box(0.43 * L, 0.48 * L, -0.38 * W, 0.38 * W, _WINDOW)
    p.box(0.24 * L, 0.29 * L, -0.3 * W, 0.3 * W, _TYRE)
    p.box(-L / 2, 0.25 * L, -W / 2, W / 2, cargo, corner=0.05 * W)
    if rng.random() < 0.5:
        p.box(-0.47 * L, 0.22 * L, -0.38 * W, 0.38 * W, _shade(cargo, 0.55))
        for _ in range(4):
            x = rng.uniform(-0.42, 0.15) * L
            p.ellipse(x, rng.uniform(-0.2, 0.2) * W, 0.06 * L, 0.2 * W, _shade(cargo, 1.2))
    else:
        for y in (-0.3, 0.0, 0.3):
            p.box(-0.47 * L, 0.22 * L, (y - 0.03) * W, (y + 0.03) * W, _shade(cargo, 0.82))


def _draw_bus(p: _Painter, L: float, W: float, rng: np.random.Generator) -> None:
    """Very long uniform body with a window row along both sides and roof units."""
    body = _pick(rng, _BUS_COLOURS)
    p.box(-L / 2, L / 2, -W / 2, W / 2, body, corner=0.15 * W)
    for side in (-1, 1):
        inner, outer = side * 0.28 * W, side * 0.46 * W
        p.box(-0.44 * L, 0.44 * L, min(inner, outer), max(inner, outer), _WINDOW)
        for x in np.arange(-0.44, 0.44, 0.08):
            p.box(x * L, (x + 0.012) * L, min(inner, outer), max(inner, outer), body)
    p.box(0.45 * L, 0.49 * L, -0.4 * W, 0.4 * W, _WINDOW)
    for x in (-0.25, 0.1):
        p.box(x * L, (x + 0.12) * L, -0.18 * W, 0.18 * W, (170, 172, 175), corner=0.05 * W)


def _draw_pedestrian(p: _Painter, L: float, W: float, rng: np.random.Generator) -> None:
    """A standing person from above: shoulder ellipse with the head in the middle."""
    p.ellipse(0.0, 0.0, 0.5 * L, 0.5 * W, _pick(rng, _CLOTHES, jitter=18))
    p.ellipse(0.05 * L, 0.0, 0.28 * W, 0.26 * W, _pick(rng, _HAIR, jitter=6))


def _draw_people(p: _Painter, L: float, W: float, rng: np.random.Generator) -> None:
    """A seated person: torso and head at the back, two legs stretched forward."""
    trousers = _pick(rng, _CLOTHES, jitter=18)
    for side in (-1, 1):
        p.box(
            -0.05 * L,
            0.48 * L,
            side * 0.2 * W - 0.12 * W,
            side * 0.2 * W + 0.12 * W,
            trousers,
            corner=0.1 * W,
        )
    p.ellipse(-0.18 * L, 0.0, 0.24 * L, 0.48 * W, _pick(rng, _CLOTHES, jitter=18))
    p.ellipse(-0.26 * L, 0.0, 0.2 * W, 0.2 * W, _pick(rng, _HAIR, jitter=6))


def _draw_two_wheeler(
    p: _Painter, L: float, W: float, rng: np.random.Generator, *, motor: bool
) -> None:
    """Two wheels and a rider; a motor adds an engine block, headlight and helmet."""
    tyre_w = 0.2 * W if motor else 0.13 * W
    for x in (-0.34, 0.34):
        p.box((x - 0.15) * L, (x + 0.15) * L, -tyre_w, tyre_w, _TYRE, corner=tyre_w)
    if motor:
        p.box(-0.25 * L, 0.3 * L, -0.36 * W, 0.36 * W, _pick(rng, _MOTOR_COLOURS), corner=0.15 * W)
        p.ellipse(0.47 * L, 0.0, 0.05 * L, 0.16 * W, _LIGHT)
    else:
        p.bar((-0.34 * L, 0.0), (0.34 * L, 0.0), 0.12 * W, (150, 150, 155))
    p.bar((0.24 * L, -0.48 * W), (0.24 * L, 0.48 * W), 0.1 * W, (60, 60, 65))
    p.ellipse(-0.06 * L, 0.0, 0.15 * L, 0.44 * W, _pick(rng, _CLOTHES, jitter=18))
    head = _pick(rng, _HELMETS, jitter=8) if motor else _pick(rng, _HAIR, jitter=6)
    p.ellipse(0.02 * L, 0.0, (0.3 if motor else 0.24) * W, (0.3 if motor else 0.24) * W, head)


def _draw_tricycle(
    p: _Painter, L: float, W: float, rng: np.random.Generator, *, awning: bool
) -> None:
    """Rider and front wheel ahead of a rear box: an open cargo bed, or a striped awning."""
    body = _pick(rng, _TRICYCLE_COLOURS)
    p.box(0.3 * L, 0.5 * L, -0.08 * W, 0.08 * W, _TYRE, corner=0.05 * W)
    p.box(0.08 * L, 0.34 * L, -0.16 * W, 0.16 * W, body, corner=0.1 * W)
    p.ellipse(0.2 * L, 0.0, 0.1 * L, 0.28 * W, _pick(rng, _CLOTHES, jitter=18))
    p.ellipse(0.23 * L, 0.0, 0.13 * W, 0.13 * W, _pick(rng, _HAIR, jitter=6))
    for side in (-1, 1):
        p.box(-0.32 * L, -0.14 * L, side * 0.5 * W - 0.08 * W, side * 0.5 * W + 0.08 * W, _TYRE)
    if awning:
        first, second = _AWNING_STRIPES[int(rng.integers(len(_AWNING_STRIPES)))]
        p.box(-0.5 * L, 0.1 * L, -0.5 * W, 0.5 * W, second, corner=0.06 * W)
        for x in np.arange(-0.5, 0.1, 0.15):
            p.box(x * L, (x + 0.075) * L, -0.5 * W, 0.5 * W, first)
    else:
        p.box(-0.5 * L, 0.06 * L, -0.46 * W, 0.46 * W, body, corner=0.04 * W)
        p.box(-0.44 * L, 0.0, -0.34 * W, 0.34 * W, _shade(body, 0.45))
        p.ellipse(
            -0.24 * L, rng.uniform(-0.1, 0.1) * W, 0.12 * L, 0.2 * W, _pick(rng, _CARGO_COLOURS)
        )


def _draw_others(p: _Painter, L: float, W: float, rng: np.random.Generator) -> None:
    """A hand cart: plank box with cross braces and a tow bar."""
    wood = _pick(rng, _OTHERS_COLOURS)
    p.bar((0.2 * L, 0.0), (0.5 * L, 0.0), 0.08 * W, (60, 50, 40))
    p.box(-0.5 * L, 0.25 * L, -W / 2, W / 2, wood)
    dark = _shade(wood, 0.6)
    p.bar((-0.45 * L, -0.42 * W), (0.2 * L, 0.42 * W), 0.1 * W, dark)
    p.bar((-0.45 * L, 0.42 * W), (0.2 * L, -0.42 * W), 0.1 * W, dark)


def render_sprite(category: int, *, scale: float, rng: np.random.Generator) -> np.ndarray:
    """A new instance of ``category`` at ``scale`` times its nominal size.

    Returns a premultiplied BGRA ``uint8`` image in the canonical pose (front pointing right),
    with per-instance colours and a +-12% size variation drawn from ``rng``.
    """
    spec = CLASS_SPECS[category]
    size = scale * rng.uniform(0.88, 1.12)
    length, width = spec.length * size, spec.width * size
    painter = _Painter(length, width)
    if category == CAR:
        _draw_car(painter, length, width, rng)
    elif category == VAN:
        _draw_van(painter, length, width, rng)
    elif category == TRUCK:
        _draw_truck(painter, length, width, rng)
    elif category == BUS:
        _draw_bus(painter, length, width, rng)
    elif category == PEDESTRIAN:
        _draw_pedestrian(painter, length, width, rng)
    elif category == PEOPLE:
        _draw_people(painter, length, width, rng)
    elif category in (BICYCLE, MOTOR):
        _draw_two_wheeler(painter, length, width, rng, motor=category == MOTOR)
    elif category in (TRICYCLE, AWNING_TRICYCLE):
        _draw_tricycle(painter, length, width, rng, awning=category == AWNING_TRICYCLE)
    elif category == OTHERS:
        _draw_others(painter, length, width, rng)
    else:
        raise ValueError(f"no sprite for VisDrone category {category}")
    return painter.finish()
