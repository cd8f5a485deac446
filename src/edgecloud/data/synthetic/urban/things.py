"""Things in the street: what the renderer asks of every object (its shape at frame ``t`` and
the depth it is sorted and culled by), with the two simplest kinds, still and moving rigidly.
People and vehicles add their own (walking poses, faces that show from the camera)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from edgecloud.data.synthetic.urban.geometry import Camera, Shape


class Thing(ABC):
    """Something in the street: its shape at frame ``t``, the depth it is sorted by (its
    nearest z) and how far it reaches beyond that, for culling what is behind the camera."""

    extent: float

    @abstractmethod
    def key(self, t: int) -> float:
        """The depth (nearest z) the renderer sorts and culls this thing by at frame ``t``."""

    @abstractmethod
    def shape(self, t: int, camera: Camera) -> tuple[Shape, np.ndarray | None]:
        """The thing's shape at frame ``t`` seen from ``camera``, and the offset (x, y, z
        metres) it is moved by (``None``: where it was built)."""


class Static(Thing):
    """A thing that never moves: its shape is built once."""

    def __init__(self, z: float, shape: Shape) -> None:
        self.z = z
        self.fixed = shape
        points = shape.points()
        self.extent = float(points[:, 2].max()) - z if len(points) else 0.0

    def key(self, t: int) -> float:
        return self.z

    def shape(self, t: int, camera: Camera) -> tuple[Shape, np.ndarray | None]:
        return self.fixed, None


class Moving(Thing):
    """A rigid thing translating at a constant velocity (metres per frame along x and z)."""

    def __init__(self, z: float, shape: Shape, vx: float, vz: float) -> None:
        self.z = z
        self._shape = shape
        self.velocity = np.array([vx, 0.0, vz])
        self.extent = float(shape.points()[:, 2].max()) - z

    def key(self, t: int) -> float:
        return self.z + self.velocity[2] * t

    def shape(self, t: int, camera: Camera) -> tuple[Shape, np.ndarray | None]:
        return self._shape, self.velocity * t
