"""Synthetic LTE-like Mahimahi traces, for experiments that need a cellular link of a chosen mean
capacity (or more traces than the published ones).

The model, all drawn from ``np.random.default_rng(seed)``:

* Time is cut into slots of ``slot_s`` (100 ms, about the time scale at which LTE capacity
  visibly changes in the Verizon and AT&T traces). The link is either *up* or in *outage*, a
  two-state Markov chain per slot: outages start on average every ``outage_every_s`` seconds of
  uptime and last ``outage_mean_s`` on average (both geometric), and carry
  ``outage_fraction * mean_mbps``, a trickle rather than nothing, as in the recorded traces.
* While up, the capacity is log-normal and autocorrelated: ``log`` rate follows an AR(1) with
  stationary standard deviation ``sigma`` and time constant ``correlation_s``, started from its
  stationary law. The log-normal factor is divided by its mean over the whole trace, so the up
  capacity averages ``up_mbps``, chosen so the long-run mean over both states is ``mean_mbps``;
  a trace's mean then misses ``mean_mbps`` only by its share of outages and Poisson noise (a few
  percent over two minutes), not by whichever slow fade it happened to draw.
* Each millisecond delivers a Poisson number of 1500-byte packets with the current slot's mean,
  so packets arrive in bursts of several per millisecond with idle milliseconds between them.

The defaults (``sigma`` 0.7, ``correlation_s`` 1.5 s, outages 4% of the time) are close to what
the Verizon LTE traces show at 100 ms resolution (log-rate standard deviation 0.7, lag-100 ms
autocorrelation 0.85, about 4% of slots below a tenth of the mean).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from edgecloud.sim.network.mahimahi import MTU_BYTES


def generate_cellular_trace(
    *,
    duration_s: float,
    mean_mbps: float,
    seed: int,
    slot_s: float = 0.1,
    sigma: float = 0.7,
    correlation_s: float = 1.5,
    outage_every_s: float = 12.0,
    outage_mean_s: float = 0.5,
    outage_fraction: float = 0.02,
) -> np.ndarray:
    """Timestamps (int64 ms, Mahimahi format) of packet-delivery opportunities at 1..duration ms.

    The last millisecond always carries at least one packet, so the trace's period (its last
    timestamp) is exactly ``duration_s``; that adds at most one packet per period.
    """
    duration_ms = _whole_ms("duration_s", duration_s)
    slot_ms = _whole_ms("slot_s", slot_s)
    for name, value in (
        ("mean_mbps", mean_mbps),
        ("sigma", sigma),
        ("correlation_s", correlation_s),
        ("outage_every_s", outage_every_s),
        ("outage_mean_s", outage_mean_s),
    ):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    if outage_every_s < slot_s or outage_mean_s < slot_s:
        raise ValueError(
            f"outage_every_s ({outage_every_s!r}) and outage_mean_s ({outage_mean_s!r}) must be "
            f"at least one slot ({slot_s!r} s)"
        )
    if not 0 <= outage_fraction < 1:
        raise ValueError(f"outage_fraction must be in [0, 1), got {outage_fraction!r}")

    rng = np.random.default_rng(seed)
    num_slots = -(-duration_ms // slot_ms)
    enter, leave = slot_s / outage_every_s, slot_s / outage_mean_s
    outage_share = enter / (enter + leave)
    up_mbps = mean_mbps * (1 - outage_share * outage_fraction) / (1 - outage_share)

    phi = math.exp(-slot_s / correlation_s)
    start = rng.normal(0.0, sigma, 1)  # the stationary law, so the first slots are typical
    innovations = np.concatenate(
        [start, rng.normal(0.0, sigma * math.sqrt(1 - phi**2), num_slots - 1)]
    )
    fading = np.exp(lfilter([1.0], [1.0, -phi], innovations))
    # normalized over the trace, so a short trace does not drift off its mean with a slow fade
    up_rate = up_mbps * fading / fading.mean()

    in_outage = np.empty(num_slots, dtype=bool)
    in_outage[0] = rng.random() < outage_share
    draws = rng.random(num_slots - 1)
    for slot, draw in enumerate(draws, start=1):
        in_outage[slot] = draw >= leave if in_outage[slot - 1] else draw < enter
    slot_mbps = np.where(in_outage, outage_fraction * mean_mbps, up_rate)

    packets_per_ms = np.repeat(slot_mbps, slot_ms)[:duration_ms] * 1e6 / 8 / MTU_BYTES / 1000
    counts = rng.poisson(packets_per_ms)
    counts[-1] = max(counts[-1], 1)
    return np.repeat(np.arange(1, duration_ms + 1, dtype=np.int64), counts)


def write_mahimahi_trace(path: str | Path, timestamps: np.ndarray | list[int]) -> None:
    """Write one integer millisecond per line, after checking that mm-link (and
    :func:`~edgecloud.sim.network.mahimahi.read_mahimahi_trace`) will accept the result."""
    values = np.asarray(timestamps)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"timestamps must be a non-empty 1-D sequence, got shape {values.shape}")
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"timestamps must be integers, got dtype {values.dtype}")
    if values.min() < 0:
        raise ValueError(f"timestamps must be >= 0, got {values.min()}")
    if np.any(np.diff(values) < 0):
        raise ValueError("timestamps must be non-decreasing")
    if values[-1] == 0:
        raise ValueError("the last timestamp must be > 0 (it is the period the trace loops with)")
    Path(path).write_text("\n".join(map(str, values.tolist())) + "\n")


def _whole_ms(name: str, seconds: float) -> int:
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{name} must be a positive finite number of seconds, got {seconds!r}")
    milliseconds = round(seconds * 1000)
    if milliseconds < 1 or not math.isclose(seconds * 1000, milliseconds):
        raise ValueError(f"{name} must be a whole number of milliseconds, got {seconds!r} s")
    return milliseconds
