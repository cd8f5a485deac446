"""Surface texture and sky: seamless noise and brick/slab tiles, the per-pixel shading of
road, sidewalk, grass, facades, walls, fences and vegetation with world-anchored textures
(looked up through the label map, so shading never crosses a label edge), and the clip's sky.
The flat colours of :mod:`.raster` alone would make every region trivially separable."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edgecloud.data.synthetic.urban.appearance import CityStyle
from edgecloud.data.synthetic.urban.classes import (
    BUILDING,
    FENCE,
    ROAD,
    SIDEWALK,
    TERRAIN,
    VEGETATION,
    WALL,
)
from edgecloud.data.synthetic.urban.geometry import NEAR, Camera

_TILE = 64


def _periodic_noise(cells: int, rng: np.random.Generator) -> np.ndarray:
    """Seamlessly tiling value noise on a ``_TILE`` square, ``cells`` features across, in
    about [-1, 1]."""
    grid = rng.random((cells, cells), dtype=np.float32) * 2 - 1
    tiled = np.tile(grid, (3, 3))
    big = cv2.resize(tiled, (3 * _TILE, 3 * _TILE), interpolation=cv2.INTER_CUBIC)
    return big[_TILE : 2 * _TILE, _TILE : 2 * _TILE].copy()


def _grid_lines(period_a: int, period_b: int, *, stagger: bool) -> np.ndarray:
    """-1 on the joints of a grid of bricks or slabs (``period`` texels), 0 elsewhere."""
    a = np.arange(_TILE)
    rows = (a % period_b < 2)[:, None]
    course = (a // period_b)[:, None]
    shift = (course % 2) * (period_a // 2) if stagger else 0
    cols = ((a[None, :] + shift) % period_a) < 2
    return -(rows | cols).astype(np.float32)


@dataclass(frozen=True)
class Textures:
    """Shading tiles: ground ones indexed by (z, x) metres, facade ones by (y, z) metres."""

    ground: np.ndarray  # (T, T, 3): road, sidewalk, terrain
    ground_metres: float
    facade: np.ndarray  # (T, T, 4): building, wall, fence, vegetation
    facade_metres: float


def random_textures(rng: np.random.Generator) -> Textures:
    """A clip's shading tiles, drawn from ``rng`` (slab size, brick or plaster, noise)."""
    road = 0.6 * _periodic_noise(48, rng) + 0.4 * _periodic_noise(6, rng)
    slab = int(rng.choice([12, 16]))
    sidewalk = 0.8 * _grid_lines(
        slab, slab, stagger=bool(rng.random() < 0.5)
    ) + 0.3 * _periodic_noise(24, rng)
    terrain = 0.7 * _periodic_noise(40, rng) + 0.5 * _periodic_noise(8, rng)
    if rng.random() < 0.6:
        building = 0.6 * _grid_lines(8, 4, stagger=True) + 0.3 * _periodic_noise(16, rng)
    else:
        building = 0.8 * _periodic_noise(20, rng) + 0.4 * _periodic_noise(4, rng)
    wall = 0.7 * _grid_lines(16, 8, stagger=True) + 0.4 * _periodic_noise(24, rng)
    fence = np.tile(np.where(np.arange(_TILE) % 4 < 2, 0.7, -0.7).astype(np.float32), (_TILE, 1))
    fence += 0.2 * _periodic_noise(8, rng)
    vegetation = 0.8 * _periodic_noise(32, rng) + 0.5 * _periodic_noise(10, rng)

    def blur(tile: np.ndarray) -> np.ndarray:
        wrapped = cv2.GaussianBlur(np.tile(tile, (3, 3)), (0, 0), 0.7)
        return wrapped[_TILE : 2 * _TILE, _TILE : 2 * _TILE]

    return Textures(
        ground=np.dstack([blur(road), blur(sidewalk), blur(terrain)]).astype(np.float32),
        ground_metres=4.0,
        facade=np.dstack([blur(building), blur(wall), blur(fence), blur(vegetation)]).astype(
            np.float32
        ),
        facade_metres=3.0,
    )


_GROUND_SHADING = ((ROAD, 0.09, 0.1), (SIDEWALK, 0.14, 0.4), (TERRAIN, 0.25, 0.1))
_FACADE_SHADING = (
    (BUILDING, 0.10, 0.25),
    (WALL, 0.14, 0.3),
    (FENCE, 0.30, 0.1),
    (VEGETATION, 0.32, 0.1),
)
"""``(train id, amplitude, feature size in metres)`` of the surfaces shaded with the ground
tiles (in channel order) and the facade tiles: a world-anchored texture that fades out where
its features get smaller than a pixel."""


def _slots(rows: Sequence[tuple[int, float, float]]) -> np.ndarray:
    """Each train id's tile channel, or ``len(rows)`` for the classes not shaded."""
    slots = np.full(256, len(rows), np.intp)
    for channel, (cls, _, _) in enumerate(rows):
        slots[cls] = channel
    return slots


_GROUND_SLOTS, _FACADE_SLOTS = _slots(_GROUND_SHADING), _slots(_FACADE_SHADING)


