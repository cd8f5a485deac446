"""The list of objects an edge device currently believes in, as parallel numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Source(IntEnum):
    """Which detector last updated an object (REACT's ``last_det_source``)."""

    EDGE = 0
    CLOUD = 1


@dataclass(frozen=True, eq=False)
class ObjectSet:
    """Objects with a stable ``id`` each, float64 ``(x1, y1, x2, y2)`` pixel boxes, class ids
    ``1..C``, float64 confidence and the source that last updated them.

    Instances are treated as immutable: every operation returns a new set.
    """

    ids: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    sources: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.ids)
        if (
            self.boxes.shape != (n, 4)
            or self.labels.shape != (n,)
            or self.scores.shape != (n,)
            or self.sources.shape != (n,)
        ):
            raise ValueError(
                f"inconsistent object arrays: ids {self.ids.shape}, boxes {self.boxes.shape}, "
                f"labels {self.labels.shape}, scores {self.scores.shape}, "
                f"sources {self.sources.shape}"
            )

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> ObjectSet:
        return cls(
            ids=np.zeros(0, dtype=np.int64),
            boxes=np.zeros((0, 4), dtype=np.float64),
            labels=np.zeros(0, dtype=np.int64),
            scores=np.zeros(0, dtype=np.float64),
            sources=np.zeros(0, dtype=np.int8),
        )

    @classmethod
    def from_detections(
        cls,
        *,
        boxes: np.ndarray,
        labels: np.ndarray,
        scores: np.ndarray,
        source: Source,
        first_id: int,
    ) -> ObjectSet:
        """New objects with consecutive ids starting at ``first_id``."""
        n = len(labels)
        return cls(
            ids=np.arange(first_id, first_id + n, dtype=np.int64),
            boxes=np.asarray(boxes, dtype=np.float64).reshape(n, 4),
            labels=np.asarray(labels, dtype=np.int64),
            scores=np.asarray(scores, dtype=np.float64),
            sources=np.full(n, int(source), dtype=np.int8),
        )
