"""Runespoor's content-aware adaptive controller (CAC) as the edge runs it.

The edge encodes every frame with the configuration the controller gives it. The server's
response to a frame carries its tail-frame signal (the small-region ratio of the inference
output below the fitted threshold); the controller then sends the *subsequent* frames with the
tail configuration of the current bandwidth's policy, and returns to the standard
configuration as soon as a response says the scene is ordinary again. The bandwidth estimate
picks the policy, as in AWStream. Deciding is a table lookup: no model runs at the edge.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgecloud.control.profiling import KnobProfile, Policy, choose_policy
from edgecloud.data.degradation import Knobs


class TailAwareController:
    """Chooses each frame's knobs from the bandwidth estimate and the latest tail signal.

    Args:
        profiles: the offline profiles of every configuration.
        fps: the camera's frame rate (the bytes-per-frame budget is bandwidth / 8 / fps).
        tail_aware: False gives the AWStream-style controller that only follows bandwidth.
    """

    def __init__(self, profiles: Sequence[KnobProfile], *, fps: float, tail_aware: bool = True):
        if not profiles:
            raise ValueError("the controller needs profiled configurations")
        self.profiles = list(profiles)
        self.fps = fps
        self.tail_aware = tail_aware
        self.in_tail = False
        self._latest: Policy | None = None

    def policy(self, bandwidth_bps: float) -> Policy:
        """The policy for a bandwidth estimate; the latest one is kept, so a steady estimate
        costs a comparison and a continuously varying one no memory."""
        if self._latest is None or self._latest.bandwidth_bps != bandwidth_bps:
            self._latest = choose_policy(self.profiles, bandwidth_bps=bandwidth_bps, fps=self.fps)
        return self._latest

    def observe(self, *, tail_frame: bool) -> None:
        """Take the tail-frame signal of the newest response."""
        self.in_tail = bool(tail_frame) and self.tail_aware

    def knobs(self, *, bandwidth_bps: float) -> Knobs:
        """The configuration for the next frame."""
        policy = self.policy(bandwidth_bps)
        return policy.tail if self.in_tail else policy.standard
