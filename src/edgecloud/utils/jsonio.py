"""Write reports as strict JSON (no NaN tokens other tools reject)."""

from __future__ import annotations

import json
import math
from pathlib import Path


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(item) for item in value]
    return value


def write_json_report(path: Path, report: dict) -> None:
    """Write ``report`` with sorted keys; NaN and infinities (e.g. mAP without ground truth)
    become ``null``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite_or_none(report), indent=2, sort_keys=True, allow_nan=False)
    path.write_text(text + "\n")
