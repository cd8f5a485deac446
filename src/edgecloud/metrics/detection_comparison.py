"""Runespoor's side-by-side scores of the ways a server can restore degraded frames, for object
detection (section V-B: Fig. 8's class-wise tail, next to the overall mAP, the frame-wise tail
and the reconstruction scores the segmentation comparison reports).

Every method (bilinear or bicubic upsampling, standard SR, ASR, and HR: the original frame) is
scored on the same frames with the same frozen detector. :class:`DetectionFrames` holds the
frames' ground truth, shared by every method; a :class:`DetectionMethodScores` accumulates one
method's detections and restored frames; :func:`compare_detection_methods` turns them into one
row per method:

* overall, COCO's protocol (:func:`~edgecloud.metrics.coco.evaluate_detections`): ``mAP``
  (AP@[.5:.95]), ``mAP50``, ``mAP75`` and per class ``ap`` and ``ap50`` (``None`` for a class
  without ground truth);
* small objects: ``small_mAP`` and ``small_mAP50``, the same scores against the ground truth
  reduced to its small boxes (:func:`~edgecloud.metrics.coco.small_object_ground_truth`: the
  other boxes become ignore regions), as the SR module's ``val/small_mAP``. Which boxes are
  small is the caller's: the evaluation entry point flags those under the data's
  ``small_box_fraction`` of the frame's area, the boxes ASR's detection loss is computed on.
  COCO's "small" area range (under 32² pixels) is not evaluated;
* class-wise tail (Fig. 8): the worst half of the classes that have an AP, by the
  ``tail_baseline`` method's AP@[.5:.95] normalised by HR's, the same classes for every method
  (:func:`~edgecloud.metrics.method_comparison.class_tails`); ``tail_AP`` is a method's mean AP
  over them and ``tail_normalized`` that mean over HR's;
* frame-wise tail (Table III; the paper shows it for segmentation only and says detection
  "shows similar results"): a frame's score is its own AP50, COCO's AP at IoU 0.5 of the
  frame's detections against the frame's ground truth, averaged over the classes present in
  the frame. A frame without ground truth has no score and is left out. The scores are
  averaged over episodes of ``episode_length`` consecutive scored frames of a video, as
  :func:`~edgecloud.metrics.tail.frame_tail_accuracy` does for per-frame mIoU: ``frame_mean``,
  ``frame_tail_90`` and ``frame_tail_99``, and the episodes themselves (``episode_ap50``);
* reconstruction, bytes and restoration time: as for segmentation
  (:class:`~edgecloud.metrics.method_comparison.RestorationScores`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from edgecloud.data.annotations import FrameAnnotations
from edgecloud.detections import FrameDetections
from edgecloud.metrics.coco import DetectionMetrics, evaluate_detections, small_object_ground_truth
from edgecloud.metrics.method_comparison import (
    Column,
    RestorationScores,
    check_methods,
    class_tails,
    comparison_markdown,
)
from edgecloud.metrics.tail import frame_tail_accuracy

DETECTION_COLUMNS = (
    Column("mAP %", "mAP", factor=100),
    Column("AP50 %", "mAP50", factor=100),
    Column("small mAP %", "small_mAP", factor=100),
    Column("tail AP %", "tail_AP", factor=100),
    Column("tail / HR", "tail_normalized"),
    Column("frame mean AP50 %", "frame_mean", factor=100),
    Column("frame 90% tail %", "frame_tail_90", factor=100),
    Column("frame 99% tail %", "frame_tail_99", factor=100),
    Column("PSNR dB", "psnr"),
    Column("SSIM", "ssim", digits=3),
    Column("kB/frame", "bytes_per_frame", factor=1e-3),
    Column("restore ms/frame", "restore_ms_per_frame", digits=1),
)
"""The detection comparison's overall table."""


class DetectionFrames:
    """The evaluated frames, the same for every method, in temporal order within each video:
    ground truth, its small-object reduction, image size and video of every frame."""

    def __init__(self) -> None:
        self.ground_truth: list[FrameAnnotations] = []
        self.small_ground_truth: list[FrameAnnotations] = []
        self.image_sizes: list[tuple[int, int]] = []
        self.clip_ids: list[Hashable] = []

    def __len__(self) -> int:
        return len(self.ground_truth)

    def add(
        self,
        ground_truth: FrameAnnotations,
        *,
        small: np.ndarray,
        image_size: tuple[int, int],
        clip_id: Hashable,
    ) -> None:
        """One frame: its ground truth, which of its boxes are small (``(N,)`` bool), its
        ``(height, width)`` and the video it belongs to (frame-wise episodes stay inside one)."""
        self.ground_truth.append(ground_truth)
        self.small_ground_truth.append(small_object_ground_truth(ground_truth, small=small))
        self.image_sizes.append((int(image_size[0]), int(image_size[1])))
        self.clip_ids.append(clip_id)


class DetectionMethodScores(RestorationScores):
    """One method's detections on every frame of :class:`DetectionFrames`, in the same order,
    and the restored frames' PSNR/SSIM, encoded size and restoration time when the method
    restores frames."""

    def __init__(self) -> None:
        super().__init__()
        self.detections: list[FrameDetections] = []

    def add_frame(
        self,
        detections: FrameDetections,
        *,
        restored: np.ndarray | None = None,
        original: np.ndarray | None = None,
        num_bytes: int | None = None,
        restore_seconds: float | None = None,
    ) -> None:
        """One frame's detections; ``restored`` and ``original`` ``(H, W, 3)`` uint8 RGB (both
        or neither)."""
        self.add_restored(
            restored=restored,
            original=original,
            num_bytes=num_bytes,
            restore_seconds=restore_seconds,
        )
        self.detections.append(detections)


