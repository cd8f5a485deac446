"""Summary statistics shared by every scenario's report."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def distribution(values: Sequence[float]) -> dict[str, float | None]:
    """Mean, p50, p95 and p99 (linear interpolation, numpy's default) of ``values``; ``None``
    for an empty sample, so JSON shows "no data" rather than a made-up number."""
    if len(values) == 0:
        return {"mean": None, "p50": None, "p95": None, "p99": None}
    array = np.asarray(values, dtype=np.float64)
    p50, p95, p99 = np.percentile(array, [50, 95, 99])
    return {"mean": float(array.mean()), "p50": float(p50), "p95": float(p95), "p99": float(p99)}
