"""Writing a world: one job per clip with its own seed (a city's clips share a style seed),
each rendered and written in the Cityscapes layout, in-process or by a pool of worker
processes, then ``world.json`` with every clip's layout and pixel counts. The bytes do not
depend on the number of workers."""

from __future__ import annotations

import json
import multiprocessing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgecloud.data.formats.cityscapes import write_cityscapes_frame
from edgecloud.data.formats.cityscapes_labels import CITYSCAPES_CLASS_NAMES, IGNORE_INDEX
from edgecloud.data.synthetic.storage import WORLD_FILE, config_json
from edgecloud.data.synthetic.urban.appearance import city_style
from edgecloud.data.synthetic.urban.classes import CLASS_IDS, SMALL_CLASS_NAMES
from edgecloud.data.synthetic.urban.config import FORMAT_VERSION, UrbanWorldConfig, city_names
from edgecloud.data.synthetic.urban.render import clip_look, render_frame
from edgecloud.data.synthetic.urban.scene import build_scene

SPLITS = ("train", "val")


@dataclass(frozen=True)
class _Job:
    """One clip to render into ``directory``."""

    config: UrbanWorldConfig
    split: str
    city: str
    sequence: int
    style_seed: np.random.SeedSequence
    seed: np.random.SeedSequence
    directory: Path


def _jobs(config: UrbanWorldConfig, directory: Path) -> list[_Job]:
    """One job per clip, each with its own seed; a city's clips share its style seed."""
    jobs = []
    counts = {"train": config.num_train_clips, "val": config.num_val_clips}
    for split, split_seed in zip(SPLITS, np.random.SeedSequence(config.seed).spawn(2), strict=True):
        style_root, clip_root = split_seed.spawn(2)
        cities = city_names(config, split)
        styles = style_root.spawn(len(cities))
        for index, clip_seed in enumerate(clip_root.spawn(counts[split])):
            city = index % len(cities)
            jobs.append(
                _Job(
                    config,
                    split,
                    cities[city],
                    index // len(cities),
                    styles[city],
                    clip_seed,
                    directory,
                )
            )
    return jobs


def _render_clip(job: _Job) -> dict[str, Any]:
    """Render and write one clip; return its entry for ``world.json``."""
    config = job.config
    style = city_style(np.random.default_rng(job.style_seed))
    scene_seed, look_seed, noise_seed = job.seed.spawn(3)
    scene = build_scene(config, style, np.random.default_rng(scene_seed))
    look = clip_look(config, scene, np.random.default_rng(look_seed))
    noise_rng = np.random.default_rng(noise_seed)
    counts = np.zeros(256, np.int64)
    small_fraction = []
    small = np.zeros(256, bool)
    small[[CLASS_IDS[name] for name in SMALL_CLASS_NAMES]] = True
    for t in range(config.frames_per_clip):
        image, train_ids = render_frame(config, scene, t, look, noise_rng)
        write_cityscapes_frame(
            job.directory,
            split=job.split,
            city=job.city,
            sequence=job.sequence,
            frame=t,
            image_rgb=image,
            train_ids=train_ids,
        )
        frame_counts = np.bincount(train_ids.ravel(), minlength=256)
        counts += frame_counts
        small_fraction.append(round(float(frame_counts[small].sum() / train_ids.size), 5))
    street = scene.street
    return {
        "city": job.city,
        "sequence": job.sequence,
        "num_frames": config.frames_per_clip,
        "speed": round(street.speed, 4),
        "lanes": street.lanes,
        "stretches": [
            [round(s.z0, 2), round(s.z1, 2), "busy" if s.busy else "quiet"]
            for s in street.stretches
        ],
        "junctions": [[round(j.z0, 2), round(j.z1, 2)] for j in street.junctions],
        "small_fraction": small_fraction,
        "pixels": {name: int(counts[i]) for i, name in enumerate(CITYSCAPES_CLASS_NAMES)}
        | {"ignored": int(counts[IGNORE_INDEX])},
    }


def _single_threaded_cv2() -> None:
    """Pool initializer: one cv2 thread per worker process, the pool provides the parallelism."""
    cv2.setNumThreads(1)


def _render_all(jobs: list[_Job], workers: int) -> list[dict[str, Any]]:
    """Run the jobs in-process (one worker) or in a spawn-context process pool, in job order."""
    if workers <= 1 or len(jobs) <= 1:
        return [_render_clip(job) for job in jobs]
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(workers, len(jobs)), initializer=_single_threaded_cv2) as pool:
        return pool.map(_render_clip, jobs, chunksize=1)


def write_world(config: UrbanWorldConfig, directory: Path, workers: int) -> None:
    """Write both splits and ``world.json`` (last) into ``directory``."""
    for tree in ("leftImg8bit", "gtFine"):
        for split in SPLITS:
            (directory / tree / split).mkdir(parents=True)
    jobs = _jobs(config, directory)
    entries = _render_all(jobs, workers)
    world = {
        "format": "Cityscapes",
        "format_version": FORMAT_VERSION,
        "generator": "edgecloud.data.synthetic.urban_world",
        "config": config_json(config),
        "clips": {
            split: [entry for job, entry in zip(jobs, entries, strict=True) if job.split == split]
            for split in SPLITS
        },
    }
    (directory / WORLD_FILE).write_text(json.dumps(world, indent=1) + "\n")
