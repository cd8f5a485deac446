"""AWStream-style controller: offline policy per bandwidth, overridden by online rounds."""

from __future__ import annotations

import pytest

from edgecloud.control.online_profiling import OnlineProfilingController
from edgecloud.control.profiling import KnobProfile
from edgecloud.data.degradation import Knobs

SMALL, MEDIUM, LARGE = (Knobs(scale=8, quality=90), Knobs(scale=4, quality=40),
                        Knobs(scale=2, quality=90))  # fmt: skip
PROFILES = [
    KnobProfile(knobs=SMALL, bytes_per_frame=1000, ordinary_accuracy=0.5, tail_accuracy=0.2),
    KnobProfile(knobs=MEDIUM, bytes_per_frame=2000, ordinary_accuracy=0.7, tail_accuracy=0.5),
    KnobProfile(knobs=LARGE, bytes_per_frame=8000, ordinary_accuracy=0.9, tail_accuracy=0.8),
]
FPS = 10.0


# bits per second for a budget of so many bytes per frame
def bps(bytes_per_frame: float) -> float:
    return bytes_per_frame * 8 * FPS


def test_offline_policy_until_a_round_then_the_round_choice_at_that_bandwidth() -> None:
    controller = OnlineProfilingController(PROFILES, fps=FPS, period_s=5.0)
    assert controller.knobs(bandwidth_bps=bps(2500)) == MEDIUM
    # a round on a frame where SMALL happens to do best (within the 2500-byte budget: LARGE
    # does better but does not fit)
    chosen = controller.observe_round(
        bandwidth_bps=bps(2500), frame_accuracy={SMALL: 0.6, MEDIUM: 0.4, LARGE: 0.99}
    )
    assert chosen == SMALL
    assert controller.knobs(bandwidth_bps=bps(2500)) == SMALL
    # another bandwidth: the offline policy again
    assert controller.knobs(bandwidth_bps=bps(9000)) == LARGE


def test_rounds_start_once_per_period() -> None:
    controller = OnlineProfilingController(PROFILES, fps=FPS, period_s=2.0)
    starts = [t / 10 for t in range(50) if controller.start_round(time_s=t / 10)]
    assert starts == [0.0, 2.0, 4.0]


def test_ties_go_to_the_smaller_configuration_and_no_fit_falls_back() -> None:
    controller = OnlineProfilingController(PROFILES, fps=FPS, period_s=2.0)
    tie = {SMALL: 0.5, MEDIUM: 0.5, LARGE: 0.5}
    assert controller.observe_round(bandwidth_bps=bps(9000), frame_accuracy=tie) == SMALL
    assert controller.observe_round(bandwidth_bps=bps(10), frame_accuracy=tie) == SMALL
    with pytest.raises(ValueError, match="period_s must be positive"):
        OnlineProfilingController(PROFILES, fps=FPS, period_s=0.0)


def test_a_round_choice_survives_estimate_moves_that_do_not_change_the_policy() -> None:
    # A measured estimate moves with every response: 2400 and 2100 bytes per frame keep the
    # offline choice of 2500 (MEDIUM), so the round's choice (SMALL) stays; 9000 changes the
    # offline choice (LARGE) and ends the round's reign for good.
    controller = OnlineProfilingController(PROFILES, fps=FPS, period_s=5.0)
    controller.observe_round(
        bandwidth_bps=bps(2500), frame_accuracy={SMALL: 0.6, MEDIUM: 0.4, LARGE: 0.99}
    )
    assert [controller.knobs(bandwidth_bps=bps(b)) for b in (2400, 2100)] == [SMALL, SMALL]
    assert controller.knobs(bandwidth_bps=bps(9000)) == LARGE
    assert controller.knobs(bandwidth_bps=bps(2500)) == MEDIUM


def test_a_round_choice_that_no_longer_fits_gives_way() -> None:
    # LARGE is profiled less accurate than MEDIUM offline, so the offline policy picks MEDIUM
    # at 8000 and at 3000 bytes per frame alike; the round picks LARGE at 8000, which stops
    # fitting at 3000: the offline choice again.
    profiles = [*PROFILES[:2], KnobProfile(knobs=LARGE, bytes_per_frame=8000,
                                            ordinary_accuracy=0.6, tail_accuracy=0.8)]  # fmt: skip
    controller = OnlineProfilingController(profiles, fps=FPS, period_s=5.0)
    assert controller.knobs(bandwidth_bps=bps(8000)) == MEDIUM
    controller.observe_round(
        bandwidth_bps=bps(8000), frame_accuracy={SMALL: 0.1, MEDIUM: 0.5, LARGE: 0.9}
    )
    assert controller.knobs(bandwidth_bps=bps(8500)) == LARGE
    assert controller.knobs(bandwidth_bps=bps(3000)) == MEDIUM
    assert controller.knobs(bandwidth_bps=bps(8000)) == MEDIUM
