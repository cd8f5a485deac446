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
* bytes and time: mean encoded size of the frames the method was given and the mean time it
  took to restore one (``restore_ms_per_frame``; not for HR).

The detection comparison (:mod:`edgecloud.metrics.detection_comparison`) shares the parts that
are not about label maps: the reconstruction scores (:class:`RestorationScores`), the tail
classes (:func:`class_tails`) and the Markdown table (:func:`comparison_markdown` with its own
:class:`Column` list).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

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


class RestorationScores:
    """PSNR and SSIM of a method's restored frames against the originals, the encoded size of
    the frames it was given and the time it took to restore them: what every comparison
    reports beside its analytics scores."""

    def __init__(self) -> None:
        self.psnr: list[float] = []
        self.ssim: list[float] = []
        self.num_bytes: list[int] = []
        self.restore_seconds: list[float] = []

    def add_restored(
        self,
        *,
        restored: np.ndarray | None,
        original: np.ndarray | None,
        num_bytes: int | None,
        restore_seconds: float | None,
    ) -> None:
        """``restored`` and ``original`` are ``(H, W, 3)`` uint8 RGB (both or neither: HR
        restores nothing); ``num_bytes`` is the size on the wire and ``restore_seconds`` the
        restorer's time (None: nothing was sent, nothing restored)."""
        if (restored is None) != (original is None):
            raise ValueError("restored and original frames come together")
        if restored is not None:
            self.psnr.append(psnr(restored, original))
            self.ssim.append(ssim(restored, original))
        if num_bytes is not None:
            self.num_bytes.append(int(num_bytes))
        if restore_seconds is not None:
            self.restore_seconds.append(float(restore_seconds))

    def summary(self) -> dict[str, float]:
        """Mean ``psnr``, ``ssim``, ``bytes_per_frame`` and ``restore_ms_per_frame`` (NaN
        where nothing was added)."""
        return {
            "psnr": _mean(self.psnr),
            "ssim": _mean(self.ssim),
            "bytes_per_frame": _mean(self.num_bytes),
            "restore_ms_per_frame": 1000.0 * _mean(self.restore_seconds),
        }


