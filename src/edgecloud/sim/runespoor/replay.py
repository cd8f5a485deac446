"""The camera stream a Runespoor simulation replays: clips of a knob recording, end to end.

The recording's clips are short (the synthetic world's are 30 frames, 1.8 s at 17 fps), so
the stream plays the replay clips in order and starts over until it lasts ``duration_s``;
frame ``n`` of the stream is captured at ``n / fps`` and carries every configuration's
recorded bytes, segmentation overlap, small-region ratio and latencies of its source frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgecloud.data.degradation import Knobs
from edgecloud.recording.knobs import KnobRecording

# the per-(configuration, frame) arrays and the per-frame HR arrays a stream carries
KNOB_FRAME_ARRAYS = (
    "frame_bytes",
    "intersection",
    "union",
    "frame_miou",
    "small_ratio",
    "restore_latency_s",
    "segment_latency_s",
)
HR_FRAME_ARRAYS = ("hr_intersection", "hr_union", "hr_frame_miou")


@dataclass(frozen=True)
class FrameStream:
    """``num_frames`` frames at ``fps``: ``arrays[key]`` is ``(K, N, ...)`` for the knob
    arrays and ``(N, ...)`` for the HR ones; ``source`` names each frame's clip and index."""

    knobs: tuple[Knobs, ...]
    fps: float
    arrays: dict[str, np.ndarray]
    source: tuple[tuple[str, int], ...]

    @property
    def num_frames(self) -> int:
        return len(self.source)

    def capture_time(self, frame: int) -> float:
        return frame / self.fps


def frame_stream(
    recording: KnobRecording,
    *,
    clip_names: Sequence[str],
    duration_s: float | None = None,
) -> FrameStream:
    """``clip_names`` played in order, repeated to last ``duration_s`` (``None``: once).
    The clips must share one frame rate."""
    if not clip_names:
        raise ValueError("no clips to replay")
    clips = [recording.clip(name) for name in clip_names]
    rates = {clip.fps for clip in clips}
    if len(rates) != 1:
        raise ValueError(f"replay clips have different frame rates {sorted(rates)}")
    fps = rates.pop()
    per_pass = sum(clip.num_frames for clip in clips)
    if duration_s is None:
        num_frames = per_pass
    elif not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be positive, got {duration_s!r}")
    else:
        num_frames = math.ceil(duration_s * fps - 1e-9)
    order = np.arange(num_frames) % per_pass
    arrays = {}
    for key in KNOB_FRAME_ARRAYS:
        arrays[key] = np.concatenate([clip.arrays[key] for clip in clips], axis=1)[:, order]
    for key in HR_FRAME_ARRAYS:
        arrays[key] = np.concatenate([clip.arrays[key] for clip in clips], axis=0)[order]
    sources = [(clip.name, f) for clip in clips for f in range(clip.num_frames)]
    return FrameStream(
        knobs=recording.knobs,
        fps=fps,
        arrays=arrays,
        source=tuple(sources[i] for i in order),
    )
