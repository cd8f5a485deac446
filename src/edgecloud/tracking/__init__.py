"""Box trackers that move displayed objects between detections, and REACT's scene-change
signal (mean optical-flow magnitude per frame)."""

from edgecloud.tracking.base import BoxTracker
from edgecloud.tracking.motion import ConstantVelocityTracker
from edgecloud.tracking.opencv import OpenCVTracker
from edgecloud.tracking.optical_flow import LucasKanadeTracker
from edgecloud.tracking.scene_motion import cached_frame_motion, frame_motion

__all__ = [
    "BoxTracker",
    "ConstantVelocityTracker",
    "LucasKanadeTracker",
    "OpenCVTracker",
    "cached_frame_motion",
    "frame_motion",
]
