"""What a Runespoor simulation reports: accuracy relative to HR per second (Fig. 12), sent
bandwidth, configuration switches and how fast they follow their trigger, and the per-frame
latency breakdown (Table V, also as a markdown table).

Accuracy of a set of frames is the mIoU of their accumulated per-class intersections and
unions (classes with a non-empty union), each frame segmented under the configuration it was
sent with; *relative* accuracy divides it by the same frames' HR mIoU (the paper's Fig. 12
uses the HR predictions as the reference). A frame belongs to the second it was captured in.

A *switch* is a frame sent with another configuration than the frame before it. Its cause:
``bandwidth`` when the bandwidth estimate changed the offline policy (its standard or tail
configuration) between the two captures, else ``tail`` when the CAC tail state changed, else
``profiling`` when an AWStream round's result arrived between them, else ``bandwidth`` (a
changed estimate ended AWStream's online choice). The policy, not the estimate, is compared
because a measured estimate changes with almost every response. Its delay is the time from
the capture of the frame whose result triggered it (the newest response, or round result,
received before the switching capture) to that capture: the paper's ~500 ms for CAC.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edgecloud.metrics.segmentation import accumulated_miou
from edgecloud.sim.runespoor.scenario import RunespoorRun


def _sent_overlap(run: RunespoorRun) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's ``(N, C)`` intersection and union under its sent configuration."""
    frames = np.arange(run.stream.num_frames)
    arrays = run.stream.arrays
    return (
        arrays["intersection"][run.frames.knob, frames],
        arrays["union"][run.frames.knob, frames],
    )


def per_second(run: RunespoorRun) -> dict[str, list[float]]:
    """Per captured second: accuracy, HR accuracy, their ratio, sent Mbps (frames and
    profiling rounds by send time) and the bandwidth estimate."""
    stream, log = run.stream, run.frames
    capture = np.arange(stream.num_frames) / stream.fps
    second = np.floor(capture + 1e-9).astype(np.int64)
    intersection, union = _sent_overlap(run)
    seconds = int(second.max()) + 1
    profiling_bytes = np.zeros(seconds)
    for round_ in run.profiling_rounds:
        profiling_bytes[min(int(round_.sent_s), seconds - 1)] += round_.sent_bytes
    rows: dict[str, list[float]] = {
        "second": [],
        "miou": [],
        "hr_miou": [],
        "relative": [],
        "mbps": [],
        "bandwidth_mbps": [],
    }
    for s in range(seconds):
        in_second = second == s
        miou = accumulated_miou(intersection[in_second], union[in_second])
        hr = accumulated_miou(
            stream.arrays["hr_intersection"][in_second], stream.arrays["hr_union"][in_second]
        )
        sent = log.sent_bytes[in_second].sum() + profiling_bytes[s]
        duration = min(1.0, stream.num_frames / stream.fps - s)
        rows["second"].append(float(s))
        rows["miou"].append(miou)
        rows["hr_miou"].append(hr)
        rows["relative"].append(miou / hr if hr > 0 else np.nan)
        rows["mbps"].append(8.0 * sent / duration / 1e6)
        rows["bandwidth_mbps"].append(float(log.bandwidth_bps[in_second].mean()) / 1e6)
    return rows


def switches(run: RunespoorRun) -> list[dict[str, object]]:
    """Every configuration switch with its cause and delay (module docstring)."""
    stream, log = run.stream, run.frames
    capture = np.arange(stream.num_frames) / stream.fps
    round_results = np.array([r.result_s for r in run.profiling_rounds])
    round_frames = np.array([r.frame for r in run.profiling_rounds], dtype=np.int64)
    found = []
    for n in np.flatnonzero(log.knob[1:] != log.knob[:-1]) + 1:
        policy_changed = (
            log.policy_standard[n] != log.policy_standard[n - 1]
            or log.policy_tail[n] != log.policy_tail[n - 1]
        )
        # a result at a capture's instant is taken before that capture (event priorities)
        round_between = np.any((round_results > capture[n - 1]) & (round_results <= capture[n]))
        if policy_changed:
            cause = "bandwidth"
        elif log.in_tail[n] != log.in_tail[n - 1]:
            cause = "tail"
        elif round_between:
            cause = "profiling"
        else:
            cause = "bandwidth"
        if cause == "profiling":
            received = np.flatnonzero(round_results <= capture[n])
            trigger = int(round_frames[received[-1]]) if received.size else None
        else:
            received = np.flatnonzero(log.response_s[:n] <= capture[n])
            trigger = int(received[-1]) if received.size else None
        found.append(
            {
                "frame": int(n),
                "time_s": float(capture[n]),
                "from": stream.knobs[log.knob[n - 1]].name,
                "to": stream.knobs[log.knob[n]].name,
                "cause": cause,
                "trigger_frame": trigger,
                "delay_s": None if trigger is None else float(capture[n] - capture[trigger]),
            }
        )
    return found


