"""``simulate(cfg)``: replay recordings through a scenario and write what a paper reports.

Writes into the run directory ``config.yaml`` (the resolved config), ``results.json`` (byte for
byte the same for the same config and seed), ``frames.csv`` (one row per device and frame) and
the run's figure. Wall-clock timings go to the log only, never into results.json.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from pathlib import Path

from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from edgecloud.sim import figures
from edgecloud.sim.react.policy import ReactPolicy
from edgecloud.sim.react.report import ReplayReport, summarize_metrics
from edgecloud.sim.react.scenario import DeviceLayout, ReactScenario, ServerSettings
from edgecloud.utils.config import check_config, without_hydra
from edgecloud.utils.jsonio import write_json_report

log = logging.getLogger(__name__)

RUN_FIGURES = ("tide", "response_cdf", "none")


def plain_partial(config: DictConfig) -> functools.partial:
    """A ``functools.partial`` for a ``_partial_: true`` node with plain keyword arguments.

    Hydra 1.3's own partial re-validates its target on every call (about 140 µs), which would
    dominate a replay that creates a fast-track tracker per cloud answer.
    """
    arguments = OmegaConf.to_container(config, resolve=True)
    target = get_class(arguments.pop("_target_"))
    arguments.pop("_partial_", None)
    return functools.partial(target, **arguments)


def build_react_scenario(cfg: DictConfig) -> ReactScenario:
    """Instantiate and validate every part of the REACT scenario (no simulation yet), so a bad
    trace, profile or parameter stops the run before it starts."""
    scenario = cfg.scenario
    policy = ReactPolicy(**OmegaConf.to_container(scenario.policy, resolve=True))
    tracker_factory = plain_partial(cfg.tracker.factory) if cfg.tracker.factory else None
    if policy.tracking and tracker_factory is None:
        raise ValueError(
            "scenario.policy.tracking is true but tracker=none; pick a tracker "
            "(motion, lk, kcf, csrt) or set scenario.policy.tracking=false"
        )
    return ReactScenario(
        edge_recording=scenario.recordings.edge,
        cloud_recording=scenario.recordings.cloud,
        sequences=list(scenario.sequences) if scenario.sequences is not None else None,
        frames_root=scenario.frames_root,
        motion_cache_dir=scenario.motion_cache_dir,
        policy=policy,
        layout=DeviceLayout(**OmegaConf.to_container(scenario.devices, resolve=True)),
        uplink=instantiate(cfg.network.uplink, _convert_="all"),
        downlink=instantiate(cfg.network.downlink),
        server=ServerSettings(**OmegaConf.to_container(scenario.server, resolve=True)),
        server_profile=instantiate(scenario.server_profile),
        edge_profile=instantiate(scenario.edge_profile),
        tracker_factory=tracker_factory,
        tracker_latency=instantiate(cfg.tracker.latency),
    )


def simulate(cfg: DictConfig) -> dict[str, float | None]:
    """Run the configured scenario; returns the flat metrics of results.json."""
    check_config(cfg, required=("scenario", "network", "tracker"))
    if cfg.figure not in RUN_FIGURES:
        raise ValueError(f"figure must be one of {RUN_FIGURES}, got {cfg.figure!r}")
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    task_config = without_hydra(cfg)
    OmegaConf.save(task_config, output_dir / "config.yaml", resolve=True)

    scenario = build_react_scenario(cfg)
    started = time.perf_counter()
    with (
        open(output_dir / "frames.csv", "w", newline="")
        if cfg.frames_csv
        else contextlib.nullcontext() as csv_file
    ):
        report = ReplayReport(
            class_names=scenario.class_names,
            deadline_frames=scenario.policy.display_deadline_frames,
            score_accuracy=bool(cfg.scenario.scoring.accuracy) and scenario.layout.pipeline,
            score_tide=bool(cfg.scenario.scoring.tide),
            usd_per_1000_requests=float(cfg.scenario.usd_per_1000_requests),
            frames_csv=csv_file,
        )
        for unit in scenario.run(seed=int(cfg.seed)):
            report.add(unit)
    replayed = time.perf_counter()
    results = report.results()
    scored = time.perf_counter()
    results["labels"] = _labels(cfg)
    write_json_report(output_dir / "results.json", results)
    _draw_run_figure(cfg.figure, results, output_dir)
    metrics = results["metrics"]
    log.info(
        "replayed %d frames in %.2f s, scored in %.2f s: %s",
        metrics["sim/frames"],
        replayed - started,
        scored - replayed,
        summarize_metrics(metrics, keys=("sim/mAP50", "sim/response_time_p50_s", "sim/requests")),
    )
    log.info("results in %s", output_dir)
    return metrics


def _labels(cfg: DictConfig) -> dict[str, object]:
    """What a sweep aggregator labels this run by: the config group choices and device count."""
    choices = {}
    hydra_choices = OmegaConf.select(cfg, "hydra.runtime.choices")
    if hydra_choices is None:
        try:
            from hydra.core.hydra_config import HydraConfig

            hydra_choices = HydraConfig.get().runtime.choices
        except ValueError:
            hydra_choices = {}
    for group in ("method", "network", "tracker", "scenario"):
        if group in hydra_choices:
            choices[group] = hydra_choices[group]
    choices["devices"] = cfg.scenario.devices.count or 1
    return choices


def _draw_run_figure(figure: str, results: dict, output_dir: Path) -> None:
    metrics = results["metrics"]
    label = results["labels"].get("method", "run")
    if figure == "tide" and "sim/tide/Miss" in metrics:
        breakdown = {
            name: metrics[f"sim/tide/{name}"]
            for name in ("Cls", "Loc", "Both", "Dupe", "Bkg", "Miss")
        }
        figures.plot_tide(breakdowns={label: breakdown}, path=output_dir / "tide.png")
    elif figure == "response_cdf" and results["response_times_s"]:
        figures.plot_response_cdf(
            response_times={label: results["response_times_s"]},
            path=output_dir / "response_cdf.png",
        )
