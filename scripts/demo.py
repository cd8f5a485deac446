"""`make demo`: train an edge and a cloud detector on the synthetic drone world, evaluate both,
write their recordings, print mAP@0.5 per model, then replay the recordings through REACT and
its baselines (edge-only, cloud-only, ef-edge-det, offline upper bound) and print that table.

Each step is the exact command a user would type; the script prints it, runs it, and reads the
metrics.json it writes. Both models start from the small checkpoints released in checkpoints/
(made by this repo's train.py, see checkpoints/README.md) and are fine-tuned for a short CPU
budget, so a newcomer sees the training path work and the whole demo stays within minutes.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from edgecloud.sim.sweep import collect_sweep, format_table

ROOT = Path(__file__).resolve().parents[1]
RUN_ROOT = ROOT / "logs" / "demo"
ROLES = ("edge", "cloud")


def fresh(directory: Path) -> Path:
    """The demo owns logs/demo/: each step starts from an empty directory, so running the demo
    again replaces its earlier outputs (the recording writer refuses to overwrite a recording)."""
    shutil.rmtree(directory, ignore_errors=True)
    return directory


def run(arguments: list[str]) -> None:
    command = [sys.executable, *arguments]
    print(f"\n$ python {shlex.join(arguments)}", flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)
    print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)


def train_and_evaluate(role: str) -> dict:
    train_dir = fresh(RUN_ROOT / f"train_{role}")
    eval_dir = fresh(RUN_ROOT / f"evaluate_{role}")
    run(["train.py", f"experiment=react/demo_{role}", f"hydra.run.dir={train_dir}"])
    run(
        [
            "evaluate.py",
            f"experiment=react/demo_{role}",
            f"ckpt_path={train_dir / 'checkpoints' / 'last.ckpt'}",
            "record=true",
            f"hydra.run.dir={eval_dir}",
        ]
    )
    report = json.loads((eval_dir / "metrics.json").read_text())
    report["recording"] = str((eval_dir / "recording").relative_to(ROOT))
    return report


def print_model_table(reports: dict[str, dict]) -> None:
    print("\nmodel   mAP@0.5   mAP@[.5:.95]   recording")
    for role, report in reports.items():
        metrics = report["metrics"]
        print(
            f"{role:<7} {metrics['val/mAP50']:>7.3f}   {metrics['val/mAP']:>12.3f}   {report['recording']}"
        )


def simulate_baselines() -> None:
    """REACT paper Fig. 3 on the synthetic val split: one multirun, aggregated into a table."""
    sweep_dir = fresh(RUN_ROOT / "simulate_baselines")
    run(["simulate.py", "-m", "experiment=react/sim/baselines", f"hydra.sweep.dir={sweep_dir}"])
    jobs = collect_sweep(sweep_dir)
    print(
        "\nWhat the edge displayed, scored on every val frame (WiFi 30 ms, k=5, m=30, LK tracker):"
    )
    print(
        format_table(
            jobs,
            label_key="method",
            metrics=(
                "sim/mAP50",
                "sim/response_time_p50_s",
                "sim/requests",
                "sim/mbps_up",
                "sim/edge_utilisation",
            ),
        )
    )
    print(f"figure: {(sweep_dir / 'methods.png').relative_to(ROOT)}")


def main() -> None:
    started = time.perf_counter()
    reports = {role: train_and_evaluate(role) for role in ROLES}
    print_model_table(reports)
    simulate_baselines()
    print(f"\ndemo finished in {(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
