"""Describe the machine a measurement ran on, for benchmark reports."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what :mod:`platform` knows elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def describe_machine(packages: Sequence[str] = ()) -> dict[str, Any]:
    """What a measurement ran on. The load average shows how busy a shared CPU was, which
    matters more than the model name on a 2-core machine."""
    import torch

    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "torch_threads": torch.get_num_threads(),
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "versions": {name: package_version(name) for name in packages},
    }


def describe_source(repo_root: Path, *, commit: str | None) -> dict[str, Any]:
    """Which code was measured: the git commit of ``repo_root`` and its uncommitted changes
    under src/ and configs/ (``commit`` stands in where there is no .git, e.g. a
    ``git archive`` export; the changes are then unknown, ``None``)."""

    def git(*command: str) -> str | None:
        try:
            completed = subprocess.run(
                ["git", *command], cwd=repo_root, capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return completed.stdout

    head = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--", "src", "configs")
    return {
        "git_commit": head.strip() if head else commit,
        "uncommitted_changes": status.splitlines() if status is not None else None,
    }
