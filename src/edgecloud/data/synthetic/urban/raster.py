"""Rasterising a frame: shapes are projected, clipped to the visible depths and to a window
around the image, and drawn with the same integer geometry into the image and the label map,
so that the labels are exactly what the image shows."""

from __future__ import annotations

import math

import cv2
import numpy as np

from edgecloud.data.synthetic.urban.appearance import RGB
from edgecloud.data.synthetic.urban.classes import SKY
from edgecloud.data.synthetic.urban.geometry import (
    FAR,
    FILL,
    LINE,
    LOOP,
    NEAR,
    QUADS,
    Camera,
    Shape,
)

Bounds = tuple[tuple[int, float, bool], ...]
"""Half-spaces ``(axis, bound, keep_above)`` a polygon or polyline is cut to."""


def _clip(points: np.ndarray, bounds: Bounds, closed: bool) -> np.ndarray | None:
    """A polygon (``closed``) or polyline cut to half-spaces (Sutherland-Hodgman), or None
    when nothing is left. A polyline must not leave and re-enter (clip segments one by one).
    Plain Python: the polygons are small and numpy's per-call cost would dominate."""
    rows = points.tolist()
    for axis, bound, keep_above in bounds:
        inside = [(row[axis] >= bound) == keep_above or row[axis] == bound for row in rows]
        if all(inside):
            continue
        if not any(inside):
            return None
        out = []
        count = len(rows)
        for i in range(count if closed else count - 1):
            j = (i + 1) % count
            if inside[i]:
                out.append(rows[i])
            if inside[i] != inside[j]:
                a, b = rows[i], rows[j]
                t = (bound - a[axis]) / (b[axis] - a[axis])
                out.append([p + t * (q - p) for p, q in zip(a, b, strict=True)])
        if not closed and inside[-1]:
            out.append(rows[-1])
        if len(out) < (3 if closed else 2):
            return None
        rows = out
    return np.array(rows, float)


def _on_rows(polygon: np.ndarray) -> np.ndarray:
    """A polygon (fixed-point pixels) whose vertices are all on pixel rows: each vertex is
    replaced by the points nearest to it on its two edges where they cross a row.

    cv2 rounds every vertex to the nearest row and interpolates edges between the rounded
    vertices, which shifts a shallow edge by up to half a row times its slope: several pixels,
    so that the road and a kerb along the same line would leave a crack between them. With
    every vertex on a row the interpolation is exact; only corners lose under a row."""
    rows = polygon.tolist()
    count = len(rows)
    out = []
    for i, (x, y) in enumerate(rows):
        row = round(y / 8)
        if y == 8 * row:
            out.append((x, y))
            continue
        for ox, oy in (rows[i - 1], rows[(i + 1) % count]):
            low, high = (oy, y) if oy < y else (y, oy)
            first, last = math.ceil(low / 8), math.floor(high / 8)
            if first > last:
                out.append((x, y))
                continue
            target = 8 * min(max(row, first), last)
            t = (target - y) / (oy - y)
            out.append((x + t * (ox - x), target))
    return np.array(out, float)


_MARGIN = 16
"""Pixels beyond the image edges that polygons and lines are cut to before rasterising:
cv2's rasteriser misplaces edges by pixels when vertices lie far outside the image."""


