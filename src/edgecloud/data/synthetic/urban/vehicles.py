"""Cars, trucks and buses: boxes (hexahedra) with the faces that the camera sees, painted
with windows, lamps, number plates and wheels, driving at a constant velocity or parked.
The set of visible faces depends on where the camera is, so shapes are cached per set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgecloud.data.synthetic.urban.appearance import CAR_PAINTS, RGB, pick, shade, vary
from edgecloud.data.synthetic.urban.classes import BUS, CAR, TRUCK
from edgecloud.data.synthetic.urban.geometry import (
    Camera,
    Shape,
    frame_axes,
    local_to_world,
    wheel_points,
)
from edgecloud.data.synthetic.urban.things import Thing

_BOX_FACES = ((0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7), (4, 5, 6, 7))
"""Faces of a hexahedron whose corners are 4 bottom then 4 top ones, counter-clockwise seen
from above starting at rear-left: rear, right, front, left, top."""


def _hexahedron(
    centre: np.ndarray,
    heading: float,
    bottom: tuple[float, float, float],
    top: tuple[float, float, float],
    y_offset: float = 0.0,
) -> np.ndarray:
    """8 corners: a bottom rectangle (length, width, height) and a top one (length, width,
    height), both centred on ``centre`` (shifted ``y_offset`` along the heading)."""
    along, across = frame_axes(heading)
    corners = []
    for length, width, y in (bottom, top):
        for s, w in ((-1, -1), (-1, 1), (1, 1), (1, -1)):
            corners.append([s * length / 2 + y_offset, y, w * width / 2])
    return local_to_world(centre, along, across, np.array(corners))


def _face_planes(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outward normals and centres of the five faces of a convex hexahedron."""
    quads = corners[np.array(_BOX_FACES)]
    centres = quads.mean(axis=1)
    normals = np.cross(quads[:, 1] - quads[:, 0], quads[:, 3] - quads[:, 0])
    outward = np.einsum("ij,ij->i", normals, centres - corners.mean(axis=0)) > 0
    return np.where(outward[:, None], normals, -normals), centres


def _inset(quad: np.ndarray, margin: float, bottom: float) -> np.ndarray:
    """A quad shrunk towards its centre by ``margin`` (a fraction), its bottom raised more."""
    centre = quad.mean(axis=0)
    out = centre + (quad - centre) * (1 - margin)
    out[[0, 1]] += (out[[3, 2]] - out[[0, 1]]) * bottom
    return out


@dataclass(frozen=True)
class _VehicleLooks:
    kind: int
    length: float
    width: float
    height: float
    paint: RGB
    glass: RGB


def _vehicle_looks(kind: int, rng: np.random.Generator) -> _VehicleLooks:
    glass = vary((45, 55, 65), rng, 6)
    if kind == CAR:
        return _VehicleLooks(
            CAR,
            float(rng.uniform(3.8, 4.8)),
            float(rng.uniform(1.7, 1.9)),
            float(rng.uniform(1.4, 1.6)),
            pick(rng, CAR_PAINTS, 6),
            glass,
        )
    if kind == BUS:
        paint = pick(rng, ((230, 190, 40), (200, 40, 40), (225, 225, 225), (40, 90, 170)), 6)
        return _VehicleLooks(BUS, float(rng.uniform(10.5, 12.0)), 2.5, 3.1, paint, glass)
    paint = pick(rng, ((230, 230, 230), (200, 60, 40), (40, 70, 140), (120, 120, 125)), 8)
    return _VehicleLooks(
        TRUCK, float(rng.uniform(6.5, 9.0)), 2.45, float(rng.uniform(3.0, 3.6)), paint, glass
    )


def _vehicle_boxes(heading: float, looks: _VehicleLooks) -> list[tuple[np.ndarray, str]]:
    """The hexahedra a vehicle is made of, around its ground centre at the origin."""
    along, _ = frame_axes(heading)
    origin = np.zeros(3)
    L, W, H = looks.length, looks.width, looks.height
    if looks.kind == CAR:
        body = _hexahedron(origin, heading, (L, W, 0.22), (L, W, 0.55 * H))
        cabin = _hexahedron(
            origin, heading, (0.55 * L, 0.94 * W, 0.55 * H), (0.38 * L, 0.82 * W, H), -0.05 * L
        )
        return [(body, "body"), (cabin, "cabin")]
    if looks.kind == BUS:
        return [(_hexahedron(origin, heading, (L, W, 0.3), (L, W, H)), "bus")]
    cab_length, cargo_length = 2.1, L - 2.3
    cab = _hexahedron(
        along * (L / 2 - cab_length / 2), heading, (cab_length, W, 0.35), (cab_length, W, 2.7)
    )
    cargo = _hexahedron(
        -along * (L / 2 - cargo_length / 2), heading, (cargo_length, W, 0.5), (cargo_length, W, H)
    )
    return [(cab, "cab"), (cargo, "cargo")]


_FACE_LIGHT = {0: 0.88, 1: 1.0, 2: 0.92, 3: 0.8, 4: 1.12}
"""Brightness of a vehicle's faces: rear, right, front, left, top."""


def _between(a: np.ndarray, b: np.ndarray, f: float) -> np.ndarray:
    return a + (b - a) * f