class MethodScores(RestorationScores):
    """One method's frames: a summed confusion matrix, per-frame mIoU with the frame's clip,
    and the restored frame's PSNR/SSIM, encoded size and restoration time when the method
    restores frames."""

    def __init__(self, *, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.confusion = ConfusionMatrix(num_classes=num_classes)
        self.frame_miou: list[float] = []
        self.clip_ids: list[Hashable] = []

    def add_frame(
        self,
        prediction: np.ndarray,
        target: np.ndarray,
        *,
        clip_id: Hashable,
        restored: np.ndarray | None = None,
        original: np.ndarray | None = None,
        num_bytes: int | None = None,
        restore_seconds: float | None = None,
    ) -> None:
        """Score one frame: ``prediction`` and ``target`` are ``(H, W)`` train-id maps;
        ``restored`` and ``original`` ``(H, W, 3)`` uint8 RGB (both or neither)."""
        self.add_restored(
            restored=restored,
            original=original,
            num_bytes=num_bytes,
            restore_seconds=restore_seconds,
        )
        self.confusion.update(prediction, target)
        self.frame_miou.append(
            float(frame_mean_iou(prediction, target, num_classes=self.num_classes))
        )
        self.clip_ids.append(clip_id)


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def check_methods(methods: Mapping[str, object], *, tail_baseline: str) -> None:
    """Fail unless ``methods`` holds :data:`REFERENCE` (HR) and ``tail_baseline``, the two
    methods the tail classes are chosen by."""
    for required in (REFERENCE, tail_baseline):
        if required not in methods:
            raise ValueError(f"the comparison needs the {required!r} method, got {list(methods)}")


def class_tails(
    per_class: Mapping[str, np.ndarray],
    *,
    class_names: Sequence[str],
    tail_baseline: str,
) -> tuple[list[str], dict[str, ClassTailAccuracy]]:
    """The tail classes' names, worst first, and every method's accuracy on them.

    ``per_class`` maps each method to its per-class scores (IoU or AP, NaN where a class has
    none), indexed like ``class_names``. The tail is the worst half of the classes by
    ``tail_baseline``'s score over HR's (:func:`~edgecloud.metrics.tail.select_tail_classes`),
    the same classes for every method; with fewer than two classes that have such a ratio it
    is empty and every method gets :data:`NO_TAIL`.
    """
    check_methods(per_class, tail_baseline=tail_baseline)
    reference = per_class[REFERENCE]
    tail = select_tail_classes(normalized_scores(per_class[tail_baseline], reference))
    accuracies = {
        name: (
            class_tail_accuracy(values, tail_classes=tail, reference=reference)
            if len(tail)
            else NO_TAIL
        )
        for name, values in per_class.items()
    }
    return [class_names[index] for index in tail], accuracies


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
    ious = {name: per_class_iou(method.confusion.matrix) for name, method in scores.items()}
    tail_names, tails = class_tails(ious, class_names=class_names, tail_baseline=tail_baseline)
    rows: dict[str, dict[str, object]] = {}
    for name, method in scores.items():
        matrix = method.confusion.matrix
        frames = frame_tail_accuracy(
            method.frame_miou, clip_ids=method.clip_ids, episode_length=episode_length
        )
        rows[name] = {
            "mIoU": float(mean_iou(matrix)),
            "pixel_acc": float(pixel_accuracy(matrix)),
            "tail_mIoU": tails[name].mean,
            "tail_normalized": tails[name].normalized,
            "frame_mean": frames.mean,
            "frame_tail_90": frames.tail_90,
            "frame_tail_99": frames.tail_99,
            "episode_miou": frames.episodes.tolist(),
            **method.summary(),
            "frames": len(method.frame_miou),
            "iou": {
                class_name: (float(value) if np.isfinite(value) else None)
                for class_name, value in zip(class_names, ious[name], strict=True)
            },
            "tail_classes": tail_names,
        }
    return rows


def scalar_scores(rows: Mapping[str, Mapping[str, object]]) -> dict[str, float]:
    """``<method>/<score>`` for every number of every row (what the evaluation entry points
    return); lists and per-class mappings are left out."""
    return {
        f"{name}/{key}": float(value)
        for name, row in rows.items()
        for key, value in row.items()
        if isinstance(value, float | int)
    }


@dataclass(frozen=True)
class Column:
    """One column of the overall table: its ``header``, the row ``key`` it shows, and how:
    the value times ``factor`` (100 for a percentage, 1e-3 for kB) with ``digits`` decimals;
    a missing or non-finite value shows as a dash."""

    header: str
    key: str
    factor: float = 1.0
    digits: int = 2

    def cell(self, value: object) -> str:
        return _cell(value, factor=self.factor, digits=self.digits)


def _cell(value: object, *, factor: float, digits: int) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    return f"{factor * float(value):.{digits}f}"


SEGMENTATION_COLUMNS = (
    Column("mIoU %", "mIoU", factor=100),
    Column("tail mIoU %", "tail_mIoU", factor=100),
    Column("tail / HR", "tail_normalized"),
    Column("frame mean %", "frame_mean", factor=100),
    Column("frame 90% tail %", "frame_tail_90", factor=100),
    Column("frame 99% tail %", "frame_tail_99", factor=100),
    Column("PSNR dB", "psnr"),
    Column("SSIM", "ssim", digits=3),
    Column("kB/frame", "bytes_per_frame", factor=1e-3),
)
"""The segmentation comparison's overall table: Tables I, III and IV in one."""


def comparison_markdown(
    rows: Mapping[str, Mapping[str, object]],
    *,
    title: str,
    columns: Sequence[Column] = SEGMENTATION_COLUMNS,
    per_class_key: str = "iou",
    score: str = "IoU",
    notes: Sequence[str] = (),
) -> str:
    """The comparison as a Markdown document: the overall table (one row per method, the
    ``columns``), the ``notes`` (one paragraph each), then every method's per-class
    ``score`` (row key ``per_class_key``, in %) with the tail classes first (Table I's
    breakdown). The defaults are the segmentation comparison's."""
    names = list(rows)
    first = rows[names[0]]
    lines = [
        f"# {title}",
        "",
        "| method | " + " | ".join(column.header for column in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name in names:
        cells = " | ".join(column.cell(rows[name][column.key]) for column in columns)
        lines.append(f"| {name} | {cells} |")
    for note in notes:
        lines += ["", note]
    tail_classes = list(first["tail_classes"])
    others = [name for name in first[per_class_key] if name not in tail_classes]
    lines += [
        "",
        f"Per-class {score} %; the tail classes ({len(tail_classes)}, worst first) come first.",
        "",
        "| class | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for class_name in [*tail_classes, *others]:
        cells = " | ".join(
            _cell(rows[name][per_class_key][class_name], factor=100, digits=2) for name in names
        )
        marker = " (tail)" if class_name in tail_classes else ""
        lines.append(f"| {class_name}{marker} | {cells} |")
    return "\n".join(lines) + "\n"
