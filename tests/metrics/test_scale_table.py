"""Tables II/IV across scales: comparisons read, checked against each other, tabulated."""

from __future__ import annotations

import json
import math

import pytest

from edgecloud.data.degradation import Knobs
from edgecloud.metrics.scale_table import (
    plot_scales,
    read_comparisons,
    scale_rows,
    scale_table_markdown,
)
from tests.script_modules import load_script

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def main(argv: list[str]) -> None:
    load_script("scripts", "runespoor_scale_table").main(argv)


def method(miou: float, *, tail: float, psnr: float | None = 30.0) -> dict[str, object]:
    return {
        "mIoU": miou,
        "tail_mIoU": tail,
        "tail_normalized": tail / 0.5,
        "psnr": psnr,
        "ssim": None if psnr is None else 0.9,
        "frames": 12,
        "tail_classes": ["pole", "sign"],
    }


def write_comparison(
    directory, *, scale: int, quality: int = 90, segmenter: str = "seg.ckpt", frames: int = 12
):
    methods = {
        "sr": method(0.6 - scale / 100, tail=0.3),
        "bilinear": method(0.5 - scale / 100, tail=0.2),
        "asr": method(0.55 - scale / 100, tail=0.4),
        "hr": {**method(0.7, tail=0.5, psnr=None), "frames": frames},
    }
    directory.mkdir(parents=True)
    report = {"knobs": f"x{scale}_q{quality}", "segmenter": segmenter, "methods": methods}
    (directory / "metrics.json").write_text(json.dumps(report))
    return directory


def test_knobs_round_trip_through_their_name() -> None:
    assert Knobs.from_name("x4_q90") == Knobs(scale=4, quality=90)
    assert Knobs.from_name(Knobs(scale=8, quality=40).name) == Knobs(scale=8, quality=40)
    with pytest.raises(ValueError, match="looks like x4_q90"):
        Knobs.from_name("4x_q90")


def test_rows_are_sorted_by_scale_then_method_with_hr_last(tmp_path) -> None:
    comparisons = read_comparisons(
        [write_comparison(tmp_path / "b", scale=8), write_comparison(tmp_path / "a", scale=2)]
    )
    rows = scale_rows(comparisons)
    assert [(row["scale"], row["method"]) for row in rows] == [
        (2, "bilinear"),
        (2, "sr"),
        (2, "asr"),
        (2, "hr"),
        (8, "bilinear"),
        (8, "sr"),
        (8, "asr"),
        (8, "hr"),
    ]
    asr_x8 = rows[6]
    assert asr_x8["mIoU"] == pytest.approx(0.47)
    assert asr_x8["tail_normalized"] == pytest.approx(0.8)
    assert math.isnan(rows[3]["psnr"]) and math.isnan(rows[3]["ssim"])  # HR is the original


def test_markdown_has_one_line_per_row_and_the_tail_classes(tmp_path) -> None:
    rows = scale_rows(read_comparisons([write_comparison(tmp_path / "x4", scale=4)]))
    text = scale_table_markdown(rows, title="T")
    assert "| x4 | asr | 51.00 | 40.00 | 0.80 | 30.00 | 0.900 |" in text
    assert "| x4 | hr | 70.00 | 50.00 | 1.00 | — | — |" in text
    assert "- x4: pole, sign" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scale": 4}, "both at x4"),
        ({"segmenter": "other.ckpt"}, "segmenter 'other.ckpt' differs"),
        ({"quality": 50}, "JPEG quality 50 differs"),
        ({"frames": 6}, "number of frames 6 differs"),
    ],
)
def test_comparisons_that_cannot_share_a_table_are_refused(tmp_path, change, message) -> None:
    first = write_comparison(tmp_path / "first", scale=4)
    second = write_comparison(tmp_path / "second", **{"scale": 8, **change})
    with pytest.raises(ValueError, match=message) as error:
        read_comparisons([first, second])
    assert "second" in str(error.value)


def test_unreadable_comparisons_are_named(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"missing.*not a readable"):
        read_comparisons([tmp_path / "missing"])
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match=r"broken\.json: not a readable"):
        read_comparisons([broken])
    no_hr = write_comparison(tmp_path / "no_hr", scale=2)
    report = json.loads((no_hr / "metrics.json").read_text())
    del report["methods"]["hr"]
    (no_hr / "metrics.json").write_text(json.dumps(report))
    with pytest.raises(ValueError, match=r"no_hr/metrics\.json: the comparison has no .hr. row"):
        read_comparisons([no_hr])


def test_figure_is_a_deterministic_png(tmp_path) -> None:
    rows = scale_rows(
        read_comparisons(
            [write_comparison(tmp_path / "a", scale=2), write_comparison(tmp_path / "b", scale=4)]
        )
    )
    plot_scales(rows, path=tmp_path / "one.png")
    plot_scales(rows, path=tmp_path / "two.png")
    data = (tmp_path / "one.png").read_bytes()
    assert data.startswith(PNG_SIGNATURE) and data == (tmp_path / "two.png").read_bytes()


def test_script_writes_the_table_and_refuses_a_clash(tmp_path, capsys) -> None:
    runs = [write_comparison(tmp_path / f"x{s}", scale=s) for s in (2, 4)]
    output = tmp_path / "out"
    main(["--comparison", str(runs[0]), "--comparison", str(runs[1]), "--output", str(output)])
    assert "| x2 | bilinear | 48.00 |" in (output / "table2.md").read_text()
    assert (output / "table2.png").read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(SystemExit) as exit_info:
        main(["--comparison", str(runs[0]), "--comparison", str(runs[0]), "--output", str(output)])
    assert exit_info.value.code == 2
    assert "both at x2" in capsys.readouterr().err