class Shader:
    """Per-pixel brightness factors from world-anchored textures of the surfaces a frame's
    label map shows. Ground surfaces are looked up at the ground point a pixel sees; facades,
    walls, fences and vegetation at the point it sees on the street's facade plane on that
    side of the image. The camera only moves along z, so everything but that shift is
    computed once per clip."""

    def __init__(
        self,
        textures: Textures,
        camera: Camera,
        facade_x: tuple[float, float],
        shape: tuple[int, int],
    ):
        height, width = shape
        self.textures = textures
        v = np.arange(height, dtype=np.float32)[:, None]
        u = np.arange(width, dtype=np.float32)[None, :]
        # ground: rows below the horizon see the ground at depth f * h / (v - cy)
        self.first = first = min(height, max(0, math.ceil(camera.cy + 0.5)))
        depth = camera.focal * camera.height / (v[first:] - camera.cy)
        self.ground_scale = _TILE / textures.ground_metres
        x = camera.x + (u - camera.cx) * depth / camera.focal
        self.ground_u = np.mod(x * self.ground_scale, _TILE).astype(np.float32)
        self.ground_z = (depth * self.ground_scale * np.ones_like(u)).astype(np.float64)
        self.ground_weights = self._weights(camera.focal / depth * np.ones_like(u), _GROUND_SHADING)
        # facades: columns left (right) of the centre see the left (right) facade plane
        side_x = np.where(u < camera.cx, -facade_x[0], facade_x[1])
        across = np.where(np.abs(u - camera.cx) < 0.5, 0.5, u - camera.cx)
        fdepth = np.maximum(camera.focal * (side_x - camera.x) / across, NEAR)
        self.facade_scale = _TILE / textures.facade_metres
        y = camera.height - (v - camera.cy) * fdepth / camera.focal
        self.facade_v = np.mod(y * self.facade_scale, _TILE).astype(np.float32)
        self.facade_z = (fdepth * self.facade_scale * np.ones_like(v)).astype(np.float64)
        self.facade_weights = self._weights(
            camera.focal / fdepth * np.ones_like(v), _FACADE_SHADING
        )

    @staticmethod
    def _weights(
        pixels_per_metre: np.ndarray, rows: Sequence[tuple[int, float, float]]
    ) -> np.ndarray:
        """``(H, W, channels)``: each channel's amplitude, faded where its features are small."""
        return np.stack(
            [
                amplitude * np.clip(pixels_per_metre * feature - 0.5, 0, 1)
                for _, amplitude, feature in rows
            ],
            axis=-1,
        ).astype(np.float32)

    @staticmethod
    def _pick(samples: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """Each pixel's channel of ``samples`` (0 where its class is not shaded)."""
        channels = samples.shape[-1]
        picked = np.take_along_axis(samples, np.minimum(slots, channels - 1)[..., None], axis=2)[
            ..., 0
        ]
        return picked * (slots < channels)

    def factor(self, label: np.ndarray, z: float) -> np.ndarray:
        textures = self.textures
        factor = np.ones(label.shape, np.float32)
        ground = cv2.remap(
            textures.ground,
            self.ground_u,
            np.mod(self.ground_z + z * self.ground_scale, _TILE).astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_WRAP,
        )
        below = label[self.first :]
        factor[self.first :] += self._pick(ground * self.ground_weights, _GROUND_SLOTS[below])
        facade = cv2.remap(
            textures.facade,
            np.mod(self.facade_z + z * self.facade_scale, _TILE).astype(np.float32),
            self.facade_v,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_WRAP,
        )
        factor += self._pick(facade * self.facade_weights, _FACADE_SLOTS[label])
        return factor


def paint_sky(width: int, height: int, style: CityStyle, rng: np.random.Generator) -> np.ndarray:
    """The clip's sky (RGB uint8, the whole frame): a vertical gradient with soft clouds. It
    is at infinity, so it does not move while the camera only advances."""
    if style.overcast:
        top, bottom, cloud = (150, 158, 170), (208, 210, 214), (225, 226, 228)
    else:
        top, bottom, cloud = (68, 125, 195), (185, 208, 230), (240, 242, 245)
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None, None] ** 0.7
    sky = np.asarray(top, np.float32) * (1 - rows) + np.asarray(bottom, np.float32) * rows
    sky = np.broadcast_to(sky, (height, width, 3)).copy()
    small = rng.random((max(2, height // 12), max(2, width // 12)), dtype=np.float32)
    detail = rng.random((max(2, height // 4), max(2, width // 4)), dtype=np.float32)
    clouds = 0.75 * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    clouds += 0.25 * cv2.resize(detail, (width, height), interpolation=cv2.INTER_CUBIC)
    cover = 0.55 if style.overcast else rng.uniform(0.45, 0.75)
    alpha = np.clip((clouds - cover) * 3.0, 0, 0.9)[..., None]
    sky = sky * (1 - alpha) + np.asarray(cloud, np.float32) * alpha
    return np.clip(sky, 0, 255).astype(np.uint8)