class Raster:
    """The image and label map of one frame, drawn into with identical integer geometry.

    Points are projected to cv2's fixed-point pixel coordinates (3 fractional bits), cut to
    depths ``NEAR..FAR`` and to a window just around the image, and rasterised without
    anti-aliasing, each primitive into the image (its colour) and the label map (its class)
    with the same call.
    """

    def __init__(self, camera: Camera, background: np.ndarray) -> None:
        self.camera = camera
        self.image = background.copy()
        self.label = np.full(background.shape[:2], SKY, np.uint8)
        height, width = self.label.shape
        self.window = (-8.0 * _MARGIN, 8.0 * (width - 1 + _MARGIN), 8.0 * (height - 1 + _MARGIN))
        self.depths: Bounds = ((2, camera.z + NEAR, True), (2, camera.z + FAR, False))

    def _bounds(self, extra: float = 0.0) -> Bounds:
        low, right, bottom = self.window
        pad = 8.0 * extra
        return (
            (0, low - pad, True),
            (0, right + pad, False),
            (1, low - pad, True),
            (1, bottom + pad, False),
        )

    def draw(self, shape: Shape, offset: np.ndarray | None = None) -> None:
        """Rasterise ``shape`` (moved by ``offset``)."""
        if not shape.prims:
            return
        camera = self.camera
        points = shape.points()
        starts = shape.starts()
        if offset is not None:
            points = points + offset
        relative = points - (camera.x, camera.height, camera.z)
        depth = relative[:, 2]
        lows = np.minimum.reduceat(depth, starts).tolist()
        highs = np.maximum.reduceat(depth, starts).tolist()
        if max(highs) < NEAR or min(lows) > FAR:
            return
        uv = relative[:, :2] / np.maximum(depth, NEAR)[:, None]
        uv *= (8 * camera.focal, -8 * camera.focal)
        uv += (8 * camera.cx, 8 * camera.cy)
        low, right, bottom = self.window
        u_min, v_min = np.minimum.reduceat(uv, starts).T
        u_max, v_max = np.maximum.reduceat(uv, starts).T
        gone = ((u_max < low) | (u_min > right) | (v_max < low) | (v_min > bottom)).tolist()
        outside = ((u_min < low) | (u_max > right) | (v_min < low) | (v_max > bottom)).tolist()
        # only wide shapes can have long, shallow edges that need exact rows (see _on_rows)
        wide = (((u_max - u_min) > 8 * 24) & ((v_max - v_min) > 8 * 2)).tolist()
        for (kind, start, end, colour, cls, width), near, far, out, off, broad in zip(
            shape.prims, lows, highs, outside, gone, wide, strict=True
        ):
            if far < NEAR or near > FAR:
                continue
            cut = near < NEAR or far > FAR
            if off and not cut and kind != LINE and kind != LOOP:
                continue  # wholly outside the window (lines: their width may reach in)
            if kind == QUADS:
                self._quads(points[start:end], uv[start:end], colour, cls, cut or out)
                continue
            if cut:
                clipped = _clip(points[start:end], self.depths, kind != LINE)
                if clipped is None:
                    continue
                projected = camera.project(clipped) * 8
                mean_depth = float(np.mean(clipped[:, 2]) - camera.z)
            else:
                projected = uv[start:end]
                mean_depth = 0.5 * (near + far)
            if kind == FILL:
                self._fill(projected, colour, cls, cut or out, broad or cut)
            else:
                thickness = max(1, round(camera.focal * width / mean_depth))
                self._polyline(projected, kind == LOOP, thickness, colour, cls, cut or out)

    def _fill(self, polygon: np.ndarray, colour: RGB, cls: int, clip: bool, wide: bool) -> None:
        if clip:
            clipped = _clip(polygon, self._bounds(), True)
            if clipped is None:
                return
            polygon = clipped
        if wide:
            polygon = _on_rows(polygon)
        pts = np.rint(polygon).astype(np.int32)
        cv2.fillPoly(self.image, [pts], colour, cv2.LINE_8, 3)
        cv2.fillPoly(self.label, [pts], cls, cv2.LINE_8, 3)

    def _polyline(
        self, line: np.ndarray, closed: bool, thickness: int, colour: RGB, cls: int, clip: bool
    ) -> None:
        if clip:
            ends = np.concatenate([line, line[:1]]) if closed else line
            bounds = self._bounds(thickness)
            pieces = [_clip(ends[i : i + 2], bounds, False) for i in range(len(ends) - 1)]
            lines = [np.rint(p).astype(np.int32) for p in pieces if p is not None]
            closed = False
        else:
            lines = [np.rint(line).astype(np.int32)]
        if lines:
            cv2.polylines(self.image, lines, closed, colour, thickness, cv2.LINE_8, 3)
            cv2.polylines(self.label, lines, closed, cls, thickness, cv2.LINE_8, 3)

    def _quads(self, points: np.ndarray, uv: np.ndarray, colour: RGB, cls: int, clip: bool) -> None:
        quads = uv.reshape(-1, 4, 2)
        if clip:
            camera = self.camera
            depth = points[:, 2].reshape(-1, 4) - camera.z
            low, right, bottom = self.window
            seen = (depth.max(axis=1) >= NEAR) & (depth.min(axis=1) <= FAR)
            cut = (depth.min(axis=1) < NEAR) | (depth.max(axis=1) > FAR)
            off = (
                (quads[..., 0].max(axis=1) < low)
                | (quads[..., 0].min(axis=1) > right)
                | (quads[..., 1].max(axis=1) < low)
                | (quads[..., 1].min(axis=1) > bottom)
            )
            wanted = seen & (cut | ~off)
            quads, points = quads[wanted], points.reshape(-1, 4, 3)[wanted].reshape(-1, 3)
            depth = depth[wanted]
            keep = (
                (depth.min(axis=1) >= NEAR)
                & (depth.max(axis=1) <= FAR)
                & (quads.min(axis=1) >= low).all(axis=1)
                & (quads[..., 0].max(axis=1) <= right)
                & (quads[..., 1].max(axis=1) <= bottom)
            )
            polygons = list(np.rint(quads[keep]).astype(np.int32))
            for quad in points.reshape(-1, 4, 3)[~keep]:
                clipped = _clip(quad, self.depths, True)
                if clipped is not None:
                    clipped = _clip(camera.project(clipped) * 8, self._bounds(), True)
                if clipped is not None:
                    polygons.append(np.rint(clipped).astype(np.int32))
        else:
            polygons = list(np.rint(quads).astype(np.int32))
        if polygons:
            cv2.fillPoly(self.image, polygons, colour, cv2.LINE_8, 3)
            cv2.fillPoly(self.label, polygons, cls, cv2.LINE_8, 3)
