"""REACT's change detector signal: how much each frame moved since the previous one.

The mean dense (Farneback) optical-flow magnitude between consecutive frames, measured on small
grayscale copies for speed and reported in pixels per frame of the original resolution. It
depends only on the video, so :func:`cached_frame_motion` computes it once per video and
parameters and stores it next to other caches.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from edgecloud.data.frames import FrameSource, ImageFolderFrames

# Farneback parameters (cv2.calcOpticalFlowFarneback), OpenCV's documented example values: a
# 3-level pyramid halving each level, a 15 px averaging window, 3 iterations per level, and a
# 5-pixel polynomial neighbourhood with Gaussian sigma 1.2. At 160 px wide the pyramid follows
# displacements of roughly 15-20 px (60 px of a 640 px frame) per frame.
FARNEBACK_PYR_SCALE = 0.5
FARNEBACK_LEVELS = 3
FARNEBACK_WINSIZE = 15
FARNEBACK_ITERATIONS = 3
FARNEBACK_POLY_N = 5
FARNEBACK_POLY_SIGMA = 1.2
# Bump when the computation changes, so caches written by older code are not reused.
MOTION_VERSION = 1


def frame_motion(frames: FrameSource, *, width: int = 160) -> np.ndarray:
    """Mean optical-flow magnitude from frame ``i - 1`` to frame ``i``, float64 ``(F,)``, in
    original-frame pixels per frame.

    Frames are converted to grayscale and resized to ``width`` px wide (height keeping the aspect
    ratio); the flow measured there is scaled back per axis. Element 0 is ``+inf``: the first
    frame has no predecessor, so a change detector always fires on it.
    """
    if width < 8:
        raise ValueError(f"width must be at least 8 px, got {width}")
    motion = np.full(len(frames), np.inf)
    previous = None
    for index in range(len(frames)):
        image = frames.read(index)
        height_px, width_px = image.shape[:2]
        small_size = (width, max(1, round(height_px * width / width_px)))
        gray = cv2.resize(
            cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), small_size, interpolation=cv2.INTER_AREA
        )
        if previous is not None:
            flow = cv2.calcOpticalFlowFarneback(
                previous,
                gray,
                None,
                FARNEBACK_PYR_SCALE,
                FARNEBACK_LEVELS,
                FARNEBACK_WINSIZE,
                FARNEBACK_ITERATIONS,
                FARNEBACK_POLY_N,
                FARNEBACK_POLY_SIGMA,
                0,
            )
            scale = np.array([width_px / small_size[0], height_px / small_size[1]])
            motion[index] = float(np.linalg.norm(flow * scale, axis=2).mean())
        previous = gray
    return motion


def cached_frame_motion(frames: FrameSource, *, cache_dir: Path, width: int = 160) -> np.ndarray:
    """:func:`frame_motion`, read from ``cache_dir`` when computed before.

    The cache file is named by a hash of the frame files' names and sizes (an image folder's
    frame files; other sources by their ``location`` file), the number of frames, ``width`` and
    :data:`MOTION_VERSION`, so replacing frames or changing parameters recomputes. The file is
    written atomically (temporary file, then rename), so concurrent runs never read a partial one.
    """
    cache_dir = Path(cache_dir)
    path = cache_dir / f"frame_motion_{_cache_key(frames, width=width)}.npy"
    if path.is_file():
        return np.load(path)
    motion = frame_motion(frames, width=width)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache_dir, suffix=".tmp", delete=False) as file:
        np.save(file, motion)
    os.replace(file.name, path)
    return motion


def _cache_key(frames: FrameSource, *, width: int) -> str:
    files = frames.paths if isinstance(frames, ImageFolderFrames) else [frames.location]
    identity = {
        "files": [[Path(f).name, Path(f).stat().st_size] for f in files],
        "num_frames": len(frames),
        "width": width,
        "version": MOTION_VERSION,
    }
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]