def latency_breakdown(run: RunespoorRun) -> dict[str, float]:
    """Mean seconds per frame of every stage, and end-to-end percentiles (Table V)."""
    stream, log = run.stream, run.frames
    frames = np.arange(stream.num_frames)
    capture = frames / stream.fps
    restore = stream.arrays["restore_latency_s"][log.knob, frames]
    segment = stream.arrays["segment_latency_s"][log.knob, frames]
    end_to_end = log.response_s - capture
    return {
        "uplink_s": float(np.mean(log.uplink_arrival_s - capture)),
        "server_wait_s": float(np.mean(log.server_start_s - log.uplink_arrival_s)),
        "server_compute_s": float(np.mean(log.server_finish_s - log.server_start_s)),
        "recorded_restore_s": float(np.mean(restore)),
        "recorded_segment_s": float(np.mean(segment)),
        "downlink_s": float(np.mean(log.response_s - log.server_finish_s)),
        "end_to_end_mean_s": float(np.mean(end_to_end)),
        "end_to_end_p50_s": float(np.percentile(end_to_end, 50)),
        "end_to_end_p90_s": float(np.percentile(end_to_end, 90)),
    }


# Table V's columns: a latency_breakdown key and its heading
TABLE5_COLUMNS = (
    ("uplink_s", "uplink"),
    ("server_wait_s", "server queue"),
    ("server_compute_s", "server compute"),
    ("recorded_restore_s", "recorded SR"),
    ("recorded_segment_s", "recorded segmentation"),
    ("downlink_s", "downlink"),
    ("end_to_end_mean_s", "end to end, mean"),
    ("end_to_end_p50_s", "end to end, median"),
    ("end_to_end_p90_s", "end to end, p90"),
)


def table5_markdown(breakdowns: Mapping[str, Mapping[str, float]]) -> str:
    """Table V as markdown: one row per method of its :func:`latency_breakdown`, in ms.

    Stages are means per frame: uplink from capture to the server's receipt (edge encoding
    included), server queue and compute (what the server spent: the recorded latencies or the
    compute profile), the recorded SR and segmentation latencies of the sent configurations,
    downlink; end to end is capture to response, mean, median and 90th percentile.
    """
    lines = [
        "Latency per frame (ms): stages are means, uplink from capture (edge encoding",
        "included), recorded SR and segmentation are the recorded latencies of the sent",
        "configurations (server compute is what the server spent).",
        "",
        "| method | " + " | ".join(heading for _, heading in TABLE5_COLUMNS) + " |",
        "| --- |" + " ---: |" * len(TABLE5_COLUMNS),
    ]
    for method, breakdown in breakdowns.items():
        cells = (f"{1000 * breakdown[key]:.1f}" for key, _ in TABLE5_COLUMNS)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_metrics(run: RunespoorRun, *, tail_fraction: float = 0.1) -> dict[str, float]:
    """The flat scores of one method's run."""
    stream, log = run.stream, run.frames
    frames = np.arange(stream.num_frames)
    intersection, union = _sent_overlap(run)
    miou = accumulated_miou(intersection, union)
    hr = accumulated_miou(stream.arrays["hr_intersection"], stream.arrays["hr_union"])
    frame_miou = stream.arrays["frame_miou"][log.knob, frames]
    hr_frame = stream.arrays["hr_frame_miou"]
    scored = hr_frame > 0
    relative = np.sort(frame_miou[scored] / hr_frame[scored])
    worst = relative[: max(1, int(np.ceil(tail_fraction * relative.size)))]
    duration = stream.num_frames / stream.fps
    extra = sum(r.sent_bytes for r in run.profiling_rounds)
    found = switches(run)
    tail_delays = [s["delay_s"] for s in found if s["cause"] == "tail" and s["delay_s"] is not None]
    metrics = {
        "miou": miou,
        "hr_miou": hr,
        "relative_miou": miou / hr if hr > 0 else np.nan,
        "frame_miou_mean": float(frame_miou.mean()),
        "frame_relative_mean": float(relative.mean()) if relative.size else np.nan,
        "frame_relative_tail": float(worst.mean()) if relative.size else np.nan,
        "mbps": 8.0 * (log.sent_bytes.sum() + extra) / duration / 1e6,
        "profiling_mbps": 8.0 * extra / duration / 1e6,
        "tail_signals": float(log.tail_signal.sum()),
        "frames_in_tail": float(log.in_tail.sum()),
        "switches": float(len(found)),
        "tail_switch_delay_median_s": float(np.median(tail_delays)) if tail_delays else np.nan,
    }
    metrics.update(latency_breakdown(run))
    return metrics
