"""Rendering frames: what a clip's frames share (sky, the ego vehicle's bonnet, texture
shading) and frame ``t``: the camera at its position, the scene rasterised far to near, then
the camera effects (shading, exposure, tint, blur, sensor noise) on the image alone."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgecloud.data.synthetic.urban.appearance import CityStyle
from edgecloud.data.synthetic.urban.classes import EGO
from edgecloud.data.synthetic.urban.config import UrbanWorldConfig
from edgecloud.data.synthetic.urban.geometry import FAR, FOCAL, HORIZON, NEAR, Camera
from edgecloud.data.synthetic.urban.raster import Raster
from edgecloud.data.synthetic.urban.shading import Shader, paint_sky, random_textures
from edgecloud.data.synthetic.urban.street import Scene, Street


@dataclass(frozen=True)
class Look:
    """What a clip's frames share besides the scene: the sky, the bonnet along the bottom
    edge (its polygon and the sky's reflection on it) and the texture shading."""

    sky: np.ndarray
    hood: np.ndarray
    gloss: np.ndarray
    shader: Shader


def clip_look(config: UrbanWorldConfig, scene: Scene, rng: np.random.Generator) -> Look:
    """The sky, bonnet and texture shading of a clip of ``scene``, drawn from ``rng``."""
    width, height, style = config.width, config.height, scene.style
    xs = np.linspace(0, width, 25)
    top = height * (1 - style.hood) + height * 0.035 * ((xs - width / 2) / (width / 2)) ** 2
    polygon = np.concatenate([np.stack([xs, top], 1), [[width, height + 1], [0, height + 1]]])
    hood = np.round(polygon * 8).astype(np.int32)
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [hood], 1, cv2.LINE_8, 3)
    edge = np.interp(np.arange(width), xs, top)[None, :]
    rows = np.arange(height, dtype=np.float32)[:, None]
    gloss = 40.0 * np.clip(1.0 - (rows - edge) / (height * style.hood + 1), 0, 1) * mask
    sky = paint_sky(width, height, style, rng)
    street = scene.street
    shader = Shader(
        random_textures(rng),
        _camera(config, street, style, 0),
        (street.facade(0), street.facade(1)),
        (height, width),
    )
    return Look(sky, hood, gloss.astype(np.float32)[..., None], shader)


def _camera(config: UrbanWorldConfig, street: Street, style: CityStyle, t: int) -> Camera:
    return Camera(
        x=street.camera_x,
        z=street.speed * t,
        height=style.camera_height,
        focal=FOCAL * config.width,
        cx=config.width / 2,
        cy=HORIZON * config.height,
    )


def render_frame(
    config: UrbanWorldConfig, scene: Scene, t: int, look: Look, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``t`` of a clip: RGB uint8 image and uint8 train ids."""
    street, style = scene.street, scene.style
    camera = _camera(config, street, style, t)
    raster = Raster(camera, look.sky)
    raster.draw(scene.skyline, np.array([camera.x, 0.0, camera.z]))
    raster.draw(scene.ground)
    for layer in (scene.roadside, scene.things):
        visible = []
        for thing in layer:
            key = thing.key(t) - camera.z
            if key < FAR and key + thing.extent > NEAR:
                visible.append((key, thing))
        visible.sort(key=lambda item: -item[0])
        for _, thing in visible:
            shape, offset = thing.shape(t, camera)
            raster.draw(shape, offset)
    cv2.fillPoly(raster.image, [look.hood], style.hood_colour, cv2.LINE_8, 3)
    cv2.fillPoly(raster.label, [look.hood], EGO, cv2.LINE_8, 3)
    factor = look.shader.factor(raster.label, camera.z) * np.float32(style.exposure)
    image = raster.image.astype(np.float32) * factor[..., None]
    image += look.gloss
    image *= np.asarray(style.tint, np.float32)
    if config.blur > 0:
        image = cv2.GaussianBlur(image, (0, 0), config.blur)
    if config.noise > 0:
        image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(config.noise)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), raster.label
