"""One scene of the synthetic drone world: its layout, moving objects, camera and renderer.

A scene is a stretch of video between two cuts. It owns a world larger than the frame (ground
texture plus occluder layer), a smooth camera path over it (pan and slight zoom) and a set of
actors: vehicles driving along roads or parked, pedestrians walking, seated people and carts
standing still. New actors enter the view over time; actors far outside the world are dropped.

Frame rendering is: warp the ground crop, stamp actors in layer order, composite the
occluders (trees, roofs) on top, then derive each actor's annotation from the pixels of its
mask that ended up visible. Annotation rules (VisDrone2019-VID semantics):

* the box is the extent of the object's in-frame mask, including parts hidden by occluders or
  other objects, clipped to the frame (width and height >= 1);
* truncation is 1 when 1-50% of the object's mask lies outside the frame; objects more than 50%
  outside are not annotated, as in VisDrone;
* occlusion is the share of the in-frame mask covered by occluders or objects drawn above it:
  0 below 1%, 1 up to 50%, 2 up to 90%; objects more than 90% covered are not annotated that
  frame (nothing a detector could be expected to find);
* ignored regions (category 0, score 0) are crowds and packed parking lots baked into the
  ground as many small unannotated objects; each has its own target id.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from edgecloud.data.synthetic import sprites, textures
from edgecloud.data.synthetic.sprites import CLASS_SPECS

if TYPE_CHECKING:
    from edgecloud.data.synthetic.drone_world import DroneWorldConfig

AnnotationRow = tuple[int, int, int, int, int, int, int, int, int]
"""``target_id, left, top, width, height, score, category, truncation, occlusion``."""

_CATEGORIES = np.array(list(CLASS_SPECS))
_FREQUENCIES = np.array([spec.frequency for spec in CLASS_SPECS.values()])
_FREQUENCIES /= _FREQUENCIES.sum()
_MOVERS = np.array([c for c, spec in CLASS_SPECS.items() if spec.speed[1] > 0])
_MOVER_FREQUENCIES = np.array([CLASS_SPECS[int(c)].frequency for c in _MOVERS])
_MOVER_FREQUENCIES /= _MOVER_FREQUENCIES.sum()
_SLOW_LANE = (sprites.BICYCLE, sprites.TRICYCLE, sprites.AWNING_TRICYCLE)
_ROAD_COUNTS = (0, 1, 2, 3)
_ROAD_COUNT_P = (0.1, 0.35, 0.4, 0.15)
_WORLD_MARGIN = 96
_PLACEMENT_TRIES = 20
_FOLLOW_GAP = 3.0  # bumper-to-bumper distance kept in traffic, nominal pixels
_STOPPED_SHARE = 0.15
_STOP_FRAMES = (20, 240)
_DESPAWN_MARGIN = 200.0
_MASK_THRESHOLD = 128
_MAX_TRUNCATION = 0.5
_MAX_OCCLUSION = 0.9
_NONE_BELOW, _PARTIAL_UP_TO = 0.01, 0.5


@dataclass
class _Actor:
    """One object moving (or standing) in the world."""

    target_id: int
    category: int
    sprite: np.ndarray
    x: float
    y: float
    heading: float
    speed: float
    wander: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Heading wobble of walkers: amplitude (rad), angular frequency (rad/frame), phase."""
    lane: tuple[int, int, int, bool] | None = None
    """Queue of a vehicle in traffic: :attr:`_LaneSlot.key`; None for anything else."""
    wait: int = 0
    """Frames a vehicle in traffic stays stopped (at a light) before driving off."""
    age: int = 0

    @property
    def radius(self) -> float:
        """Half the diagonal of the sprite: no pixel lies further from the position."""
        return 0.5 * math.hypot(*self.sprite.shape[:2])

    @property
    def half_length(self) -> float:
        """Half the sprite's extent along the heading."""
        return self.sprite.shape[1] / 2

    @property
    def along(self) -> float:
        """Position projected on the heading: how far along its lane a vehicle is."""
        return self.x * math.cos(self.heading) + self.y * math.sin(self.heading)

    def step(self, distance: float) -> None:
        """Advance ``distance`` along the current heading, then update a walker's heading."""
        self.x += distance * math.cos(self.heading)
        self.y += distance * math.sin(self.heading)
        amplitude, frequency, phase = self.wander
        if amplitude:
            delta = math.sin(frequency * (self.age + 1) + phase) - math.sin(
                frequency * self.age + phase
            )
            self.heading += amplitude * delta
        self.age += 1


