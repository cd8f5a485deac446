"""Several restoration methods' knob recordings side by side (Fig. 11): the combined table is
every method's knob_rows, the figure a deterministic PNG, and recordings of other frames are
refused naming their directory."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from edgecloud.metrics.knob_summary import (
    check_same_frames,
    knob_comparison_markdown,
    knob_rows,
    plot_methods_vs_bandwidth,
)
from edgecloud.recording.knobs import KnobRecording
from tests.recording.test_knob_recording import clip_arrays, write

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def method_arrays(intersection: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Two frames where every class scores ``intersection`` / 100 under both knobs, HR 1, and
    the first knob (x2_q90) costs 1000 and 3000 bytes."""
    arrays = clip_arrays(frames=2, seed=seed)
    arrays["union"] = np.full_like(arrays["union"], 100)
    arrays["intersection"] = np.full_like(arrays["union"], intersection)
    arrays["hr_intersection"] = arrays["hr_union"] = np.full_like(arrays["hr_union"], 100)
    arrays["frame_bytes"] = np.array([[1000, 3000], [500, 700]])
    return arrays


@pytest.fixture
def recordings(tmp_path) -> dict[str, KnobRecording]:
    for name, intersection in (("bilinear", 50), ("asr", 75)):
        write(tmp_path / name, {"aachen_000001": method_arrays(intersection)})
    return {name: KnobRecording.open(tmp_path / name) for name in ("bilinear", "asr")}


def test_the_combined_table_holds_every_methods_knob_rows(recordings) -> None:
    rows = {name: knob_rows(recording) for name, recording in recordings.items()}
    text = knob_comparison_markdown(rows, title="methods")
    lines = text.splitlines()
    assert lines[0] == "# methods"
    # by hand: 2000 bytes x 8 bits x 17 fps = 0.272 Mbps; IoU 50/100 on every class; HR 1
    assert "| bilinear | x2_q90 | 0.272 | 50.00 | 0.500 |" in lines
    assert "| asr | x4_q40 | 0.082 | 75.00 | 0.750 |" in lines
    assert lines[-1] == "| HR | | | 100.00 | 1.000 |"
    table = [line for line in lines if line.startswith("| bilinear") or line.startswith("| asr")]
    expected = [
        f"| {name} | {row['knobs']} | {row['mbps']:.3f} | {100 * row['miou']:.2f} | "
        f"{row['relative_miou']:.3f} |"
        for name, method_rows in rows.items()
        for row in method_rows
        if row["knobs"] != "hr"
    ]
    assert table == expected and len(table) == 4


def test_the_methods_figure_is_a_deterministic_png(recordings, tmp_path) -> None:
    rows = {name: knob_rows(recording) for name, recording in recordings.items()}
    first, second = tmp_path / "a" / "fig11.png", tmp_path / "b" / "fig11.png"
    plot_methods_vs_bandwidth(rows, path=first)
    plot_methods_vs_bandwidth(rows, path=second)
    data = first.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and b"Software" not in data
    image = imread(first)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300 and image.std() > 0
    assert second.read_bytes() == data


def test_rows_of_different_hr_results_are_refused(recordings) -> None:
    rows = {name: knob_rows(recording) for name, recording in recordings.items()}
    rows["asr"][-1] = {**rows["asr"][-1], "miou": 0.5}
    with pytest.raises(ValueError, match="not of the same frames: HR mIoU"):
        knob_comparison_markdown(rows, title="methods")


def test_recordings_of_the_same_frames_pass(recordings) -> None:
    check_same_frames(list(recordings.values()))


def test_recordings_of_other_frames_are_refused_naming_both(tmp_path, recordings) -> None:
    other_hr = method_arrays(50)
    other_hr["hr_intersection"] = other_hr["hr_intersection"] // 2
    write(tmp_path / "other_hr", {"aachen_000001": other_hr})
    write(tmp_path / "other_clip", {"bonn_000001": method_arrays(50)})
    write(tmp_path / "longer", {"aachen_000001": clip_arrays(frames=3)})
    first = recordings["bilinear"]
    for name, problem in (
        ("other_hr", "the HR results of clip aachen_000001 differ"),
        ("other_clip", r"\('bonn_000001', 2, 17.0\), not \('aachen_000001', 2, 17.0\)"),
        ("longer", r"\('aachen_000001', 3, 17.0\), not \('aachen_000001', 2, 17.0\)"),
    ):
        other = KnobRecording.open(tmp_path / name)
        with pytest.raises(ValueError, match=problem) as error:
            check_same_frames([first, other])
        assert str(error.value).startswith(
            f"{tmp_path / name} is not a recording of the frames of {tmp_path / 'bilinear'}"
        )
