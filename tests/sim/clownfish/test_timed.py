"""The timed Clownfish device on hand-computed toy scenarios (tests/sim/clownfish/toy.py: 2
classes, 12 windows of 4 frames every 2 frames at 8 fps, so window t is formed at
0.375 + 0.25 t s).

Each test spells out the arithmetic the expected values come from."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edgecloud.fusion.clownfish import clownfish_fuse
from edgecloud.fusion.clownfish_filter import context_aware_periodic_windows, periodic_windows
from edgecloud.sim.clownfish.policy import ClownfishPolicy
from edgecloud.sim.clownfish.report import ClownfishReport, shown_classes, window_predictions
from edgecloud.sim.clownfish.scenario import Layout
from tests.sim.clownfish.toy import STRIDE, frames_for, link, toy_scenario, toy_sequence


def run(scenario, seed: int = 0):
    (unit,) = list(scenario.run_timed(seed=seed))
    return unit


def report_for(scenario, units) -> dict:
    report = ClownfishReport(
        method=scenario.method,
        policy=scenario.policy,
        class_offset=scenario.class_offset,
        skip_frames=0,
        actions_only=True,
        bin_s=1.0,
        header_bytes=scenario.header_bytes,
        result_header_bytes=scenario.result_header_bytes,
        phases=scenario.phases,
    )
    for unit in units:
        report.add(unit)
    return report.results()


def test_window_formation_times():
    sequence = toy_sequence()
    assert sequence.window_formed_s()[:3].tolist() == [0.375, 0.625, 0.875]


def test_lag_emerges_from_link_and_compute_times():
    """Periodic every 3 windows, decided when the worker takes a window (at its formation,
    the worker being free): windows 0, 3, 6, 9 are sent at 0.375, 1.125, 1.875, 2.625 s.
    Each carries 4 new frames of 1,000 B (3 windows * 2 frames >= 4): 0.5 s at 8,000 B/s. Then
    0.125 s on the server and 0.0625 s down. Window t is fused at 0.5 + 0.25 t.

    - window 0: uplink 0.375-0.875, server -1.0, edge 1.0625 -> fused at t = 3 (1.25): lag 3
    - window 3: uplink 1.125-1.625, server -1.75, edge 1.8125 -> t = 6 (2.0): lag 3
    - window 6: uplink 1.875-2.375, server -2.5, edge 2.5625 -> t = 9 (2.75): lag 3
    - window 9: edge 3.3125 > 3.25 (window 11, the last): late, never used."""
    scenario = toy_scenario(
        [toy_sequence()],
        uplink=link(bytes_per_s=8000),
        downlink=link(delay_s=0.0625),
        server_s=0.125,
    )
    unit = run(scenario)
    (video,) = unit.videos
    np.testing.assert_allclose(video.done_s, 0.5 + 0.25 * np.arange(12))
    sent = np.flatnonzero(np.isfinite(video.sent_s))
    assert sent.tolist() == [0, 3, 6, 9]
    np.testing.assert_allclose(video.sent_s[sent], [0.375, 1.125, 1.875, 2.625])
    np.testing.assert_allclose(video.arrival_s[sent], [1.0625, 1.8125, 2.5625, 3.3125])
    assert video.arrival_position[sent].tolist() == [3, 6, 9, -1]
    results = report_for(scenario, [unit])
    assert results["lag_counts"] == {"3": 3, "late": 1}
    metrics = results["metrics"]
    assert metrics["sim/lag_fraction/3"] == 0.75
    assert metrics["sim/lag_fraction/late"] == 0.25
    assert metrics["sim/lag_fraction/0"] == 0.0
    assert metrics["sim/lag_mean"] == 3.0
    assert metrics["sim/requests"] == 4
    # what is shown is clownfish_fuse with exactly these arrivals
    sequence = video.sequence
    arrivals = [(3, 0, sequence.remote_probs[0]), (6, 3, sequence.remote_probs[3])]
    arrivals.append((9, 6, sequence.remote_probs[6]))
    expected = clownfish_fuse(sequence.local_probs, sequence.similarity, arrivals).argmax(1) + 1
    (classes,) = shown_classes(
        unit.videos, method=scenario.method, policy=scenario.policy, class_offset=1
    )
    assert classes.tolist() == expected.tolist()


def test_result_arriving_exactly_at_a_fusion_is_used_there():
    """Ideal links and a 0.375 s server: window 0, sent at 0.375, is back at 0.75, the moment
    window 1 is fused (0.5 + 0.25): results (priority 5) run before worker completions (40),
    so the lag is 1. A 0.125 s server brings window 0 back at 0.5, when window 0 itself is
    fused: lag 0 (the remote result replaces window 0's own fusion)."""
    for server_s, lag in ((0.375, 1), (0.125, 0)):
        scenario = toy_scenario([toy_sequence()], server_s=server_s)
        (video,) = run(scenario).videos
        assert video.arrival_s[0] == 0.375 + server_s
        assert video.arrival_position[0] == lag


def test_frames_already_sent_are_not_resent():
    """Frame j weighs 100 (j + 1) bytes, the header 10. Every window sent (n_w = 1): window 0
    uploads frames 0-3, each later window t only frames 2t + 2 and 2t + 3."""
    num_frames = frames_for(12)
    weights = 100 * (np.arange(num_frames) + 1)
    scenario = toy_scenario(
        [toy_sequence(frame_bytes=weights)],
        policy=ClownfishPolicy(filter="periodic", interval=1),
        header_bytes=10,
    )
    (video,) = run(scenario).videos
    assert video.new_frames.tolist() == [4] + [2] * 11
    expected = [weights[0:4].sum() + 10] + [
        weights[2 * t + 2 : 2 * t + 4].sum() + 10 for t in range(1, 12)
    ]
    assert video.bytes_up.tolist() == expected
    assert video.new_frames.sum() == num_frames

    # every 2nd window: starts 0, 4, 8, ..., 20: no overlap, 4 new frames each; frames 24-25
    # (only in window 11) are never sent
    scenario = toy_scenario(
        [toy_sequence(frame_bytes=weights)],
        policy=ClownfishPolicy(filter="periodic", interval=2),
    )
    (video,) = run(scenario).videos
    assert np.flatnonzero(video.new_frames).tolist() == [0, 2, 4, 6, 8, 10]
    assert video.new_frames[[0, 2, 4, 6, 8, 10]].tolist() == [4] * 6
    assert video.bytes_up.sum() == weights[:24].sum()


def test_context_aware_transition_send_adds_only_the_new_frames():
    """rho rises by >= 0.5 at window 2 (0.1 -> 0.9): window 2 is sent right after window 0,
    decided when the worker finishes it, and the periodic timer restarts there, so with
    n_w = 5 the next send is window 7. Window 0 holds frames 0-3, window 2 frames 4-7 and
    window 7 frames 14-17: 4 new frames each."""
    rho = np.array([0.0, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    scenario = toy_scenario(
        [toy_sequence(similarity=rho)],
        policy=ClownfishPolicy(filter="context_aware", interval=5),
    )
    (video,) = run(scenario).videos
    sent = np.flatnonzero(np.isfinite(video.sent_s)).tolist()
    assert sent == context_aware_periodic_windows(rho, interval=5).tolist() == [0, 2, 7]
    # context-aware decides when the worker finishes the window (it needs rho_t)
    np.testing.assert_allclose(video.sent_s[sent], video.done_s[sent])
    assert video.new_frames[sent].tolist() == [4, 4, 4]


def test_windows_are_skipped_when_the_local_model_is_slow():
    """Local latency 0.375 s against 0.25 s between windows. The worker takes window 0 at
    0.375 (done 0.75), then the newest formed one each time it is free: window 1 (formed
    0.625) at 0.75; at 1.125 windows 2 and 3 (formed at that instant: formations run first)
    are waiting, it takes 3 and skips 2; window 4 at 1.5; at 1.875 it takes 6, skipping 5;
    ...; window 10 at 3.0, and window 11 (formed 3.125) when that is done, at 3.375. So
    windows 2, 5 and 8 are skipped: the worker runs every 0.375 * 8 fps / 2 = 1.5 windows
    while windows keep coming."""
    scenario = toy_scenario(
        [toy_sequence()], local_s=0.375, policy=ClownfishPolicy(filter="periodic", interval=2)
    )
    unit = run(scenario)
    (video,) = unit.videos
    assert video.processed == [0, 1, 3, 4, 6, 7, 9, 10, 11]
    np.testing.assert_allclose(
        video.start_s[video.processed],
        [0.375, 0.75, 1.125, 1.5, 1.875, 2.25, 2.625, 3.0, 3.375],
    )
    # the Filter counts processed windows: every 2nd of them
    assert np.flatnonzero(np.isfinite(video.sent_s)).tolist() == [0, 3, 6, 9, 11]
    processed = np.asarray(video.processed)
    assert processed[periodic_windows(9, interval=2)].tolist() == [0, 3, 6, 9, 11]
    (classes,) = shown_classes(
        unit.videos, method=scenario.method, policy=scenario.policy, class_offset=1
    )
    shown = window_predictions(12, video.processed_windows, classes)
    # skipped windows show the previous processed window's output
    assert shown[2] == shown[1] and shown[5] == shown[4] and shown[8] == shown[7]
    assert shown[processed].tolist() == classes.tolist()
    results = report_for(scenario, [unit])
    assert results["metrics"]["sim/skipped_windows"] == 3
    assert results["metrics"]["sim/effective_stride_frames"] == 12 * STRIDE / 9


def test_no_window_is_skipped_iff_the_stride_keeps_up():
    """The paper's bound: the worker keeps up iff L <= stride / fps (2 / 8 s here), i.e. the
    stride is at least ceil(fps * L) frames. Slightly slower, it falls 0.01 s behind per
    window and skips one whenever it is a whole window behind: over a long video it runs
    1 / L windows per second, 200 * 0.25 / 0.26 of 200 windows."""
    on_time = toy_scenario([toy_sequence(num_windows=200)], method="edge_only", local_s=0.25)
    assert len(run(on_time).videos[0].processed) == 200
    late = toy_scenario([toy_sequence(num_windows=200)], method="edge_only", local_s=0.26)
    processed = len(run(late).videos[0].processed)
    assert abs(processed - 200 * 0.25 / 0.26) <= 2


def test_siminet_gap_similarity_is_the_lowest_in_the_gap():
    rho = np.array([0.0, 0.9, 0.2, 0.8, 0.9, 0.7, 0.9, 0.6, 0.9, 0.9, 0.5, 0.9])
    scenario = toy_scenario(
        [toy_sequence(similarity=rho)],
        local_s=0.375,
        policy=ClownfishPolicy(filter="periodic", interval=100),
    )
    (video,) = run(scenario).videos
    processed = video.processed  # 0, 1, 3, 4, 6, 7, 9, 10, 11
    expected = [0.0] + [
        rho[previous + 1 : current + 1].min() for previous, current in itertools.pairwise(processed)
    ]
    assert video.rho == pytest.approx(expected)
    assert video.rho[2] == 0.2  # windows 1 -> 3 span rho_2 = 0.2 and rho_3 = 0.8


def test_cloud_only_throughput_under_a_slow_uplink():
    """Cloud-only streams every window when it is formed: window 0 with 4 frames, the others
    with 2 new frames, 1,000 B each. At 4,000 B/s window 0 is up at 0.375 + 1.0 and each later
    window 0.5 s after the previous (the link is the bottleneck): displayed at 1.375 + 0.5 t.
    Throughput = 12 windows * 2 frames / (displayed_11 - formed_0 + 2 / 8) =
    24 / (6.875 - 0.375 + 0.25) = 24 / 6.75. Without a rate limit every window is shown when
    formed: exactly 8 fps."""
    fast = toy_scenario([toy_sequence()], method="cloud_only", server_s=0.0)
    assert report_for(fast, [run(fast)])["metrics"]["sim/throughput_fps"] == 8.0

    slow = toy_scenario(
        [toy_sequence()], method="cloud_only", server_s=0.0, uplink=link(bytes_per_s=4000)
    )
    unit = run(slow)
    (video,) = unit.videos
    np.testing.assert_allclose(video.displayed_s, 1.375 + 0.5 * np.arange(12))
    metrics = report_for(slow, [unit])["metrics"]
    assert metrics["sim/throughput_fps"] == pytest.approx(24 / 6.75)
    assert metrics["sim/bandwidth_reduction"] == 0.0

    # a long video: the throughput tends to what the link carries, 2 frames per 0.5 s
    long = toy_scenario(
        [toy_sequence(num_windows=2000)],
        method="cloud_only",
        server_s=0.0,
        uplink=link(bytes_per_s=4000),
    )
    metrics = report_for(long, [run(long)])["metrics"]
    assert metrics["sim/throughput_fps"] == pytest.approx(4.0, rel=2e-3)


def test_clownfish_throughput_ignores_the_slow_uplink():
    slow = toy_scenario(
        [toy_sequence(num_windows=200)],
        uplink=link(bytes_per_s=4000),
        policy=ClownfishPolicy(filter="periodic", interval=6),
    )
    metrics = report_for(slow, [run(slow)])["metrics"]
    # the local model shows every window 0.125 s after it is formed
    assert metrics["sim/throughput_fps"] == pytest.approx(400 / (0.125 + 199 * 0.25 + 0.25))
    assert metrics["sim/lag_mean"] > 1


def test_filtering_baseline_shows_background_or_remote():
    """Relevance 0.9 on even windows: those go to the cloud and show the remote argmax when it
    returns, odd ones show background when the relevance model is done."""
    relevance = np.where(np.arange(12) % 2 == 0, 0.9, 0.1)
    sequence = toy_sequence(relevance=relevance)
    scenario = toy_scenario([sequence], method="filtering", relevance_s=0.125, server_s=0.25)
    unit = run(scenario)
    (video,) = unit.videos
    sent = np.flatnonzero(np.isfinite(video.sent_s))
    assert sent.tolist() == list(range(0, 12, 2))
    np.testing.assert_allclose(video.displayed_s[sent], video.done_s[sent] + 0.25)
    np.testing.assert_allclose(video.displayed_s[1::2], video.done_s[1::2])
    (classes,) = shown_classes(
        unit.videos, method=scenario.method, policy=scenario.policy, class_offset=1
    )
    expected = np.where(relevance >= 0.5, sequence.remote_probs.argmax(1) + 1, 0)
    assert classes.tolist() == expected.tolist()


def test_back_to_back_videos_share_the_link_and_number_time_on():
    first, second = toy_sequence(name="a"), toy_sequence(name="b", seed=1)
    scenario = toy_scenario(
        [first, second],
        method="cloud_only",
        server_s=0.0,
        uplink=link(bytes_per_s=4000),
        layout=Layout(mode="back_to_back", gap_s=1.0),
    )
    (unit,) = list(scenario.run_timed(seed=0))
    a, b = unit.videos
    assert b.offset_s == first.duration_s + 1.0
    # the second video's first upload waits for the first video's backlog
    assert b.sent_s[0] == b.formed_s[0]
    assert b.arrival_s[0] == pytest.approx(a.arrival_s[-1] + 1.0)


def test_max_in_flight_drops_selected_windows_while_results_are_awaited():
    """Every window selected, 4,000 B/s up, no server time: with one request in flight at
    most, window 0 (4 frames of 1,000 B, 0.375-1.375) blocks windows 1-4 (window 4 is formed
    at 1.375, before the result arrives at that instant: formations run first), window 5
    goes at 1.625 with its 4 frames (frames 4-9 of the dropped windows are never sent), back
    at 2.625, which blocks windows 6-9, then window 10."""
    scenario = toy_scenario(
        [toy_sequence()],
        uplink=link(bytes_per_s=4000),
        server_s=0.0,
        policy=ClownfishPolicy(filter="periodic", interval=1, max_in_flight=1),
    )
    unit = run(scenario)
    (video,) = unit.videos
    sent = np.flatnonzero(np.isfinite(video.sent_s)).tolist()
    assert sent == [0, 5, 10]
    assert video.suppressed.tolist() == [t not in sent for t in range(12)]
    assert video.new_frames[sent].tolist() == [4, 4, 4]
    results = report_for(scenario, [unit])
    assert results["metrics"]["sim/requests_suppressed"] == 9
    assert results["metrics"]["sim/requests"] == 3
