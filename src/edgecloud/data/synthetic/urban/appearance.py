"""Colours: random variations of a colour, the palettes things are painted from, and a
city's style (facade colours, asphalt, light, camera) that all clips of the city share, so
that cities look different from one another."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RGB = tuple[float, float, float]


def vary(colour: Sequence[float], rng: np.random.Generator, amount: float = 10.0) -> RGB:
    """``colour`` with a random brightness and per-channel shift."""
    values = np.clip(
        np.asarray(colour, float) + rng.normal(0, amount, 3) + rng.normal(0, amount), 0, 255
    )
    return (float(values[0]), float(values[1]), float(values[2]))


def shade(colour: Sequence[float], factor: float) -> RGB:
    """``colour`` scaled by ``factor`` (lit or shadowed), capped at 255."""
    return tuple(float(min(255.0, c * factor)) for c in colour)  # type: ignore[return-value]


def pick(rng: np.random.Generator, options: Sequence[Sequence[float]], amount: float = 8.0) -> RGB:
    """One of ``options`` at random, varied by ``amount`` (see :func:`vary`)."""
    return vary(options[int(rng.integers(len(options)))], rng, amount)


FACADES = (
    (205, 195, 175),
    (185, 175, 160),
    (150, 142, 132),
    (215, 210, 200),
    (168, 108, 88),
    (125, 122, 126),
    (195, 165, 125),
    (145, 155, 165),
    (190, 140, 110),
    (225, 215, 185),
)
_ROOFS = ((120, 70, 55), (85, 85, 92), (140, 90, 70), (70, 72, 80))
_GREENS = ((62, 95, 38), (48, 80, 40), (78, 105, 45), (55, 88, 52), (90, 110, 55))
CAR_PAINTS = (
    (225, 225, 228),
    (185, 188, 192),
    (30, 30, 34),
    (110, 112, 118),
    (35, 50, 95),
    (150, 25, 25),
    (60, 85, 70),
    (200, 190, 160),
)
CLOTHES = (
    (30, 30, 35),
    (60, 60, 70),
    (35, 45, 80),
    (130, 130, 135),
    (150, 40, 40),
    (210, 205, 195),
    (90, 70, 50),
    (50, 90, 60),
    (190, 150, 60),
    (70, 100, 150),
)


@dataclass(frozen=True)
class CityStyle:
    """What makes one city look different from another (shared by its clips)."""

    facades: tuple[RGB, ...]
    roof: RGB
    storeys: tuple[int, int]
    asphalt: RGB
    paving: RGB
    grass: RGB
    greens: tuple[RGB, ...]
    overcast: bool
    exposure: float
    tint: RGB
    camera_height: float
    hood: float
    hood_colour: RGB
    two_lanes: float
    parking: float


def city_style(rng: np.random.Generator) -> CityStyle:
    """A random city style."""
    picks = rng.choice(len(FACADES), 5, replace=False)
    grey = rng.uniform(78, 108)
    paving = vary((165, 162, 155), rng, 8) if rng.random() < 0.7 else vary((170, 130, 120), rng, 8)
    low = int(rng.integers(2, 4))
    return CityStyle(
        facades=tuple(vary(FACADES[i], rng, 8) for i in picks),
        roof=pick(rng, _ROOFS),
        storeys=(low, low + int(rng.integers(2, 5))),
        asphalt=vary((grey, grey, grey + rng.uniform(-3, 6)), rng, 3),
        paving=paving,
        grass=vary((105, 135, 60), rng, 10)
        if rng.random() < 0.75
        else vary((150, 145, 95), rng, 8),
        greens=tuple(pick(rng, _GREENS, 6) for _ in range(3)),
        overcast=bool(rng.random() < 0.4),
        exposure=float(rng.uniform(0.85, 1.12)),
        tint=(float(rng.uniform(0.96, 1.04)), 1.0, float(rng.uniform(0.95, 1.05))),
        camera_height=float(rng.uniform(1.2, 1.45)),
        hood=float(rng.uniform(0.05, 0.09)),
        hood_colour=pick(rng, ((20, 22, 26), (150, 155, 160), (25, 35, 60), (200, 200, 205)), 4),
        two_lanes=float(rng.uniform(0.2, 0.6)),
        parking=float(rng.uniform(0.3, 0.8)),
    )
