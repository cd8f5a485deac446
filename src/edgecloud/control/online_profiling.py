"""The AWStream-style controller Runespoor compares with (§III-B, Fig. 5 steps 1-3).

Offline profiles pick the configuration for the bandwidth estimate, as in
:class:`~edgecloud.control.controller.TailAwareController` without tail awareness. To follow
content changes, AWStream profiles *online*: every ``period_s`` the edge also sends one frame
in every configuration (extra bytes on the uplink, extra work on the server), and when that
round's result comes back the configuration with the best accuracy on the profiled frame,
among those whose profiled bytes fit the budget, replaces the offline choice — until the next
round's result, or until the bandwidth estimate changes enough to matter: the offline policy
would choose differently, or the online choice no longer fits the budget (then the offline
policy applies again). A measured estimate moves with every response; comparing the policy's
choice rather than the estimate itself keeps a round's result across those small moves.
Reacting to a scene change therefore takes up to a period plus a round trip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from edgecloud.control.profiling import KnobProfile, choose_policy
from edgecloud.data.degradation import Knobs


class OnlineProfilingController:
    """Offline policy per bandwidth, overridden by the latest online profiling round.

    Args:
        profiles: the offline profiles of every configuration.
        fps: the camera's frame rate (budget = bandwidth / 8 / fps bytes per frame).
        period_s: time between the starts of two online profiling rounds.
    """

    def __init__(self, profiles: Sequence[KnobProfile], *, fps: float, period_s: float) -> None:
        if not profiles:
            raise ValueError("the controller needs profiled configurations")
        if not period_s > 0:
            raise ValueError(f"period_s must be positive, got {period_s!r}")
        self.profiles = list(profiles)
        self.fps = float(fps)
        self.period_s = float(period_s)
        self.next_round_s = 0.0
        self._bytes = {profile.knobs: profile.bytes_per_frame for profile in self.profiles}
        # (the offline choice when the round's result came, the round's choice)
        self._online: tuple[Knobs, Knobs] | None = None

    def _offline(self, bandwidth_bps: float) -> Knobs:
        return choose_policy(self.profiles, bandwidth_bps=bandwidth_bps, fps=self.fps).standard

    def knobs(self, *, bandwidth_bps: float) -> Knobs:
        """The configuration for the next frame."""
        offline = self._offline(bandwidth_bps)
        if self._online is not None:
            offline_then, online = self._online
            if offline == offline_then and self._bytes[online] <= bandwidth_bps / 8.0 / self.fps:
                return online
            self._online = None  # the bandwidth changed: the round's result is over
        return offline

    def start_round(self, *, time_s: float) -> bool:
        """Whether a profiling round starts with the frame captured at ``time_s`` (then the
        next one is due a period later)."""
        if time_s < self.next_round_s:
            return False
        self.next_round_s = time_s + self.period_s
        return True

    def observe_round(
        self, *, bandwidth_bps: float, frame_accuracy: Mapping[Knobs, float]
    ) -> Knobs:
        """Take a round's result (each configuration's accuracy on the profiled frame) and
        return the configuration now in force for ``bandwidth_bps``."""
        budget = bandwidth_bps / 8.0 / self.fps
        fitting = [p.knobs for p in self.profiles if p.bytes_per_frame <= budget]
        if not fitting:
            self._online = None
            return self.knobs(bandwidth_bps=bandwidth_bps)
        best = max(fitting, key=lambda knobs: (frame_accuracy[knobs], -fitting.index(knobs)))
        self._online = (self._offline(bandwidth_bps), best)
        return best
