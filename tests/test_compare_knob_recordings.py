"""scripts/compare_knob_recordings.py: several methods' knob recordings into one Fig. 11 and
one table, and argparse errors naming the recording that is missing, corrupt or of other
frames."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from edgecloud.metrics.knob_summary import knob_rows
from edgecloud.recording.knobs import KnobRecording
from tests.metrics.test_knob_summary import PNG_SIGNATURE, method_arrays
from tests.recording.test_knob_recording import write
from tests.script_modules import load_script


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script("scripts", "compare_knob_recordings")


@pytest.fixture
def recordings(tmp_path) -> dict[str, Path]:
    paths = {"bilinear": tmp_path / "bilinear", "asr": tmp_path / "asr"}
    for path, intersection in zip(paths.values(), (50, 75), strict=True):
        write(path, {"aachen_000001": method_arrays(intersection)})
    return paths


def arguments(paths: dict[str, Path], output: Path) -> list[str]:
    labelled = [["--recording", f"{name}={path}"] for name, path in paths.items()]
    return [*(argument for pair in labelled for argument in pair), "--output", str(output)]


def test_writes_the_figure_and_the_table(script, recordings, tmp_path, capsys) -> None:
    output = tmp_path / "out"
    script.main(arguments(recordings, output))
    text = (output / "knobs_methods.md").read_text()
    assert text.startswith(
        f"# Accuracy against bandwidth per method and configuration "
        f"(bilinear: {recordings['bilinear']}, asr: {recordings['asr']})"
    )
    for name, path in recordings.items():
        for row in knob_rows(KnobRecording.open(path))[:-1]:
            assert f"| {name} | {row['knobs']} | {row['mbps']:.3f} |" in text
    assert "| bilinear | x2_q90 | 0.272 | 50.00 | 0.500 |" in text
    assert (output / "fig11_methods.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "fig11_methods.png" in capsys.readouterr().out


def fails(script, argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        script.main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_a_recording_of_other_frames_is_refused_naming_it(
    script, recordings, tmp_path, capsys
) -> None:
    other = method_arrays(50)
    other["hr_intersection"] = other["hr_intersection"] // 2
    write(tmp_path / "other", {"aachen_000001": other})
    error = fails(script, arguments({**recordings, "sr": tmp_path / "other"}, tmp_path), capsys)
    assert f"error: {tmp_path / 'other'} is not a recording of the frames of" in error
    assert "HR results of clip aachen_000001 differ" in error
    assert not (tmp_path / "knobs_methods.md").exists()


def test_a_missing_or_corrupt_recording_is_refused_naming_it(
    script, recordings, tmp_path, capsys
) -> None:
    missing = tmp_path / "missing"
    error = fails(script, arguments({**recordings, "sr": missing}, tmp_path / "out"), capsys)
    assert f"error: {missing / 'manifest.json'}: not a knob recording" in error
    clip = recordings["asr"] / "sequences" / "aachen_000001.npz"
    clip.write_bytes(b"not a zip")
    error = fails(script, arguments(recordings, tmp_path / "out"), capsys)
    assert f"error: {clip}: sequence file is not an .npz (zip) archive" in error


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--recording", "bilinear", "--output", "out"], "expected LABEL=PATH, got 'bilinear'"),
        (
            ["--recording", "a=x", "--recording", "a=y", "--output", "out"],
            r"labels must be distinct, got ['a', 'a']",
        ),
    ],
)
def test_malformed_arguments_are_refused(script, capsys, argv, message) -> None:
    assert message in fails(script, argv, capsys)