@dataclass(frozen=True)
class _LaneSlot:
    """Where on the roads a vehicle drives."""

    road: int
    """Index of the road in the scene."""
    sign: int
    """+1 along the road's direction, -1 against it."""
    lane: int
    shift: float
    """Sideways offset from the lane centre, outwards."""
    kerb: bool
    """Slow two- and three-wheelers ride by the kerb and queue apart from the cars."""

    @property
    def key(self) -> tuple[int, int, int, bool]:
        """Vehicles with the same key queue behind each other."""
        return (self.road, self.sign, self.lane, self.kerb)


@dataclass(frozen=True)
class _Stamp:
    """Where an actor was drawn in one frame, to annotate it once everything is drawn."""

    actor: _Actor
    index: int
    region: tuple[int, int, int, int]
    mask: np.ndarray
    full_area: int
    inside_area: int


@dataclass(frozen=True)
class _IgnoreRegion:
    """A crowd or parking lot baked into the ground, annotated as category 0."""

    target_id: int
    box: tuple[float, float, float, float]
    """World-pixel ``x0, y0, x1, y1``."""


def camera_transform(centre: np.ndarray, zoom: float, width: int, height: int) -> np.ndarray:
    """The 2x3 affine mapping world pixels to frame pixels for a camera at ``centre``."""
    return np.array(
        [
            [zoom, 0.0, (width - 1) / 2 - zoom * centre[0]],
            [0.0, zoom, (height - 1) / 2 - zoom * centre[1]],
        ]
    )


