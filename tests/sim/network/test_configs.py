"""Every preset in configs/network/ instantiates into two working link specs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

ROOT = Path(__file__).parents[3]
PRESETS = sorted((ROOT / "configs" / "network").glob("*.yaml"))


def load_preset(path: Path, tmp_path: Path):
    """The preset as simulate.py sees it: paths.root_dir set, ??? filled where a user must."""
    preset = OmegaConf.load(path)
    assert set(preset) == {"name", "uplink", "downlink"}, path.name
    cfg = OmegaConf.merge({"paths": {"root_dir": str(ROOT)}}, {"network": preset})
    if path.stem == "request_log":
        log = tmp_path / "requests.csv"
        log.write_text("send_s,receive_s\n0.0,0.2\n")
        cfg.network.uplink.log_file = str(log)
    OmegaConf.resolve(cfg)
    return cfg.network


def test_presets_exist():
    names = {path.stem for path in PRESETS}
    assert {"ideal", "wifi_30ms", "lte_verizon", "lte_synthetic", "request_log"} <= names


@pytest.mark.parametrize("path", PRESETS, ids=lambda path: path.stem)
def test_preset_instantiates_and_transmits(path, tmp_path):
    network = load_preset(path, tmp_path)
    assert isinstance(network.name, str) and network.name
    for direction in ("uplink", "downlink"):
        link = instantiate(network[direction]).build(rng=np.random.default_rng(0))
        arrival = link.transmit(send_time_s=1.0, num_bytes=20_000)
        assert 1.0 <= arrival < 3.0, (path.stem, direction, arrival)


def test_wifi_30ms_is_24_mbps_plus_30_ms_each_way(tmp_path):
    network = load_preset(ROOT / "configs/network/wifi_30ms.yaml", tmp_path)
    for direction in ("uplink", "downlink"):
        link = instantiate(network[direction]).build(rng=np.random.default_rng(0))
        expected = 3000 * 8 / 24e6 + 0.030
        assert link.transmit(send_time_s=0.0, num_bytes=3000) == pytest.approx(expected)


def test_request_log_preset_requires_a_log_file():
    preset = OmegaConf.load(ROOT / "configs/network/request_log.yaml")
    assert OmegaConf.is_missing(preset.uplink, "log_file")
