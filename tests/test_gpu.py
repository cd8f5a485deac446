"""GPU paths: marked ``gpu`` and skipped automatically where CUDA is absent (see conftest)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgecloud.cli.train import train
from edgecloud.models.detectors import tiny_fcos
from tests.conftest import TINY_WORLD_OVERRIDES, compose_config

pytestmark = pytest.mark.gpu


def test_gpu_trainer_runs_with_mixed_precision(tmp_path, data_dir, tiny_world):
    overrides = ["experiment=react/tiny_edge", *TINY_WORLD_OVERRIDES, "trainer=gpu", "debug=fdr"]
    cfg = compose_config("train", overrides=overrides, tmp_path=tmp_path, data_dir=data_dir)
    assert cfg.trainer.precision == "16-mixed"
    metrics = train(cfg)
    assert np.isfinite(metrics["train/loss"])


def test_detector_predicts_the_same_on_gpu_and_cpu():
    torch.manual_seed(0)
    model = tiny_fcos(num_classes=3, min_size=96, max_size=160).eval()
    image = torch.rand(3, 96, 160)
    with torch.no_grad():
        (on_cpu,) = model([image])
        (on_gpu,) = model.cuda()([image.cuda()])
    torch.testing.assert_close(on_gpu["scores"].cpu(), on_cpu["scores"], atol=1e-3, rtol=1e-3)
