"""The knobs of a REACT edge device, checked once before a simulation starts."""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgecloud.fusion.react import UnmatchedPolicy


@dataclass(frozen=True, kw_only=True)
class ReactPolicy:
    """REACT's parameters (paper §3) plus the choices the paper leaves open.

    - ``edge_every`` (k) / ``cloud_every`` (m): run the edge detector on a processed frame when
      at least k frames passed since its last run; send a captured frame to the cloud when at
      least m frames passed since the last one sent. ``None`` switches that detector off (the
      edge-only and cloud-only baselines).
    - ``motion_threshold``: the change detector. Both detectors are suppressed on frames whose
      optical-flow magnitude (pixels per frame) is below it; 0 never suppresses.
    - ``detection_threshold``: detections below this score never enter the object list.
    - ``decay`` (δ) and ``drop_threshold``: each tracked frame multiplies every object's score by
      δ; objects below the threshold are discarded (paper: 0.5).
    - ``iou_threshold`` and ``unmatched_current``: Algorithm 1's match threshold and what
      happens to unmatched current objects of the other source (see edgecloud.fusion.react).
    - ``fast_track_stride``: frames the fast-track tracker advances per step (paper: 2).
    - ``tracking``: whether the displayed objects are tracked between detections; without it
      they stay where they were detected (the ef-edge-det baseline).
    - ``display_deadline_frames``: frame i is scored against what the screen shows at
      ``capture_i + display_deadline_frames / fps``, i.e. by default when the next frame is due.
    """

    edge_every: int | None
    cloud_every: int | None
    detection_threshold: float
    drop_threshold: float
    decay: float
    iou_threshold: float
    unmatched_current: UnmatchedPolicy
    fast_track_stride: int
    motion_threshold: float
    tracking: bool
    display_deadline_frames: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "unmatched_current", UnmatchedPolicy(self.unmatched_current))
        for name in ("edge_every", "cloud_every"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(
                    f"policy.{name} must be a positive whole number of frames or null (off), "
                    f"got {value!r}"
                )
        if self.edge_every is None and self.cloud_every is None:
            raise ValueError(
                "policy.edge_every and policy.cloud_every are both off: nothing detects"
            )
        if not isinstance(self.fast_track_stride, int) or self.fast_track_stride < 1:
            raise ValueError(
                f"policy.fast_track_stride must be a positive whole number, got {self.fast_track_stride!r}"
            )
        for name in ("detection_threshold", "drop_threshold", "decay", "iou_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"policy.{name} must lie in [0, 1], got {value!r}")
        if self.iou_threshold == 0.0:
            raise ValueError("policy.iou_threshold must be above 0")
        if not (math.isfinite(self.motion_threshold) and self.motion_threshold >= 0.0):
            raise ValueError(f"policy.motion_threshold must be >= 0, got {self.motion_threshold!r}")
        if not (math.isfinite(self.display_deadline_frames) and self.display_deadline_frames >= 0):
            raise ValueError(
                "policy.display_deadline_frames must be a non-negative number, "
                f"got {self.display_deadline_frames!r}"
            )

    @property
    def uses_motion(self) -> bool:
        return self.motion_threshold > 0.0
