"""The benchmark scripts run end to end at a trivial size and write well-formed results.

Only the shape of the results is checked, never a timing: timings depend on the machine and on
whatever else it is running.
"""

from __future__ import annotations

import json
import math
from types import ModuleType

import pytest

from tests.script_modules import load_script


def load_benchmark(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (a script folder, not a package)."""
    return load_script("benchmarks", name)


def assert_positive_seconds(values: list[float]) -> None:
    assert values and all(isinstance(v, float) and v > 0 and math.isfinite(v) for v in values)


def test_coco_eval_speed_smoke(tmp_path, capsys):
    bench = load_benchmark("coco_eval_speed")
    output = tmp_path / "coco.json"

    result = bench.main(["--images", "20", "--repeats", "1", "--output", str(output)])

    assert json.loads(output.read_text()) == json.loads(json.dumps(result))
    assert result["agree"] and result["max_abs_diff"] < 1e-9
    assert result["data"]["images"] == 20
    assert result["data"]["ground_truth_boxes"] > 0 and result["data"]["ignore_regions"] > 0
    assert result["data"]["detections"] > result["data"]["ground_truth_boxes"]
    assert 0.0 < result["map"] < 1.0
    for backend in ("faster", "pycocotools"):
        assert_positive_seconds(result["backends"][backend]["times_s"])
    assert set(result["stages"]) == {"conversion", "backend:faster", "backend:pycocotools"}
    machine = result["machine"]
    assert machine["cpu_count"] >= 1 and machine["date"]
    assert set(machine["versions"]) == {"torch", "numpy", "faster-coco-eval", "pycocotools"}
    table = capsys.readouterr().out
    assert "| 20 |" in table and "speedup" in table


def test_coco_synthetic_set_is_seeded():
    bench = load_benchmark("coco_eval_speed")
    config = bench.SyntheticConfig(images=3, seed=7)
    a, b = bench.build_evaluation_set(config), bench.build_evaluation_set(config)
    for frame_a, frame_b in zip(a.detections, b.detections, strict=True):
        assert (frame_a.boxes == frame_b.boxes).all() and (frame_a.scores == frame_b.scores).all()
    for frame in a.detections:
        assert (frame.boxes[:, 2:] >= frame.boxes[:, :2]).all()
        assert frame.boxes[:, [0, 2]].max() <= config.width
        assert frame.boxes[:, [1, 3]].max() <= config.height


def test_training_throughput_smoke(tmp_path, capsys):
    bench = load_benchmark("training_throughput")
    output = tmp_path / "throughput.json"

    report = bench.main(
        [
            "--models", "tiny_fcos",
            "--image-size", "64", "96",
            "--batch-size", "2",
            "--steps", "2",
            "--warmup-steps", "1",
            "--rounds", "1",
            "--output", str(output),
        ]
    )  # fmt: skip

    written = json.loads(output.read_text())
    assert written == json.loads(json.dumps(report))
    [result] = written["results"]
    assert result["model"] == "tiny_fcos" and result["parameters"] > 0
    assert result["spec"]["image_size"] == [64, 96]
    for method in ("plain", "lightning"):
        summary = result["methods"][method]
        [run] = summary["runs"]
        assert len(run["step_s"]) == 2
        assert_positive_seconds(run["step_s"])
        assert run["images_per_s"] > 0 and summary["peak_memory_bytes"] is None
        assert math.isfinite(summary["first_loss"])
    # Same seed, same data, same optimizer: both methods start from the same loss.
    plain, lightning = (result["methods"][m]["first_loss"] for m in ("plain", "lightning"))
    assert plain == pytest.approx(lightning, rel=1e-5)
    assert result["lightning_over_plain"] > 0
    table = capsys.readouterr().out
    assert "| tiny_fcos | 2 | 64x96 |" in table


def test_training_throughput_rejects_amp_on_cpu():
    bench = load_benchmark("training_throughput")
    with pytest.raises(SystemExit):
        bench.parse_args(["--amp", "--device", "cpu"])


def test_simulator_speed_smoke(tmp_path, capsys):
    bench = load_benchmark("simulator_speed")
    output = tmp_path / "simulator.json"

    # --toy: generated recordings, so the test does not depend on `make demo` having run.
    result = bench.main(["--quick", "--toy", "--profile", "always", "--output", str(output)])

    assert json.loads(output.read_text()) == json.loads(json.dumps(result))
    assert result["quick"] and result["recordings"]["kind"] == "toy"
    replay = result["replay"]
    cases = [("motion", "short"), ("motion", "long"), ("lk", "short")]
    cases += [("kcf", "subset"), ("csrt", "subset")]
    for tracker, case in cases:
        summary = replay[tracker][case]
        assert summary["frames"] > 0 and summary["median_frames_per_s"] > 0
        assert_positive_seconds([run["replay_s"] for run in summary["runs"]])
        assert_positive_seconds([run["score_s"] for run in summary["runs"]])
        assert 0.0 <= summary["map50"] <= 1.0
    # --quick: one sequence, 2 s against 4 s per device.
    assert replay["motion"]["long"]["frames"] == 2 * replay["motion"]["short"]["frames"] == 120
    for tracker, case in cases[2:]:
        timed = replay[tracker][case]["tracker"]
        assert timed["steps"] > 0 and timed["ms_per_object_step"] > 0
    heatmap = result["heatmap"]
    assert heatmap["in_process"]["cells"] == heatmap["cli"]["cells"] == 2
    assert heatmap["cli"]["same_map50_as_in_process"]
    assert heatmap["cli"]["rounds"][0]["heatmap_png"]
    scaling = result["scalability"]
    assert scaling["devices"] == 5 and set(scaling["cases"]) == {"closed", "open"}
    for case in scaling["cases"].values():
        assert case["requests"] > 0
        assert_positive_seconds([run["total_s"] for run in case["runs"]])
    memory = result["memory"]
    base, longer = memory["probes"]["base"], memory["probes"]["longer"]
    assert longer["frames"] == memory["factor"] * base["frames"]
    assert longer["kept"]["displayed_frames"] == longer["frames"]
    assert memory["recording"]["disk_bytes"] > 0 and memory["recording"]["memory_bytes"] > 0
    assert memory["retained_bytes_per_extra_frame"] > 0
    # Targets are judged only on the full-size demo replay.
    assert {t["name"] for t in result["targets"]} >= {"replay:motion:short", "scalability:open"}
    assert all(t["met"] is None for t in result["targets"])
    assert result["profile"]["top_own_time"] and result["profile"]["frames"] == 120
    table = capsys.readouterr().out
    assert "| replay motion (short) | 60 frames |" in table and "heatmap sweep, cli" in table


def test_inference_latency_writes_a_profile_the_simulator_reads(tmp_path):
    from edgecloud.sim.compute import ComputeProfile

    bench = load_benchmark("inference_latency")
    output = tmp_path / "latency.json"
    bench.main(
        [
            "--model",
            "tiny_edge",
            "--batch-sizes",
            "1",
            "2",
            "--repeats",
            "2",
            "--warmup",
            "0",
            "--threads",
            "1",
            "--output",
            str(output),
        ]
    )
    profile = ComputeProfile.from_benchmark(file=output, model="tiny_edge", device="cpu")
    profile.require_batch_sizes(2)
    report = json.loads(output.read_text())
    for entry in report["profiles"]:
        assert len(entry["latency_s"]) == 2
        assert_positive_seconds(entry["latency_s"])


def test_action_models_smoke(tmp_path, capsys):
    bench = load_benchmark("action_models")
    output = tmp_path / "action_models.json"

    report = bench.main(
        ["--quick", "--models", "tiny_local", "siminet_tiny", "--output", str(output)]
    )

    written = json.loads(output.read_text())
    assert written == json.loads(json.dumps(report))
    assert written["quick"] and written["device"] == "cpu"
    assert written["machine"]["torch_threads"] == 1 and written["machine"]["cpu_model"]
    assert "git_commit" in written["source"]
    local, similarity = written["results"]
    assert local["model"] == "tiny_local" and similarity["model"] == "siminet_tiny"
    # tiny_local resizes the 8x64x64 quick windows to its config's input_size, 56
    assert local["input_shape"] == [3, 8, 64, 64]
    assert local["network_input_shape"] == [3, 8, 56, 56]
    # SimiNet compares pairs of the tiny local model's features
    assert similarity["input_shape"] == [2, local["details"]["feature_dim"]]
    for result in (local, similarity):
        assert result["parameters"] > 0 and result["forward_gflops"] > 0
        latency = result["latency"]
        assert len(latency["samples_s"]) == latency["repeats"] == 2
        assert_positive_seconds(latency["samples_s"])
        assert latency["p95_ms"] >= latency["median_ms"] > 0
        [train] = result["training"]
        assert train["batch_size"] == 2 and train["clips_per_s"] > 0
        assert_positive_seconds(train["samples_s"])
        assert math.isfinite(train["first_loss"]) and train["peak_memory_bytes"] is None
    table = capsys.readouterr().out
    assert "| tiny_local | 0.53 |" in table and "| siminet_tiny |" in table


def test_action_models_skips_cuda_without_a_gpu(tmp_path, monkeypatch):
    bench = load_benchmark("action_models")
    monkeypatch.setattr(bench.torch.cuda, "is_available", lambda: False)
    output = tmp_path / "action_models_cuda.json"

    report = bench.main(["--quick", "--device", "cuda", "--output", str(output)])

    assert report["skipped"] and not output.exists()


def test_runespoor_smoke(tmp_path, capsys):
    bench = load_benchmark("runespoor")
    output = tmp_path / "runespoor.json"

    report = bench.main(["--quick", "--output", str(output)])

    written = json.loads(output.read_text())
    assert written == json.loads(json.dumps(report))
    assert written["quick"] and written["device"] == "cpu"
    assert written["machine"]["torch_threads"] == 1 and written["machine"]["cpu_model"]
    assert "git_commit" in written["source"]
    # --quick: 96x48 frames, scales 2 and 4, every SR model at each
    inference = written["sr_inference"]
    assert [(row["model"], row["scale"]) for row in inference] == [
        (model, scale) for scale in (2, 4) for model in ("bicubic", "carn_m", "carn")
    ]
    for row in inference:
        assert row["input_shape"] == [1, 3, 48 // row["scale"], 96 // row["scale"]]
        assert row["output_shape"] == [1, 3, 48, 96]
        assert (row["parameters"] > 0) == (row["model"] != "bicubic")
    segmentation = written["segmentation"]
    assert segmentation["output_shape"] == [1, 19, 48, 96] and segmentation["parameters"] > 0
    training = written["sr_training"]
    assert [(row["scale"], row["objective"]) for row in training] == [
        (scale, objective)
        for scale in (2, 4)
        for objective in ("reconstruction", "analytics_aware")
    ]
    for row in training:
        assert row["lr_crop"] == [48 // row["scale"]] * 2 and row["small_pixel_fraction"] > 0
        assert math.isfinite(row["first_loss"])
        # the per-round difference of the interleaved steps (either sign under noise)
        extras = [row.get(f"extra_over_reconstruction_{k}") for k in ("median_ms", "cpu_median_ms")]
        if row["objective"] == "analytics_aware":
            assert all(math.isfinite(extra) for extra in extras)
        else:
            assert extras == [None, None]
    server, edge = written["cac"]["server"], written["cac"]["edge"]
    assert [(row["hr_size"], row["downsample"]) for row in server] == [
        ([96, 48], downsample) for downsample in (1, 2, 4)
    ]
    assert all(0.0 <= row["small_region_ratio"] <= 1.0 for row in server)
    assert [row["profiles"] for row in edge] == [18, 18]
    timings = [row["latency"] for row in [*inference, segmentation]]
    timings += [row["step"] for row in training] + [row["call"] for row in server + edge]
    for timing in timings:
        assert len(timing["samples_s"]) == len(timing["cpu_samples_s"]) == timing["repeats"] == 2
        assert_positive_seconds(timing["samples_s"])
        assert all(v >= 0 and math.isfinite(v) for v in timing["cpu_samples_s"])
    assert [row["call"]["calls_per_sample"] for row in edge] == [10, 10]
    table = capsys.readouterr().out
    assert "| carn_m | 2 | 24x48 |" in table and "| server | 96x48 | 4 |" in table


def test_runespoor_rejects_scales_that_do_not_divide_the_frame():
    bench = load_benchmark("runespoor")
    with pytest.raises(SystemExit):
        bench.parse_args(["--quick", "--hr-size", "100", "50", "--scales", "4"])


def test_runespoor_skips_cuda_without_a_gpu(tmp_path, monkeypatch):
    bench = load_benchmark("runespoor")
    monkeypatch.setattr(bench.torch.cuda, "is_available", lambda: False)
    output = tmp_path / "runespoor_cuda.json"

    report = bench.main(["--quick", "--device", "cuda", "--output", str(output)])

    assert report["skipped"] and not output.exists()
