"""Runespoor's side-by-side scores of the ways a server can restore degraded frames (Tables I-IV).

Every method (bilinear or bicubic upsampling, standard SR, CloudSeg, ASR, and HR: the original
frame) is scored on the same frames with the same segmentation model. A
:class:`MethodScores` accumulates one method's frames; :func:`compare_methods` turns them into
one row per method:

* overall: ``mIoU`` (one confusion matrix over all frames), ``pixel_acc``, per-class IoU;
* class-wise tail (Table I): the *tail classes* are the worst half of the classes by the
  ``tail_baseline`` method's IoU normalised by HR's (the paper's 9 of 19 at x4 with Bilinear),
  the same classes for every method; each row gets their mean IoU (``tail_mIoU``) and that mean
  over HR's (``tail_normalized``);
* frame-wise tail (Table III): per-frame mIoU averaged over episodes of ``episode_length``
  consecutive frames of a clip, then the mean, 90% and 99% tails of the episodes, and the
  episodes themselves (``episode_miou``, Fig. 10's distribution);
* reconstruction (Table IV): mean PSNR and SSIM of the restored frames against the originals
  (not for HR, which is the original);
* bytes: mean encoded size of the frames the method was given.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from edgecloud.metrics.image_quality import psnr, ssim
from edgecloud.metrics.segmentation import (
    ConfusionMatrix,
    frame_mean_iou,
    mean_iou,
    per_class_iou,
    pixel_accuracy,
)
from edgecloud.metrics.tail import (
    ClassTailAccuracy,
    class_tail_accuracy,
    frame_tail_accuracy,
    normalized_scores,
    select_tail_classes,
)

REFERENCE = "hr"
"""The method every other is normalised by: inference on the original frames."""

NO_TAIL = ClassTailAccuracy(mean=float("nan"), normalized=float("nan"))
"""The class-wise tail when fewer than two classes have a normalised score (HR scores zero
everywhere else, e.g. an untrained model): no tail classes, NaN scores."""


class MethodScores:
    """One method's frames: a summed confusion matrix, per-frame mIoU with the frame's clip,
    and the restored frame's PSNR/SSIM and encoded size when the method restores frames."""

    def __init__(self, *, num_classes: int) -> None:
        self.num_classes = num_classes
        self.confusion = ConfusionMatrix(num_classes=num_classes)
        self.frame_miou: list[float] = []
        self.clip_ids: list[Hashable] = []
        self.psnr: list[float] = []
        self.ssim: list[float] = []
        self.num_bytes: list[int] = []

    def add_frame(
        self,
        prediction: np.ndarray,
        target: np.ndarray,
        *,
        clip_id: Hashable,
        restored: np.ndarray | None = None,
        original: np.ndarray | None = None,
        num_bytes: int | None = None,
    ) -> None:
        """Score one frame: ``prediction`` and ``target`` are ``(H, W)`` train-id maps;
        ``restored`` and ``original`` ``(H, W, 3)`` uint8 RGB (both or neither)."""
        if (restored is None) != (original is None):
            raise ValueError("restored and original frames come together")
        self.confusion.update(prediction, target)
        self.frame_miou.append(
            float(frame_mean_iou(prediction, target, num_classes=self.num_classes))
        )
        self.clip_ids.append(clip_id)
        if restored is not None:
            self.psnr.append(psnr(restored, original))
            self.ssim.append(ssim(restored, original))
        if num_bytes is not None:
            self.num_bytes.append(int(num_bytes))


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def compare_methods(
    scores: Mapping[str, MethodScores],
    *,
    class_names: Sequence[str],
    tail_baseline: str = "bilinear",
    episode_length: int = 10,
) -> dict[str, dict[str, object]]:
    """One row of scores per method (module docstring), keyed like ``scores``; also returns
    the tail classes' names under ``"tail_classes"`` of every row (empty, with NaN tail
    scores, when fewer than two classes have an IoU normalised by HR's).

    ``scores`` must hold :data:`REFERENCE` (HR) and ``tail_baseline``.
    """
    for required in (REFERENCE, tail_baseline):
        if required not in scores:
            raise ValueError(f"compare_methods needs the {required!r} method, got {list(scores)}")
    ious = {name: per_class_iou(method.confusion.matrix) for name, method in scores.items()}
    reference = ious[REFERENCE]
    tail = select_tail_classes(normalized_scores(ious[tail_baseline], reference))
    tail_names = [class_names[index] for index in tail]
    rows: dict[str, dict[str, object]] = {}
    for name, method in scores.items():
        matrix = method.confusion.matrix
        class_tail = (
            class_tail_accuracy(ious[name], tail_classes=tail, reference=reference)
            if len(tail)
            else NO_TAIL
        )
        frames = frame_tail_accuracy(
            method.frame_miou, clip_ids=method.clip_ids, episode_length=episode_length
        )
        rows[name] = {
            "mIoU": float(mean_iou(matrix)),
            "pixel_acc": float(pixel_accuracy(matrix)),
            "tail_mIoU": class_tail.mean,
            "tail_normalized": class_tail.normalized,
            "frame_mean": frames.mean,
            "frame_tail_90": frames.tail_90,
            "frame_tail_99": frames.tail_99,
            "episode_miou": frames.episodes.tolist(),
            "psnr": _mean(method.psnr),
            "ssim": _mean(method.ssim),
            "bytes_per_frame": _mean(method.num_bytes),
            "frames": len(method.frame_miou),
            "iou": {
                class_name: (float(value) if np.isfinite(value) else None)
                for class_name, value in zip(class_names, ious[name], strict=True)
            },
            "tail_classes": tail_names,
        }
    return rows


def comparison_markdown(rows: Mapping[str, Mapping[str, object]], *, title: str) -> str:
    """The comparison as a Markdown document: the overall table (Tables I, III, IV in one),
    then per-class IoU with the tail classes first (Table I's breakdown)."""
    names = list(rows)
    first = rows[names[0]]

    def percent(value: object) -> str:
        return "—" if value is None or not np.isfinite(value) else f"{100 * float(value):.2f}"

    def decimal(value: object, digits: int) -> str:
        return "—" if value is None or not np.isfinite(value) else f"{float(value):.{digits}f}"

    lines = [
        f"# {title}",
        "",
        "| method | mIoU % | tail mIoU % | tail / HR | frame mean % | frame 90% tail % "
        "| frame 99% tail % | PSNR dB | SSIM | kB/frame |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        row = rows[name]
        kilobytes = row["bytes_per_frame"]
        lines.append(
            f"| {name} | {percent(row['mIoU'])} | {percent(row['tail_mIoU'])} "
            f"| {decimal(row['tail_normalized'], 2)} | {percent(row['frame_mean'])} "
            f"| {percent(row['frame_tail_90'])} | {percent(row['frame_tail_99'])} "
            f"| {decimal(row['psnr'], 2)} | {decimal(row['ssim'], 3)} "
            f"| {decimal(kilobytes / 1000 if np.isfinite(kilobytes) else kilobytes, 2)} |"
        )
    tail_classes = list(first["tail_classes"])
    others = [name for name in first["iou"] if name not in tail_classes]
    lines += [
        "",
        f"Per-class IoU %; the tail classes ({len(tail_classes)}, worst first) come first.",
        "",
        "| class | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for class_name in [*tail_classes, *others]:
        cells = " | ".join(percent(rows[name]["iou"][class_name]) for name in names)
        marker = " (tail)" if class_name in tail_classes else ""
        lines.append(f"| {class_name}{marker} | {cells} |")
    return "\n".join(lines) + "\n"