def _vehicle_face(
    shape: Shape,
    quad: np.ndarray,
    index: int,
    part: str,
    centre: np.ndarray,
    heading: float,
    looks: _VehicleLooks,
) -> None:
    """One visible face of a vehicle part with its windows, lamps, plate and wheels."""
    cls, paint, glass = looks.kind, looks.paint, looks.glass
    light = _FACE_LIGHT[index]
    if part == "cabin":
        shape.fill(quad, shade(paint, light), cls)
        if index != 4:
            shape.fill(_inset(quad, 0.12, 0.05), shade(glass, light), cls)
        return
    shape.fill(quad, shade(paint, light * (0.95 if part == "cargo" else 1.0)), cls)
    bottom, up = (quad[0], quad[1]), quad[3] - quad[0]
    if part in ("bus", "cab") and index in (1, 3):
        low, high = (0.35, 0.85) if part == "bus" else (0.45, 0.85)
        band = np.array(
            [
                _between(quad[0], quad[3], low),
                _between(quad[1], quad[2], low),
                _between(quad[1], quad[2], high),
                _between(quad[0], quad[3], high),
            ]
        )
        if part == "cab":  # the cab's side window is its front half
            front = (1, 2) if index == 1 else (0, 3)
            back = (0, 3) if index == 1 else (1, 2)
            band[list(back)] = 0.4 * band[list(back)] + 0.6 * band[list(front)]
        shape.fill(band, shade(glass, light), cls)
        if part == "bus":
            for f in np.linspace(0.08, 0.92, 7):
                pillar = np.stack([_between(band[0], band[1], f), _between(band[3], band[2], f)])
                shape.line(pillar, 0.12, shade(paint, 0.8), cls)
    if index in (0, 2):
        front = index == 2
        if part in ("bus", "cab") and front:
            shape.fill(_inset(quad, 0.1, 0.35), glass, cls)
        if part != "cargo" or not front:
            lamp = (235, 235, 215) if front else (200, 30, 25)
            for f in (0.1, 0.9):
                spot = _between(*bottom, f) + up * 0.62
                shape.line(np.stack([spot, spot + up * 0.04]), 0.15, lamp, cls)
            if part == "body":
                plate = _between(*bottom, 0.5) + up * 0.3
                across = (quad[1] - quad[0]) * 0.12
                shape.line(np.stack([plate - across, plate + across]), 0.11, (225, 225, 220), cls)
    if index in (1, 3):
        along, across = frame_axes(heading)
        w = (looks.width / 2 + 0.02) * (1 if index == 1 else -1)
        L = looks.length
        middle = float(np.dot(centre, along))
        offsets = {
            "body": (-0.33 * L, 0.33 * L),
            "bus": (-0.3 * L, 0.32 * L),
            "cab": (middle,),
            "cargo": (middle - 0.25 * (L - 2.3), middle + 0.2 * (L - 2.3)),
        }[part]
        radius = 0.32 if cls == CAR else 0.5
        for s in offsets:
            wheel = local_to_world(np.zeros(3), along, across, wheel_points(s, radius, w, 10))
            shape.fill(wheel, (28, 28, 30), cls)


class _Vehicle(Thing):
    """A car, truck or bus driving at a constant velocity (or parked). Which faces show
    depends on where the camera is; the shape of each set of visible faces is built once."""

    def __init__(self, x: float, z: float, heading: float, speed: float, looks: _VehicleLooks):
        self.heading, self.looks = heading, looks
        along, _ = frame_axes(heading)
        self.start = np.array([x, 0.0, z])
        self.velocity = along * speed
        self.reach = abs(along[2]) * looks.length / 2 + abs(along[0]) * looks.width / 2
        self.extent = 2 * self.reach
        self.boxes = _vehicle_boxes(heading, looks)
        self.planes = [_face_planes(corners) for corners, _ in self.boxes]
        self.cache: dict[tuple[tuple[int, ...], ...], Shape] = {}

    def key(self, t: int) -> float:
        return float(self.start[2] + self.velocity[2] * t) - self.reach

    def shape(self, t: int, camera: Camera) -> tuple[Shape, np.ndarray | None]:
        origin = self.start + self.velocity * t
        eye = np.array([camera.x, camera.height, camera.z]) - origin
        order = list(range(len(self.boxes)))
        if len(order) > 1 and self.looks.kind != CAR:  # truck: the farther box first
            distance = [np.linalg.norm(corners.mean(axis=0) - eye) for corners, _ in self.boxes]
            order.sort(key=lambda i: -distance[i])
        visible = tuple(
            (i, *np.flatnonzero(np.einsum("ij,ij->i", normals, centres - eye) < 0).tolist())
            for i, (normals, centres) in ((i, self.planes[i]) for i in order)
        )
        shape = self.cache.get(visible)
        if shape is None:
            shape = Shape()
            for box, *faces in visible:
                corners, part = self.boxes[box]
                for index in faces:
                    quad = corners[list(_BOX_FACES[index])]
                    _vehicle_face(
                        shape, quad, index, part, corners.mean(axis=0), self.heading, self.looks
                    )
            self.cache[visible] = shape
        return shape, origin


def vehicle(
    x: float, z: float, heading: float, speed: float, kind: int, rng: np.random.Generator
) -> Thing:
    """A car, truck or bus (``kind``) centred on ``(x, z)``, heading ``heading`` (0: +z, pi/2:
    +x) at ``speed`` metres per frame (0: parked or waiting)."""
    return _Vehicle(x, z, heading, speed, _vehicle_looks(kind, rng))