def _per_class_vector(values: Mapping[str, float | None], class_names: Sequence[str]) -> np.ndarray:
    """Per-class APs in ``class_names`` order, NaN for a class without ground truth."""
    return np.array(
        [np.nan if values[name] is None else values[name] for name in class_names],
        dtype=np.float64,
    )


def frame_ap50(
    detections: Sequence[FrameDetections],
    *,
    frames: DetectionFrames,
    class_names: Sequence[str],
) -> tuple[list[float], list[Hashable]]:
    """Every frame's own AP50 (module docstring) and its video, for the frames that have
    ground truth."""
    values: list[float] = []
    clip_ids: list[Hashable] = []
    for frame_detections, ground_truth, image_size, clip_id in zip(
        detections, frames.ground_truth, frames.image_sizes, frames.clip_ids, strict=True
    ):
        if len(ground_truth.labels) == 0:
            continue
        scored = evaluate_detections(
            ground_truth=[ground_truth],
            detections=[frame_detections],
            class_names=class_names,
            image_sizes=[image_size],
        )
        values.append(scored.map50)
        clip_ids.append(clip_id)
    return values, clip_ids


def compare_detection_methods(
    scores: Mapping[str, DetectionMethodScores],
    *,
    frames: DetectionFrames,
    class_names: Sequence[str],
    tail_baseline: str = "bilinear",
    episode_length: int = 10,
) -> dict[str, dict[str, object]]:
    """One row of scores per method (module docstring), keyed like ``scores``, each with the
    tail classes' names under ``"tail_classes"`` (empty, with NaN tail scores, when fewer than
    two classes have an AP normalised by HR's).

    ``scores`` must hold :data:`~edgecloud.metrics.method_comparison.REFERENCE` (HR) and
    ``tail_baseline``, each with detections for every frame of ``frames``.
    """
    check_methods(scores, tail_baseline=tail_baseline)
    for name, method in scores.items():
        if len(method.detections) != len(frames):
            raise ValueError(
                f"{name} has detections for {len(method.detections)} frames, not {len(frames)}"
            )

    def evaluate(
        ground_truth: Sequence[FrameAnnotations], method: DetectionMethodScores
    ) -> DetectionMetrics:
        return evaluate_detections(
            ground_truth=ground_truth,
            detections=method.detections,
            class_names=class_names,
            image_sizes=frames.image_sizes,
        )

    overall = {name: evaluate(frames.ground_truth, method) for name, method in scores.items()}
    tail_names, tails = class_tails(
        {name: _per_class_vector(m.per_class_ap, class_names) for name, m in overall.items()},
        class_names=class_names,
        tail_baseline=tail_baseline,
    )
    rows: dict[str, dict[str, object]] = {}
    for name, method in scores.items():
        small = evaluate(frames.small_ground_truth, method)
        values, clip_ids = frame_ap50(method.detections, frames=frames, class_names=class_names)
        episodes = frame_tail_accuracy(values, clip_ids=clip_ids, episode_length=episode_length)
        rows[name] = {
            "mAP": overall[name].map,
            "mAP50": overall[name].map50,
            "mAP75": overall[name].map75,
            "small_mAP": small.map,
            "small_mAP50": small.map50,
            "tail_AP": tails[name].mean,
            "tail_normalized": tails[name].normalized,
            "frame_mean": episodes.mean,
            "frame_tail_90": episodes.tail_90,
            "frame_tail_99": episodes.tail_99,
            "episode_ap50": episodes.episodes.tolist(),
            **method.summary(),
            "frames": len(method.detections),
            "ap": dict(overall[name].per_class_ap),
            "ap50": dict(overall[name].per_class_ap50),
            "tail_classes": tail_names,
        }
    return rows


def detection_comparison_markdown(
    rows: Mapping[str, Mapping[str, object]],
    *,
    title: str,
    small_box_fraction: float,
    tail_baseline: str,
    episode_length: int,
) -> str:
    """The comparison as a Markdown document (the segmentation comparison's layout,
    :func:`~edgecloud.metrics.method_comparison.comparison_markdown`): the overall table, what
    its small-object, tail and frame-wise columns mean, then per-class AP with the tail
    classes first."""
    first = next(iter(rows.values()))
    episodes = len(first["episode_ap50"])
    notes = [
        f"small mAP: against the boxes under {100 * small_box_fraction:g}% of the frame's area "
        "(the boxes ASR trains on), the other boxes ignored. tail AP: mean AP@[.5:.95] over "
        f"the {len(first['tail_classes'])} classes {tail_baseline} does worst on relative to "
        f"HR. frame: per-frame AP50 averaged over episodes of {episode_length} consecutive "
        f"frames of a video ({episodes} episodes; frames without ground truth left out).",
    ]
    return comparison_markdown(
        rows, title=title, columns=DETECTION_COLUMNS, per_class_key="ap", score="AP", notes=notes
    )
