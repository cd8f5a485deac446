"""Model output for one frame, in the numpy form shared by evaluation, recordings and the simulator.

Kept free of torch so the simulator can use it without importing training code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FrameDetections:
    """Detections of one frame: float32 ``(x1, y1, x2, y2)`` pixel boxes, class ids ``1..C``
    (the data config's order) and float32 scores in ``[0, 1]``."""

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), dtype=np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), dtype=np.int64))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), dtype=np.float32))

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.boxes.shape != (n, 4) or self.scores.shape != (n,):
            raise ValueError(
                f"inconsistent detection arrays: boxes {self.boxes.shape}, "
                f"labels {self.labels.shape}, scores {self.scores.shape}"
            )

    def __len__(self) -> int:
        return len(self.labels)
