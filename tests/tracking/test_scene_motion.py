"""frame_motion on videos of known global motion, and its on-disk cache."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from edgecloud.tracking import cached_frame_motion, frame_motion, scene_motion
from tests.tracking.scenes import ListFrames, MovingObject, panning, render, write_frames


def test_static_video_has_no_motion_after_the_first_frame() -> None:
    frames = panning(num_frames=5, shift=(0, 0))
    motion = frame_motion(ListFrames(frames))
    assert motion.dtype == np.float64 and motion.shape == (5,)
    assert motion[0] == math.inf
    assert np.all(motion[1:] < 0.05)


@pytest.mark.parametrize("shift", [(3, 0), (0, 4), (-5, 2), (8, -6)])
def test_panning_camera_moves_by_its_shift_in_original_pixels(shift: tuple[int, int]) -> None:
    motion = frame_motion(ListFrames(panning(num_frames=5, shift=shift)))
    np.testing.assert_allclose(motion[1:], math.hypot(*shift), rtol=0.15)


def test_small_moving_object_moves_the_scene_a_little() -> None:
    frames, _ = render([MovingObject((40, 50, 90, 90), (3, 1))], num_frames=4)
    motion = frame_motion(ListFrames(frames))
    assert np.all((motion[1:] > 0.02) & (motion[1:] < 0.5))


def test_reruns_are_identical() -> None:
    frames = ListFrames(panning(num_frames=4, shift=(3, 2)))
    np.testing.assert_array_equal(frame_motion(frames), frame_motion(frames))


def test_cache_hit_skips_computation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = write_frames(tmp_path / "frames", panning(num_frames=4, shift=(3, 0)))
    cache = tmp_path / "cache"
    computed = cached_frame_motion(frames, cache_dir=cache)
    np.testing.assert_array_equal(computed, frame_motion(frames))
    assert [p.suffix for p in cache.iterdir()] == [".npy"]  # no temporary file left behind

    def no_recompute(*args, **kwargs):
        raise AssertionError("cache miss")

    monkeypatch.setattr(scene_motion, "frame_motion", no_recompute)
    np.testing.assert_array_equal(cached_frame_motion(frames, cache_dir=cache), computed)


def test_cache_key_follows_width_and_frame_files(tmp_path: Path) -> None:
    frames = write_frames(tmp_path / "frames", panning(num_frames=3, shift=(2, 0)))
    cache = tmp_path / "cache"
    cached_frame_motion(frames, cache_dir=cache)
    cached_frame_motion(frames, cache_dir=cache, width=80)
    assert len(list(cache.iterdir())) == 2
    cached_frame_motion(frames, cache_dir=cache)
    assert len(list(cache.iterdir())) == 2
    other = write_frames(tmp_path / "other", panning(num_frames=3, shift=(2, 0), seed=1))
    cached_frame_motion(other, cache_dir=cache)
    assert len(list(cache.iterdir())) == 3