def stamp_sprite(
    target: np.ndarray,
    sprite: np.ndarray,
    position: np.ndarray,
    heading: float,
    zoom: float,
    *,
    owner: np.ndarray | None = None,
    index: int = 0,
) -> tuple[tuple[int, int, int, int], np.ndarray, int, int] | None:
    """Composite a premultiplied sprite onto BGR ``target``, centred at ``position``.

    The sprite is rotated to ``heading`` and scaled by ``zoom``. Its opaque pixels (alpha >=
    128) inside the target are labelled ``index`` in ``owner`` when given. Returns the clipped
    target region ``(x0, y0, x1, y1)``, the opaque mask over that region (``uint8`` 0/1), and
    the mask's pixel count overall and inside the target; None when the sprite misses the
    target entirely.
    """
    sh, sw = sprite.shape[:2]
    cos, sin = math.cos(heading) * zoom, math.sin(heading) * zoom
    reach_x = (abs(cos) * sw + abs(sin) * sh) / 2 + 1
    reach_y = (abs(sin) * sw + abs(cos) * sh) / 2 + 1
    x0, y0 = math.floor(position[0] - reach_x), math.floor(position[1] - reach_y)
    x1, y1 = math.ceil(position[0] + reach_x) + 1, math.ceil(position[1] + reach_y) + 1
    th, tw = target.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, tw), min(y1, th)
    if cx0 >= cx1 or cy0 >= cy1:
        return None
    half_w, half_h = (sw - 1) / 2, (sh - 1) / 2
    matrix = np.array(
        [
            [cos, -sin, position[0] - x0 - cos * half_w + sin * half_h],
            [sin, cos, position[1] - y0 - sin * half_w - cos * half_h],
        ]
    )
    patch = cv2.warpAffine(sprite, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR)
    alpha = cv2.extractChannel(patch, 3)
    mask = cv2.threshold(alpha, _MASK_THRESHOLD - 1, 1, cv2.THRESH_BINARY)[1]
    inner_mask = mask[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    inside = cv2.countNonZero(inner_mask)
    composite(target[cy0:cy1, cx0:cx1], patch[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0])
    if owner is not None and inside:
        owner[cy0:cy1, cx0:cx1][inner_mask.view(np.bool_)] = index
    return (cx0, cy0, cx1, cy1), inner_mask, cv2.countNonZero(mask), inside


def composite(target: np.ndarray, premultiplied: np.ndarray) -> None:
    """``target = target * (1 - alpha) + colour`` in place, for premultiplied BGRA ``uint8``."""
    keep = cv2.cvtColor(cv2.bitwise_not(cv2.extractChannel(premultiplied, 3)), cv2.COLOR_GRAY2BGR)
    colour = cv2.cvtColor(premultiplied, cv2.COLOR_BGRA2BGR)
    target[:] = cv2.add(cv2.multiply(target, keep, scale=1 / 255), colour)


def _level(fraction: float) -> int:
    """VisDrone truncation/occlusion level of a hidden fraction: 0 none, 1 partial, 2 heavy."""
    if fraction < _NONE_BELOW:
        return 0
    return 1 if fraction <= _PARTIAL_UP_TO else 2


class Scene:
    """A scene between two cuts; :meth:`render` then :meth:`step` once per frame."""

    def __init__(
        self,
        config: DroneWorldConfig,
        *,
        num_frames: int,
        rng: np.random.Generator,
        ids: itertools.count,
    ) -> None:
        self._config = config
        self._rng = rng
        self._ids = ids
        self._size = (config.width, config.height)
        self.scale = float(rng.uniform(*config.altitude_scale))
        self._grid = float(rng.uniform(0, math.pi))
        self._light = rng.uniform(0.85, 1.15) * rng.uniform(0.96, 1.04, 3)
        self._plan_camera(num_frames)
        self._roads = self._plan_roads()
        self._build_world()
        self._actors: list[_Actor] = []
        self._populate()

    # ----------------------------------------------------------------------------- layout

    def _plan_camera(self, num_frames: int) -> None:
        """A smooth pan with a slowly wandering direction and a gentle zoom oscillation."""
        rng = self._rng
        t = np.arange(num_frames, dtype=np.float64)
        speed = rng.uniform(*self._config.pan_speed)
        direction = rng.uniform(0, 2 * math.pi) + rng.uniform(0, 0.8) * np.sin(
            2 * math.pi * t / rng.uniform(80, 300) + rng.uniform(0, 2 * math.pi)
        )
        steps = speed * np.stack([np.cos(direction), np.sin(direction)], 1)
        centres = np.cumsum(steps, axis=0) - steps[0]
        amplitude = rng.uniform(0, self._config.zoom_amplitude)
        self.zooms = np.exp(
            amplitude * np.sin(2 * math.pi * t / rng.uniform(90, 400) + rng.uniform(0, 2 * math.pi))
        )
        half_view = np.array(self._size) / 2 / self.zooms.min() + _WORLD_MARGIN
        low = centres.min(axis=0) - half_view
        high = centres.max(axis=0) + half_view
        self.centres = centres - low
        self._world_w, self._world_h = (int(v) for v in np.ceil(high - low))

    def _random_point(self) -> np.ndarray:
        """A uniformly random point of the world."""
        return self._rng.uniform([0, 0], [self._world_w, self._world_h])

    def _near_camera(self, spread: float) -> np.ndarray:
        """A random point around the camera path, within ``spread`` of a half view."""
        centre = self.centres[int(self._rng.integers(len(self.centres)))]
        return centre + self._rng.uniform(-spread, spread, 2) * np.array(self._size) / 2

    def _road_clearance(self, point: np.ndarray) -> float:
        """Distance from ``point`` to the nearest kerb (negative on a road; inf without roads)."""
        distances = [abs(float((point - r.origin) @ r.normal)) - r.half_width for r in self._roads]
        return min(distances, default=math.inf)

    def _plan_roads(self) -> list[textures.Road]:
        """Zero to three straight roads on the scene grid, passing through the camera's view."""
        rng = self._rng
        count = int(rng.choice(_ROAD_COUNTS, p=_ROAD_COUNT_P))
        turns = rng.permutation(4)[:count]
        return [
            textures.Road(
                origin=tuple(self._near_camera(0.6)),
                angle=self._grid + turn * math.pi / 2 + rng.normal(0, 0.03),
                lanes=int(rng.choice([1, 1, 2, 2, 3])),
                lane_width=13.0 * self.scale * rng.uniform(0.95, 1.1),
            )
            for turn in turns
        ]

    def _plan_trees(self, count: int) -> list[textures.Tree]:
        """Canopies, half of them lining road edges where they overhang the kerb."""
        rng = self._rng
        trees = []
        for _ in range(count):
            radius = rng.uniform(8, 22) * self.scale
            point = self._random_point()
            if self._roads and rng.random() < 0.5:
                road = self._roads[int(rng.integers(len(self._roads)))]
                along = float((point - road.origin) @ road.direction)
                offset = road.half_width + radius * rng.uniform(-0.5, 0.6)
                point = (
                    road.origin
                    + along * road.direction
                    + rng.choice([-1, 1]) * offset * road.normal
                )
            trees.append(textures.Tree(tuple(point), radius))
        return trees

    def _plan_roofs(self, count: int) -> list[textures.Roof]:
        """Grid-aligned rooftops, mostly beside the roads; a few reach over the traffic."""
        rng = self._rng
        roofs = []
        for _ in range(count):
            length, width = rng.uniform(30, 90) * self.scale, rng.uniform(20, 60) * self.scale
            point = self._random_point()
            if self._road_clearance(point) < width / 2 and rng.random() < 0.7:
                continue
            angle = self._grid + int(rng.integers(2)) * math.pi / 2
            roofs.append(textures.Roof(tuple(point), length, width, angle))
        return roofs

    def _build_world(self) -> None:
        """Paint the ground, the occluder layer and their shadows, and bake ignored regions."""
        rng, config = self._rng, self._config
        area = self._world_w * self._world_h / 1e6
        biome = textures.BIOMES[int(rng.integers(len(textures.BIOMES)))]
        ground = textures.render_ground(
            self._world_h,
            self._world_w,
            biome=biome,
            roads=self._roads,
            scale=self.scale,
            grid=self._grid,
            rng=rng,
        )
        trees = self._plan_trees(int(rng.poisson(config.tree_density * area)))
        roofs = self._plan_roofs(int(rng.poisson(config.roof_density * area)))
        occluders = textures.render_occluders(
            self._world_h, self._world_w, trees=trees, roofs=roofs, rng=rng
        )
        sun = rng.uniform(0, 2 * math.pi)
        offset = (round(4 * self.scale * math.cos(sun)), round(4 * self.scale * math.sin(sun)))
        textures.cast_shadows(ground, occluders, offset=offset, strength=0.45)
        low, high = config.ignore_regions
        count = int(rng.integers(low, high + 1))
        self._ignored: list[_IgnoreRegion] = []
        for _ in range(count):
            region = self._bake_ignored_region(ground)
            if region is not None:
                self._ignored.append(region)
        # Stored as BGRA: cv2's bilinear warp has a SIMD path for 4 channels, ~3x faster than 3.
        self.ground = cv2.cvtColor(self._lit(ground), cv2.COLOR_BGR2BGRA)
        self.occluders = np.dstack([self._lit(occluders[..., :3]), occluders[..., 3]])

    def _lit(self, bgr: np.ndarray) -> np.ndarray:
        """``bgr`` under the scene's illumination (a per-channel gain)."""
        return np.clip(bgr * self._light.astype(np.float32), 0, 255).astype(np.uint8)

    def _bake_ignored_region(self, ground: np.ndarray) -> _IgnoreRegion | None:
        """A crowded plaza or a packed parking lot painted into the ground, left unannotated.

        It is placed near the camera path, off the roads and apart from the other regions;
        None when no such spot is found.
        """
        rng = self._rng
        size = np.array([rng.uniform(60, 150), rng.uniform(40, 100)]) * self.scale
        candidates = (self._near_camera(0.8) for _ in range(_PLACEMENT_TRIES))
        clear = 0.5 * math.hypot(*size) + 8 * self.scale

        def free(c: np.ndarray) -> bool:
            apart = all(
                _box_gap((*(c - size / 2), *(c + size / 2)), region.box) > 0
                for region in self._ignored
            )
            return apart and self._road_clearance(c) > clear

        centre = next((c for c in candidates if free(c)), None)
        if centre is None:
            return None
        corners = textures.rotated_rect(tuple(centre), size[0], size[1], 0.0)
        if rng.random() < 0.5:
            self._bake_crowd(ground, corners, size)
        else:
            self._bake_parking(ground, corners, size)
        x0, y0 = corners.min(axis=0)
        x1, y1 = corners.max(axis=0)
        return _IgnoreRegion(next(self._ids), (float(x0), float(y0), float(x1), float(y1)))

    def _bake_crowd(self, ground: np.ndarray, corners: np.ndarray, size: np.ndarray) -> None:
        """A paved plaza densely filled with standing and seated people."""
        rng = self._rng
        textures.paint_pad(ground, corners, (185, 180, 170), stalls=0, angle=0.0)
        count = int(size[0] * size[1] / (90 * self.scale**2))
        low = corners.min(axis=0)
        for _ in range(count):
            category = sprites.PEDESTRIAN if rng.random() < 0.7 else sprites.PEOPLE
            sprite = sprites.render_sprite(category, scale=self.scale, rng=rng)
            position = low + rng.uniform(0.05, 0.95, 2) * size
            stamp_sprite(ground, sprite, position, rng.uniform(0, 2 * math.pi), 1.0)

    def _bake_parking(self, ground: np.ndarray, corners: np.ndarray, size: np.ndarray) -> None:
        """An asphalt lot with rows of stalls, nearly all taken by cars and vans."""
        rng = self._rng
        stall = 13.0 * self.scale
        textures.paint_pad(ground, corners, (95, 95, 98), stalls=stall, angle=0.0)
        low = corners.min(axis=0)
        rows = max(1, int(size[1] // (26 * self.scale)))
        for row in range(rows):
            y = low[1] + (row + 0.5) * size[1] / rows
            for x in np.arange(low[0] + stall / 2, low[0] + size[0] - stall / 2, stall):
                if rng.random() < 0.85:
                    category = sprites.CAR if rng.random() < 0.8 else sprites.VAN
                    sprite = sprites.render_sprite(category, scale=self.scale, rng=rng)
                    heading = (
                        math.pi / 2 + (math.pi if rng.random() < 0.5 else 0.0) + rng.normal(0, 0.05)
                    )
                    stamp_sprite(ground, sprite, np.array([x, y]), heading, 1.0)

    # ----------------------------------------------------------------------------- actors

    def _new_actor(
        self,
        category: int,
        position: np.ndarray,
        heading: float,
        speed: float,
        *,
        wander: tuple[float, float, float] = (0.0, 0.0, 0.0),
        lane: tuple[int, int, int, bool] | None = None,
        wait: int = 0,
    ) -> _Actor:
        """Add an actor with a fresh sprite (new colours, size jitter) and the next target id."""
        sprite = sprites.render_sprite(category, scale=self.scale, rng=self._rng)
        sprite = np.dstack([self._lit(sprite[..., :3]), sprite[..., 3]])
        x, y = (float(v) for v in position)
        actor = _Actor(
            next(self._ids),
            category,
            sprite,
            x,
            y,
            heading,
            speed,
            wander=wander,
            lane=lane,
            wait=wait,
        )
        self._actors.append(actor)
        return actor

    def _speed(self, category: int) -> float:
        """A random moving speed of ``category`` at this scene's altitude, pixels per frame."""
        return float(self._rng.uniform(*CLASS_SPECS[category].speed) * self.scale)

    def _lane(self, category: int) -> _LaneSlot:
        """A random lane of a random road for ``category``; slow vehicles keep to the kerb."""
        rng = self._rng
        index = int(rng.integers(len(self._roads)))
        road = self._roads[index]
        sign = 1 if rng.random() < 0.5 else -1
        if category in _SLOW_LANE or (category == sprites.MOTOR and rng.random() < 0.5):
            shift = 0.3 * road.lane_width * rng.uniform(0.3, 1.0)
            return _LaneSlot(index, sign, road.lanes - 1, shift, kerb=True)
        shift = rng.normal(0, 0.05) * road.lane_width
        return _LaneSlot(index, sign, int(rng.integers(road.lanes)), shift, kerb=False)

    def _drive(self, category: int, slot: _LaneSlot, along: float, *, wait: int = 0) -> None:
        """Put a vehicle in traffic ``along`` its lane, unless it would overlap a lane mate."""
        road = self._roads[slot.road]
        position = road.lane_point(along, sign=slot.sign, lane=slot.lane, shift=slot.shift)
        heading = road.angle + (0.0 if slot.sign > 0 else math.pi)
        actor = self._new_actor(
            category, position, heading, self._speed(category), lane=slot.key, wait=wait
        )
        gap = _FOLLOW_GAP * self.scale
        if any(
            other.lane == actor.lane
            and abs(other.along - actor.along) < other.half_length + actor.half_length + gap
            for other in self._actors[:-1]
        ):
            self._actors.pop()

    def _off_road_point(self, margin: float) -> np.ndarray:
        """A random point at least ``margin`` from the roads (the last candidate if none is)."""
        for _ in range(_PLACEMENT_TRIES):
            point = self._random_point()
            if self._road_clearance(point) > margin:
                break
        return point

    def _walker(self, category: int, position: np.ndarray, heading: float, speed: float) -> _Actor:
        """Add a walker whose heading wobbles slowly around ``heading``."""
        rng = self._rng
        wander = (rng.uniform(0, 0.6), rng.uniform(0.01, 0.05), rng.uniform(0, 2 * math.pi))
        return self._new_actor(category, position, heading, speed, wander=wander)

    def _place_vehicle(self, category: int) -> None:
        """In traffic on a lane (some stopped for a while), else parked beside the roads."""
        rng = self._rng
        if self._roads and rng.random() < 0.8:
            slot = self._lane(category)
            road = self._roads[slot.road]
            along = float((self._random_point() - road.origin) @ road.direction)
            stopped = rng.random() < _STOPPED_SHARE
            self._drive(
                category, slot, along, wait=int(rng.integers(*_STOP_FRAMES)) if stopped else 0
            )
        else:
            heading = self._grid + int(rng.integers(4)) * math.pi / 2 + rng.normal(0, 0.1)
            margin = CLASS_SPECS[category].length * self.scale / 2
            self._new_actor(category, self._off_road_point(margin), heading, 0.0)

    def _place_group(self, category: int) -> None:
        """A pedestrian group walking together, seated people or a parked cart; groups overlap."""
        rng = self._rng
        centre = self._random_point()
        heading = rng.uniform(0, 2 * math.pi)
        walking = category == sprites.PEDESTRIAN and rng.random() < 0.7
        speed = self._speed(category) if walking else 0.0
        members = 1 if category == sprites.OTHERS else int(rng.integers(1, 5))
        for _ in range(members):
            position = centre + rng.normal(0, 0.7 * CLASS_SPECS[category].width * self.scale, 2)
            if walking:
                self._walker(category, position, heading, speed)
            else:
                self._new_actor(category, position, rng.uniform(0, 2 * math.pi), 0.0)

    def _populate(self) -> None:
        """The actors present when the scene starts, spread over the whole world."""
        rng = self._rng
        density = rng.uniform(*self._config.object_density)
        count = int(rng.poisson(density * self._world_w * self._world_h / 1e6))
        for category in rng.choice(_CATEGORIES, size=count, p=_FREQUENCIES):
            if CLASS_SPECS[int(category)].vehicle:
                self._place_vehicle(int(category))
            else:
                self._place_group(int(category))

    def _view_box(self, t: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
        """World-pixel corners of the camera's view at frame ``t``, grown by ``margin``."""
        half = np.array(self._size) / 2 / self.zooms[t] + margin
        return self.centres[t] - half, self.centres[t] + half

    def _spawn_entering(self, t: int) -> None:
        """A moving actor that enters the view from just outside it: along a lane, or walking in."""
        rng = self._rng
        category = int(rng.choice(_MOVERS, p=_MOVER_FREQUENCIES))
        spec = CLASS_SPECS[category]
        margin = 0.6 * math.hypot(spec.length, spec.width) * self.scale + 2
        low, high = self._view_box(t, margin)
        if CLASS_SPECS[category].vehicle and self._roads:
            slot = self._lane(category)
            road = self._roads[slot.road]
            start = road.lane_point(0.0, sign=slot.sign, lane=slot.lane, shift=slot.shift)
            entry = _entry_distance(start, slot.sign * road.direction, low, high)
            if entry is not None:
                self._drive(category, slot, slot.sign * entry)
            return
        side = rng.uniform(0, 2 * (high - low).sum())
        position = _perimeter_point(low, high, side)
        towards = self.centres[t] - position
        heading = math.atan2(towards[1], towards[0]) + rng.normal(0, 0.4)
        if CLASS_SPECS[category].vehicle:
            self._new_actor(category, position, heading, self._speed(category))
        else:
            self._walker(category, position, heading, self._speed(category))

    def step(self, t: int) -> None:
        """Move every actor one frame, drop those far outside the world, spawn newcomers."""
        self._move_actors()
        if self._actors:
            positions = _positions(self._actors)
            limit = np.array([self._world_w, self._world_h]) + _DESPAWN_MARGIN
            inside = np.all((positions > -_DESPAWN_MARGIN) & (positions < limit), axis=1)
            self._actors = list(itertools.compress(self._actors, inside))
        rate = self._config.spawn_rate * self._size[0] * self._size[1] / 1e6
        for _ in range(int(self._rng.poisson(rate))):
            self._spawn_entering(min(t + 1, len(self.centres) - 1))

    def _move_actors(self) -> None:
        """Walkers and free vehicles move at their speed; traffic follows lane by lane.

        In each lane, vehicles are processed front to back and never close up to less than a
        small gap behind the one ahead, so a stopped vehicle builds a queue instead of being
        driven through.
        """
        queues: dict[tuple[int, int, int, bool], list[_Actor]] = {}
        for actor in self._actors:
            if actor.lane is not None:
                queues.setdefault(actor.lane, []).append(actor)
            elif actor.speed:
                actor.step(actor.speed)
        gap = _FOLLOW_GAP * self.scale
        for queue in queues.values():
            queue.sort(key=lambda a: -a.along)
            limit = math.inf
            for actor in queue:
                front = actor.along + actor.half_length
                distance = 0.0 if actor.wait else max(0.0, min(actor.speed, limit - front))
                actor.wait = max(0, actor.wait - 1)
                actor.step(distance)
                limit = front + distance - 2 * actor.half_length - gap

    # ----------------------------------------------------------------------------- rendering

    def render(self, t: int) -> tuple[np.ndarray, list[AnnotationRow]]:
        """Frame ``t`` of the scene as BGR ``uint8`` and its annotation rows."""
        width, height = self._size
        zoom = float(self.zooms[t])
        camera = camera_transform(self.centres[t], zoom, width, height)
        ground = cv2.warpAffine(
            self.ground, camera, self._size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        frame = cv2.cvtColor(ground, cv2.COLOR_BGRA2BGR)
        owner = np.full((height, width), -1, np.int32)
        stamps = self._stamp_actors(frame, owner, camera, zoom)
        self._draw_occluders(frame, owner, camera)
        rows = [row for stamp in stamps if (row := self._annotate(stamp, owner)) is not None]
        rows += self._ignored_rows(camera)
        return frame, rows

    def _stamp_actors(
        self, frame: np.ndarray, owner: np.ndarray, camera: np.ndarray, zoom: float
    ) -> list[_Stamp]:
        """Draw the actors that may touch the frame, lowest layer first."""
        if not self._actors:
            return []
        height, width = frame.shape[:2]
        projected = _positions(self._actors) @ camera[:, :2].T + camera[:, 2]
        reach = np.array([a.radius for a in self._actors]) * zoom + 2
        near = np.all(
            (projected > -reach[:, None])
            & (projected < np.array([width, height]) + reach[:, None]),
            axis=1,
        )
        visible = [
            (CLASS_SPECS[actor.category].layer, actor.target_id, actor, point)
            for actor, point, keep in zip(self._actors, projected, near, strict=True)
            if keep
        ]
        visible.sort(key=lambda item: item[:2])
        stamps = []
        for index, (_, _, actor, position) in enumerate(visible):
            drawn = stamp_sprite(
                frame, actor.sprite, position, actor.heading, zoom, owner=owner, index=index
            )
            if drawn is not None:
                stamps.append(_Stamp(actor, index, *drawn))
        return stamps

    def _draw_occluders(self, frame: np.ndarray, owner: np.ndarray, camera: np.ndarray) -> None:
        """Composite the trees and roofs in view over everything and release the pixels they cover."""
        layer = cv2.warpAffine(self.occluders, camera, self._size, flags=cv2.INTER_LINEAR)
        alpha = cv2.extractChannel(layer, 3)
        x, y, w, h = cv2.boundingRect(alpha)
        if w == 0:
            return
        window = (slice(y, y + h), slice(x, x + w))
        composite(frame[window], layer[window])
        owner[window][alpha[window] >= _MASK_THRESHOLD] = -1

    def _annotate(self, stamp: _Stamp, owner: np.ndarray) -> AnnotationRow | None:
        """The VisDrone row of a drawn actor, or None when it is not to be annotated."""
        if stamp.inside_area == 0:
            return None
        truncated = 1.0 - stamp.inside_area / stamp.full_area
        x0, y0, x1, y1 = stamp.region
        visible = int(np.count_nonzero(owner[y0:y1, x0:x1] == stamp.index))
        occluded = 1.0 - visible / stamp.inside_area
        if truncated > _MAX_TRUNCATION or occluded > _MAX_OCCLUSION:
            return None
        left, top, width, height = cv2.boundingRect(stamp.mask)
        return (
            stamp.actor.target_id,
            x0 + left,
            y0 + top,
            width,
            height,
            1,
            stamp.actor.category,
            _level(truncated),
            _level(occluded),
        )

    def _ignored_rows(self, camera: np.ndarray) -> list[AnnotationRow]:
        """Category-0 rows of the ignored regions that overlap the frame."""
        width, height = self._size
        rows = []
        for region in self._ignored:
            x0, y0, x1, y1 = region.box
            (fx0, fy0), (fx1, fy1) = (
                camera[:, :2] @ (x, y) + camera[:, 2] for x, y in ((x0, y0), (x1, y1))
            )
            left, top = max(0, math.floor(fx0)), max(0, math.floor(fy0))
            right, bottom = min(width, math.ceil(fx1)), min(height, math.ceil(fy1))
            if right - left >= 1 and bottom - top >= 1:
                rows.append((region.target_id, left, top, right - left, bottom - top, 0, 0, 0, 0))
        return rows


def _positions(actors: list[_Actor]) -> np.ndarray:
    """World positions of ``actors`` as an (N, 2) array."""
    return np.array([(a.x, a.y) for a in actors], np.float64).reshape(-1, 2)


def _box_gap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Largest axis gap between two ``x0, y0, x1, y1`` boxes; not positive when they overlap."""
    return max(b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3])


def _entry_distance(
    start: np.ndarray, direction: np.ndarray, low: np.ndarray, high: np.ndarray
) -> float | None:
    """Distance along ``direction`` from ``start`` at which a line enters a box (slab test)."""
    enter, leave = -math.inf, math.inf
    for axis in range(2):
        if abs(direction[axis]) < 1e-9:
            if not low[axis] <= start[axis] <= high[axis]:
                return None
            continue
        a = (low[axis] - start[axis]) / direction[axis]
        b = (high[axis] - start[axis]) / direction[axis]
        enter, leave = max(enter, min(a, b)), min(leave, max(a, b))
    return enter if enter < leave else None


def _perimeter_point(low: np.ndarray, high: np.ndarray, distance: float) -> np.ndarray:
    """The point ``distance`` along the perimeter of a box, clockwise from its top-left corner."""
    w, h = high - low
    for start, edge, length in (
        (low, np.array([1.0, 0.0]), w),
        (np.array([high[0], low[1]]), np.array([0.0, 1.0]), h),
        (high, np.array([-1.0, 0.0]), w),
        (np.array([low[0], high[1]]), np.array([0.0, -1.0]), h),
    ):
        if distance <= length:
            return start + distance * edge
        distance -= length
    return low.copy()
