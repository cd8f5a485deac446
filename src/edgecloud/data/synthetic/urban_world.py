"""A seeded synthetic road-driving dataset written in the Cityscapes (gtFine) layout.

The urban world is the embedded default for semantic segmentation on degraded video: cheap to
make, identical on every machine for a given config, and built so that downscaling hurts the
way it does on Cityscapes (Runespoor, §II). Every clip is a short video from a camera on a car
driving forward through a street drawn in perspective, labelled with the 19 Cityscapes train
classes:

* large, stable regions that survive downscaling: road (asphalt texture, lane markings,
  zebra crossings), sidewalk (paving slabs, kerbs), building facades (window grids, brick
  or plaster, roofs), sky (gradient and clouds), vegetation (tree lines, hedges, tree
  crowns), terrain (grass), walls and fences, cars, and a few trucks and buses;
* small, detailed classes that blur away at x4..x8: poles (street lights and sign posts,
  about 2..6 px wide at 384x192), traffic lights (housings of about 3x9 px at 30 m),
  traffic signs (plates of about 6..15 px), persons, riders on bicycles and motorcycles,
  parked bicycles and motorcycles (thin wheels and frames).

``train`` never appears (train id 16 is empty), nor do the classes Cityscapes ignores,
except the ego vehicle's hood along the bottom edge, which is written as label id 0
(``unlabeled``) and so reads back as train id 255.

The street alternates busy stretches (terraced houses, many pedestrians, sign posts, parked
bicycles, junctions with traffic lights, waiting crowds and crossing riders) with quiet ones
(grass, hedges, fences, walls, tree lines, few people), and each clip is laid out so that a
change of stretch happens while it is filmed: some frames are "tail frames" with many small
regions, others have few. Consecutive frames are a video (the camera advances 0.4..1.2 m per
frame, about 25..75 km/h at Cityscapes' 17 fps; people walk, traffic drives), so labels of
neighbouring frames mostly agree.

Labels are rasterised exactly: every polygon and line is drawn into the image and the label
map with the same integer geometry and no anti-aliasing; the image alone then gets camera
effects (texture shading of the surface it belongs to, a slight blur, sensor noise).

On disk, ``root`` holds::

    world.json                                   config, format version, every clip's layout
    leftImg8bit/{train,val}/<city>/<city>_<seq>_<frame>_leftImg8bit.png     lossless RGB
    gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png     label ids

A clip is one ``(city, sequence)`` with frames ``0 .. frames_per_clip - 1``; clips of a split
are spread round-robin over its cities, and train and val cities are distinct (like
Cityscapes). Same config, same bytes: every clip draws from its own child of
``np.random.SeedSequence(seed)`` and every city's look from another, so the output does not
depend on the number of worker processes or on how many clips are generated.

The rendering lives in :mod:`edgecloud.data.synthetic.urban` (one module per job: geometry
and rasterising, shading, people, vehicles, street furniture, buildings, the street's plan
and population, frames, clips); this module is the public entry point.

Command line::

    python -m edgecloud.data.synthetic.urban_world --root data/urban_world [--seed 0 ...]
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgecloud.data.synthetic import storage
from edgecloud.data.synthetic.storage import WORLD_FILE, read_world
from edgecloud.data.synthetic.urban.classes import LARGE_CLASS_NAMES, SMALL_CLASS_NAMES
from edgecloud.data.synthetic.urban.clips import write_world
from edgecloud.data.synthetic.urban.config import (
    FORMAT_VERSION,
    TRAIN_CITY_NAMES,
    VAL_CITY_NAMES,
    UrbanWorldConfig,
    city_names,
)

__all__ = [
    "FORMAT_VERSION",
    "LARGE_CLASS_NAMES",
    "SMALL_CLASS_NAMES",
    "TRAIN_CITY_NAMES",
    "VAL_CITY_NAMES",
    "UrbanWorldConfig",
    "city_names",
    "class_fractions",
    "ensure_urban_world",
    "generate_urban_world",
    "is_current",
    "main",
]


def generate_urban_world(
    config: UrbanWorldConfig, root: str | Path, *, workers: int | None = None
) -> Path:
    """Render the dataset for ``config`` at ``root`` (replacing it) and return ``root``.

    Rendering goes to a temporary sibling directory that is renamed into place when complete,
    so an interrupted run never leaves a partial dataset behind. ``workers`` processes render
    clips in parallel (default: one per CPU); the bytes written do not depend on it. Workers
    are started with the ``spawn`` method (safe under threaded parents such as PyTorch), so a
    calling script needs the usual ``if __name__ == "__main__":`` guard.
    """
    return storage.generate_into(
        root, lambda staging: write_world(config, staging, workers or os.cpu_count() or 1)
    )


def is_current(config: UrbanWorldConfig, root: str | Path) -> bool:
    """Whether ``root`` holds a complete dataset generated from exactly ``config``."""
    return storage.is_current(root, config=config, format_version=FORMAT_VERSION)


def ensure_urban_world(
    config: UrbanWorldConfig, root: str | Path, *, workers: int | None = None
) -> Path:
    """Return ``root`` at once if it already holds ``config``'s dataset, else (re)generate it."""
    return storage.ensure(
        root,
        config=config,
        format_version=FORMAT_VERSION,
        generate=lambda: generate_urban_world(config, root, workers=workers),
    )


def class_fractions(world: dict[str, Any], split: str | None = None) -> dict[str, float]:
    """Each class's share of the pixels of a generated world (``world.json`` parsed), over
    one split or both; ``ignored`` is the ego vehicle's bonnet."""
    totals: dict[str, int] = {}
    for name, entries in world["clips"].items():
        if split is not None and name != split:
            continue
        for entry in entries:
            for cls, count in entry["pixels"].items():
                totals[cls] = totals.get(cls, 0) + count
    total = sum(totals.values()) or 1
    return {cls: count / total for cls, count in totals.items()}


def main(argv: Sequence[str] | None = None) -> None:
    """Generate (or confirm) an urban world and print what is on disk and how long it took."""
    args = storage.config_parser(
        UrbanWorldConfig,
        prog="python -m edgecloud.data.synthetic.urban_world",
        description="Generate the synthetic urban world in Cityscapes (gtFine) layout.",
    ).parse_args(argv)
    config = storage.config_from_args(UrbanWorldConfig, args)
    started = time.perf_counter()
    if args.force:
        generate_urban_world(config, args.root, workers=args.workers)
    else:
        ensure_urban_world(config, args.root, workers=args.workers)
    elapsed = time.perf_counter() - started
    world = read_world(args.root) or {}
    for split, entries in world.get("clips", {}).items():
        frames = sum(e["num_frames"] for e in entries)
        junctions = sum(len(e["junctions"]) for e in entries)
        print(
            f"{args.root / 'leftImg8bit' / split}: {len(entries)} clips, {frames} frames, {junctions} junctions"
        )
    if world:
        fractions = class_fractions(world)
        print(
            "pixels: "
            + ", ".join(f"{name} {100 * share:.2f}%" for name, share in fractions.items())
        )
    print(f"{args.root / WORLD_FILE} ready in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
