"""``simulate(cfg)``: replay recordings through a scenario and write what a paper reports.

Dispatches on ``scenario.name``: ``react`` (the default), ``clownfish`` or ``runespoor``. A
REACT run writes into the run directory ``config.yaml`` (the resolved config), ``results.json``
(byte for byte the same for the same config and seed), ``frames.csv`` (one row per device and
frame) and the run's figure; a Clownfish run writes ``config.yaml``, ``results.json`` and its
mode's files (:mod:`edgecloud.sim.clownfish.run`); a Runespoor run ``config.yaml``,
``results.json``, ``per_second.csv``, ``frames.csv`` and ``fig12.png``
(:mod:`edgecloud.sim.runespoor.run`). Wall-clock timings go to the log only, never into
results.json.
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
from edgecloud.sim.clownfish.inputs import ClownfishSequence, load_sequences
from edgecloud.sim.clownfish.policy import ClownfishPolicy
from edgecloud.sim.clownfish.run import IdealSettings, Scoring, TraceSettings, run_clownfish
from edgecloud.sim.clownfish.scenario import ClownfishScenario, Layout
from edgecloud.sim.clownfish.scenario import ServerSettings as ClownfishServerSettings
from edgecloud.sim.clownfish.synthetic import SyntheticSettings, synthetic_sequences
from edgecloud.sim.react.policy import ReactPolicy
from edgecloud.sim.react.report import ReplayReport, summarize_metrics
from edgecloud.sim.react.scenario import DeviceLayout, ReactScenario, ServerSettings
from edgecloud.sim.runespoor.run import ProfilingSettings as RunespoorProfiling
from edgecloud.sim.runespoor.run import run_runespoor
from edgecloud.utils.config import check_config, without_hydra
from edgecloud.utils.jsonio import write_json_report

log = logging.getLogger(__name__)

RUN_FIGURES = ("tide", "response_cdf", "none")
RUNESPOOR_FIGURES = ("fig12", "none")
# what a Clownfish run logs, per mode
CLOWNFISH_SUMMARY = {
    "timed": ("sim/accuracy", "sim/f1", "sim/throughput_fps", "sim/lag_within_1"),
    "ideal": (
        "ideal/edge_only/accuracy",
        "ideal/cloud_only/accuracy",
        "ideal/clownfish_siminet/nw6/lag2/accuracy",
    ),
    "traces": ("traces/siminet/auc", "traces/cosine/auc", "traces/euclidean/auc"),
}


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


def scenario_name(cfg: DictConfig) -> str:
    """Which scenario a config describes: ``scenario.name`` (REACT's configs say ``react``)."""
    return str(OmegaConf.select(cfg, "scenario.name", default="react"))


def clownfish_sequences(cfg: DictConfig) -> list[ClownfishSequence]:
    """The videos a Clownfish run replays: ``scenario.synthetic`` ones when set, else those of
    the action recording ``scenario.recording`` (``sequences``, then ``max_videos``)."""
    scenario = cfg.scenario
    if scenario.synthetic is not None:
        options = OmegaConf.to_container(scenario.synthetic, resolve=True)
        count = options.pop("count", 12)
        seed = options.pop("seed", 0)
        sequences = synthetic_sequences(
            count=count, seed=seed, settings=SyntheticSettings(**options)
        )
        if scenario.sequences is not None:
            wanted = set(scenario.sequences)
            sequences = [s for s in sequences if s.name in wanted]
        return sequences[: scenario.max_videos] if scenario.max_videos else sequences
    return load_sequences(
        scenario.recording,
        names=list(scenario.sequences) if scenario.sequences is not None else None,
        max_videos=scenario.max_videos,
    )


def build_clownfish_scenario(
    cfg: DictConfig, *, sequences: list[ClownfishSequence] | None = None
) -> ClownfishScenario:
    """Instantiate and validate every part of the Clownfish scenario (no simulation yet), so
    a bad method, link or parameter stops the run before it starts. ``sequences`` replaces
    what :func:`clownfish_sequences` would load."""
    scenario = cfg.scenario
    method = scenario.method
    if method is None:
        choice = OmegaConf.select(cfg, "hydra.runtime.choices.method", default=None)
        raise ValueError(
            "scenario=clownfish needs a Clownfish method: method=clownfish_siminet (or "
            "clownfish_cosine, clownfish_fixma, clownfish_optsim, clownfish_edge_only, "
            "clownfish_edge_fixma, clownfish_cloud_only, clownfish_cloud_fixma, "
            f"clownfish_filtering); got method={choice or 'react'}, a REACT method"
        )
    policy_options = OmegaConf.to_container(scenario.policy, resolve=True)
    unknown = sorted(set(policy_options) - set(ClownfishPolicy.__dataclass_fields__))
    if unknown:
        raise ValueError(f"scenario.policy has keys Clownfish does not know: {unknown}")
    timed = scenario.mode == "timed"
    return ClownfishScenario(
        sequences=sequences if sequences is not None else clownfish_sequences(cfg),
        mode=scenario.mode,
        method=method,
        policy=ClownfishPolicy(**policy_options),
        layout=Layout(**OmegaConf.to_container(scenario.layout, resolve=True)),
        uplink=instantiate(cfg.network.uplink, _convert_="all") if timed else None,
        downlink=instantiate(cfg.network.downlink) if timed else None,
        server=ClownfishServerSettings(**OmegaConf.to_container(scenario.server, resolve=True)),
        worker_profile=instantiate(scenario.worker_profile) if timed else None,
        server_profile=instantiate(scenario.server_profile) if timed else None,
        relevance_profile=instantiate(scenario.relevance_profile) if timed else None,
        profile_mode=scenario.profile_mode,
        header_bytes=scenario.header_bytes,
        result_header_bytes=scenario.result_header_bytes,
        class_offset=scenario.class_offset,
    )


def simulate_clownfish(
    cfg: DictConfig, *, sequences: list[ClownfishSequence] | None = None
) -> dict[str, float | None]:
    """Run the configured Clownfish scenario; returns the flat metrics of results.json."""
    check_config(cfg, required=("scenario", "network"))
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(without_hydra(cfg), output_dir / "config.yaml", resolve=True)
    scenario = build_clownfish_scenario(cfg, sequences=sequences)
    settings = cfg.scenario
    ideal = OmegaConf.to_container(settings.ideal, resolve=True)
    labels = _clownfish_labels(cfg)
    started = time.perf_counter()
    results = run_clownfish(
        scenario,
        seed=int(cfg.seed),
        output_dir=output_dir,
        scoring=Scoring(**OmegaConf.to_container(settings.scoring, resolve=True)),
        ideal=IdealSettings(
            methods=tuple(ideal["methods"]),
            intervals=tuple(ideal["intervals"]),
            lags=tuple(ideal["lags"]),
            filter=ideal["filter"],
        ),
        traces=TraceSettings(**OmegaConf.to_container(settings.traces, resolve=True)),
        figure=str(cfg.figure),
        windows_csv=bool(cfg.frames_csv),
        label=str(labels.get("method", scenario.method.name)),
    )
    results["labels"] = labels
    write_json_report(output_dir / "results.json", results)
    metrics = results["metrics"]
    log.info(
        "clownfish %s (%s) in %.2f s: %s",
        scenario.mode,
        scenario.method.name,
        time.perf_counter() - started,
        summarize_metrics(metrics, keys=CLOWNFISH_SUMMARY[scenario.mode]),
    )
    log.info("results in %s", output_dir)
    return metrics


def simulate_runespoor(cfg: DictConfig) -> dict[str, float | None]:
    """Run the configured Runespoor scenario (:mod:`edgecloud.sim.runespoor.run`); writes
    config.yaml and results.json besides its own files; returns the flat metrics."""
    check_config(cfg, required=("scenario", "network"))
    if cfg.figure not in RUNESPOOR_FIGURES:
        raise ValueError(f"figure must be one of {RUNESPOOR_FIGURES}, got {cfg.figure!r}")
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(without_hydra(cfg), output_dir / "config.yaml", resolve=True)
    settings = cfg.scenario
    started = time.perf_counter()
    results = run_runespoor(
        recording_root=settings.recording,
        methods=list(settings.methods),
        profiling=RunespoorProfiling(**OmegaConf.to_container(settings.profiling, resolve=True)),
        edge=OmegaConf.to_container(settings.edge, resolve=True),
        duration_s=settings.duration_s,
        uplink=instantiate(cfg.network.uplink, _convert_="all"),
        downlink=instantiate(cfg.network.downlink),
        server_profile=instantiate(settings.server_profile) if settings.server_profile else None,
        seed=int(cfg.seed),
        output_dir=output_dir,
        frames_csv=bool(cfg.frames_csv),
        figure=cfg.figure != "none",
    )
    write_json_report(output_dir / "results.json", results)
    metrics = results["metrics"]
    summary = [f"sim/{m}/relative_miou" for m in settings.methods]
    log.info(
        "runespoor in %.2f s: %s",
        time.perf_counter() - started,
        summarize_metrics(metrics, keys=(*summary, "profile/threshold")),
    )
    log.info("results in %s", output_dir)
    return metrics


def _clownfish_labels(cfg: DictConfig) -> dict[str, object]:
    """What a sweep labels a Clownfish run by: the config group choices, method and mode."""
    choices = OmegaConf.select(cfg, "hydra.runtime.choices")
    if choices is None:
        try:
            from hydra.core.hydra_config import HydraConfig

            choices = HydraConfig.get().runtime.choices
        except ValueError:
            choices = {}
    labels: dict[str, object] = {
        group: choices[group] for group in ("method", "network", "scenario") if group in choices
    }
    labels["clownfish_method"] = cfg.scenario.method
    labels["mode"] = cfg.scenario.mode
    return labels


def simulate(cfg: DictConfig) -> dict[str, float | None]:
    """Run the configured scenario; returns the flat metrics of results.json."""
    if scenario_name(cfg) == "clownfish":
        return simulate_clownfish(cfg)
    if scenario_name(cfg) == "runespoor":
        return simulate_runespoor(cfg)
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
