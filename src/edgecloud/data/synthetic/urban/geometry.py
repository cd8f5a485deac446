"""Camera and shapes: the pinhole camera, the primitives a thing is drawn with (a
:class:`Shape` records polygons and lines in world coordinates), and helpers that make the
point lists of common primitives (billboards, ground and facade rectangles, wheels, points in
a heading's frame). Nothing here touches pixels; :mod:`.raster` does."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgecloud.data.synthetic.urban.appearance import RGB

FOCAL = 1.1
"""Focal length in image widths (Cityscapes: 2262 px on 2048, a 49 degree field of view)."""
HORIZON = 0.44
"""Row of the horizon in image heights (the camera is pitched slightly down)."""
NEAR, FAR = 1.0, 160.0
"""Nothing nearer than NEAR metres is drawn; the street ends in a skyline FAR metres ahead."""


FILL, LINE, LOOP, QUADS = 0, 1, 2, 3
"""Primitive kinds: a filled polygon, an open polyline and a closed one (with a width), and
many filled quadrilaterals of one colour that do not overlap (windows)."""

Prim = tuple[int, int, int, RGB, int, float]
"""``(kind, first point, end point, colour, train id, width in metres)``."""


@dataclass(frozen=True)
class Camera:
    """A pinhole camera looking along +z from ``(x, height, z)``; y is up."""

    x: float
    z: float
    height: float
    focal: float
    cx: float
    cy: float

    def project(self, points: np.ndarray) -> np.ndarray:
        """``(N, 3)`` world points (in front of the camera) to ``(N, 2)`` pixel coordinates."""
        depth = points[:, 2] - self.z
        u = self.cx + self.focal * (points[:, 0] - self.x) / depth
        v = self.cy - self.focal * (points[:, 1] - self.height) / depth
        return np.stack([u, v], axis=1)


class Shape:
    """Primitives of one object in drawing order, each owning a contiguous run of points."""

    __slots__ = ("_points", "_starts", "count", "parts", "prims")

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.prims: list[Prim] = []
        self.count = 0
        self._points: np.ndarray | None = None
        self._starts: np.ndarray | None = None

    def _add(self, kind: int, points: np.ndarray, colour: RGB, cls: int, width: float) -> None:
        self.parts.append(points)
        self.prims.append((kind, self.count, self.count + len(points), colour, cls, width))
        self.count += len(points)
        self._points = None

    def fill(self, points: np.ndarray, colour: RGB, cls: int) -> None:
        self._add(FILL, np.asarray(points, float), colour, cls, 0.0)

    def line(self, points: np.ndarray, width: float, colour: RGB, cls: int) -> None:
        self._add(LINE, np.asarray(points, float), colour, cls, width)

    def loop(self, points: np.ndarray, width: float, colour: RGB, cls: int) -> None:
        self._add(LOOP, np.asarray(points, float), colour, cls, width)

    def quads(self, quads: np.ndarray, colour: RGB, cls: int) -> None:
        """``(K, 4, 3)`` non-overlapping quadrilaterals drawn in one go."""
        if len(quads):
            self._add(QUADS, np.asarray(quads, float).reshape(-1, 3), colour, cls, 0.0)

    def extend(self, other: Shape) -> None:
        for kind, start, end, colour, cls, width in other.prims:
            self.prims.append((kind, start + self.count, end + self.count, colour, cls, width))
        self.parts.extend(other.parts)
        self.count += other.count
        self._points = None

    def points(self) -> np.ndarray:
        """All points, primitive after primitive (cached until the shape changes)."""
        if self._points is None:
            self._points = np.concatenate(self.parts) if self.parts else np.zeros((0, 3))
            self._starts = np.array([prim[1] for prim in self.prims], np.intp)
        return self._points

    def starts(self) -> np.ndarray:
        """Index of each primitive's first point."""
        self.points()
        assert self._starts is not None
        return self._starts


def ellipse(rx: float, ry: float, n: int = 12, *, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    """``n`` points ``(a, b)`` on an ellipse of radii ``rx`` and ``ry`` around ``(cx, cy)``."""
    angles = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], axis=1)


def billboard(x: float, z: float, local: np.ndarray) -> np.ndarray:
    """Points ``(a, y)`` of a vertical plane facing the camera at depth ``z`` to world points."""
    local = np.asarray(local, float)
    return np.column_stack([x + local[:, 0], local[:, 1], np.full(len(local), z)])


def rect(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    """The corners of the 2-D rectangle ``[x0, x1] x [y0, y1]`` (e.g. for :func:`billboard`)."""
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def ground_quad(x0: float, x1: float, z0: float, z1: float, y: float = 0.0) -> np.ndarray:
    """A horizontal rectangle ``[x0, x1] x [z0, z1]`` at height ``y`` (sidewalks are raised
    0.12 m, markings a few millimetres, so that later ones cover earlier ones)."""
    return np.array([[x0, y, z0], [x1, y, z0], [x1, y, z1], [x0, y, z1]], float)


def side_plane(x: float, z0: float, z1: float, y0: float, y1: float) -> np.ndarray:
    """A rectangle in the vertical plane ``x = const`` (a facade along the street)."""
    return np.array([[x, y0, z0], [x, y0, z1], [x, y1, z1], [x, y1, z0]], float)


def front_plane(z: float, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    """A rectangle in the vertical plane ``z = const`` (facing the camera)."""
    return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], float)


def profile_strip(x: float, z0: float, z1: float, heights: np.ndarray) -> np.ndarray:
    """A vertical strip in the plane ``x = const`` standing on the ground, with a ragged top:
    ``heights`` sampled evenly from ``z0`` to ``z1``."""
    zs = np.linspace(z0, z1, len(heights))
    top = np.column_stack([np.full(len(zs), x), heights, zs])
    bottom = np.array([[x, 0.0, z1], [x, 0.0, z0]])
    return np.concatenate([top, bottom])


def frame_axes(heading: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along and across (to the right of) a heading (0: +z, pi/2: +x)."""
    along = np.array([math.sin(heading), 0.0, math.cos(heading)])
    across = np.array([math.cos(heading), 0.0, -math.sin(heading)])
    return along, across


def local_to_world(
    origin: np.ndarray, along: np.ndarray, across: np.ndarray, pts: np.ndarray
) -> np.ndarray:
    """Local ``(s, y, w)`` points (along, up, across) to world points."""
    pts = np.asarray(pts, float).reshape(-1, 3)
    return (
        origin + pts[:, :1] * along + pts[:, 1:2] * np.array([0.0, 1.0, 0.0]) + pts[:, 2:] * across
    )


def wheel_points(s: float, radius: float, w: float = 0.0, n: int = 12) -> np.ndarray:
    """A wheel's rim as local ``(s, y, w)`` points (see :func:`local_to_world`): ``n`` points
    of a circle of ``radius`` touching the ground at ``s`` along and ``w`` across."""
    ring = ellipse(radius, radius, n, cx=s, cy=radius)
    return np.column_stack([ring, np.full(n, w)])
