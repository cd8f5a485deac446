"""Analytics-aware super-resolution for object detection: the analytics loss of Runespoor's
Equation 2 for a detector.

* ``reconstruction`` — standard SR (NAS): L1 between ``SR(lr)`` and ``hr``.
* ``analytics_aware`` — ASR: ``alpha·L1(SR(lr), hr) + beta·l_a`` where ``l_a`` is the frozen
  detector's *own training loss* on ``SR(lr)`` (for torchvision detectors the sum of the loss
  dict they return in training mode: classification and box regression, plus centerness for
  FCOS and the RPN terms for Faster R-CNN), with the targets restricted to the ground-truth
  boxes that are small in their frame (under the data's ``small_box_fraction`` of the frame's
  area, :func:`~edgecloud.metrics.regions.small_box_mask`). The paper: "for object detection,
  l_a uses cross entropy and focal loss, which calculates the classification and bounding-box
  location error", with alpha/beta = 0.9/0.1.

How the frozen detector computes losses (:func:`small_object_detection_loss`):

* torchvision detectors return losses only while ``training`` is set, and some of their layers
  behave differently then. :func:`loss_mode` sets training mode on every module *except* batch
  norm, instance norm and dropout, which stay in evaluation mode: batch norm keeps normalising
  with its running statistics and never updates them (torchvision's ``FrozenBatchNorm2d`` and
  group norm have no mode), so the detector computes exactly the function it computes at
  inference. Every module's flag is restored afterwards. The detector's parameters do not
  require gradients (:func:`~edgecloud.tasks.super_resolution.load_analytics_model`); the
  gradient flows through it into the SR output only.
* In training mode a torchvision detector resizes its input to ``min_size`` like a whole frame,
  which would blow a 192x288 crop up to the size of a frame. The detector must see a crop at the
  scale it sees the whole frame at, so each crop is resized here by the factor the detector's
  transform applies to the crop's whole frame (``frame_size`` in the target; 1 for the tiny
  detectors on their native frames) and the transform's own resize is skipped (torchvision's
  ``_skip_resize``, honoured in training mode only).
* The detector sees only frames that hold at least one small box, with only their small
  boxes as targets. A frame without small boxes would otherwise add a loss of its own (every
  location background), which is not a signal about small objects; when no frame of a batch
  has one, ``l_a`` is a zero still attached to the SR output's graph, so the loss stays
  defined and its gradient is zero.

A caveat of the restricted targets: objects that are not small are absent from them, so a
detector whose classification loss scores every location (FCOS, RetinaNet, SSD) counts the
locations on a large object as background. The weight beta keeps this term small next to L1;
a detector-specific loss could mark those locations as ignored instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection.transform import GeneralizedRCNNTransform

DETECTION_OBJECTIVES = ("reconstruction", "analytics_aware")

# Layers whose output depends on the training flag beyond the loss computation.
_STAY_IN_EVAL = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.modules.dropout._DropoutNd,
)


@contextmanager
def loss_mode(detector: nn.Module) -> Iterator[nn.Module]:
    """Within the block ``detector`` returns its loss dict (training mode) while normalisation
    and dropout layers keep their evaluation behaviour; every module's mode is restored after."""
    modes = [(module, module.training) for module in detector.modules()]
    try:
        detector.train()
        for module in detector.modules():
            if isinstance(module, _STAY_IN_EVAL):
                module.eval()
        yield detector
    finally:
        for module, training in modes:
            module.training = training


def _transform(detector: nn.Module) -> GeneralizedRCNNTransform:
    transform = getattr(detector, "transform", None)
    if not isinstance(transform, GeneralizedRCNNTransform):
        raise TypeError(
            "the analytics-aware detection loss needs a torchvision detector (one with a "
            f"GeneralizedRCNNTransform as .transform), got {type(detector).__name__}"
        )
    return transform


def detector_input_scale(
    transform: GeneralizedRCNNTransform, frame_size: Sequence[int]
) -> tuple[float, float]:
    """``(vertical, horizontal)`` factor by which ``transform`` resizes a whole frame of
    ``frame_size`` (height, width) at inference."""
    height, width = (int(side) for side in frame_size)
    if transform.fixed_size is not None:
        # torchvision's fixed_size is (width, height)
        return transform.fixed_size[1] / height, transform.fixed_size[0] / width
    factor = min(
        float(transform.min_size[-1]) / min(height, width),
        float(transform.max_size) / max(height, width),
    )
    return factor, factor


def _rescale(
    image: torch.Tensor, boxes: torch.Tensor, factors: tuple[float, float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``image`` resized by ``factors`` as torchvision's transform resizes (bilinear), and the
    boxes with it."""
    if factors == (1.0, 1.0):
        return image, boxes
    height, width = image.shape[-2:]
    resized = F.interpolate(
        image[None],
        scale_factor=factors,
        mode="bilinear",
        recompute_scale_factor=True,
        align_corners=False,
    )[0]
    ratio_y = resized.shape[-2] / height
    ratio_x = resized.shape[-1] / width
    scale = boxes.new_tensor([ratio_x, ratio_y, ratio_x, ratio_y])
    return resized, boxes * scale


@contextmanager
def _without_resize(transform: GeneralizedRCNNTransform) -> Iterator[None]:
    skip = transform._skip_resize
    transform._skip_resize = True
    try:
        yield
    finally:
        transform._skip_resize = skip


def small_object_targets(
    targets: Sequence[dict[str, torch.Tensor]],
) -> tuple[list[int], list[dict[str, torch.Tensor]]]:
    """The indices of the frames holding at least one small box (``target["small"]``) and
    their targets reduced to the small boxes' ``boxes`` and ``labels``."""
    indices, restricted = [], []
    for index, target in enumerate(targets):
        small = target["small"]
        if bool(small.any()):
            indices.append(index)
            restricted.append({"boxes": target["boxes"][small], "labels": target["labels"][small]})
    return indices, restricted


def small_object_detection_loss(
    detector: nn.Module,
    images: Sequence[torch.Tensor],
    targets: Sequence[dict[str, torch.Tensor]],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The frozen torchvision ``detector``'s training loss on ``images`` (``(3, H, W)`` in
    ``[0, 1]``, the SR output) for the small ground-truth boxes only, and its terms.

    ``targets`` are :class:`~edgecloud.data.degraded_detection_dataset.DegradedDetectionDataset`
    targets: ``boxes``, ``labels``, ``small`` and ``frame_size``. Frames without small boxes
    are left out; without any, the loss is a zero attached to ``images`` and the terms are
    empty (module docstring).
    """
    transform = _transform(detector)
    indices, restricted = small_object_targets(targets)
    if not indices:
        return sum(image.sum() for image in images) * 0.0, {}
    inputs = []
    for index, target in zip(indices, restricted, strict=True):
        factors = detector_input_scale(transform, targets[index]["frame_size"].tolist())
        image, target["boxes"] = _rescale(images[index], target["boxes"], factors)
        inputs.append(image)
    with loss_mode(detector), _without_resize(transform):
        losses = detector(inputs, restricted)
    return sum(losses.values()), losses
