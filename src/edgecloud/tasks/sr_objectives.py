"""The three ways Runespoor's evaluation trains super-resolution for segmentation.

* ``reconstruction`` — standard SR, NAS's baseline: L1 between ``SR(lr)`` and ``hr``.
* ``analytics_aware`` — ASR, the paper's Equation 2:
  ``alpha·L1(SR(lr), hr) + beta·CE(seg(SR(lr)), label)`` with the cross-entropy taken only over the
  pixels of *small regions* of the ground truth (connected components of one class covering
  less than a fraction of the frame, the data's ``small_region_fraction``), so large stable areas such as the sky add no
  analytics signal. The segmentation network is frozen; its gradients flow into SR only.
* ``cloudseg`` — CloudSeg (the paper's workshop version): ``alpha·L1 + beta·CE(seg(SR(lr)),
  argmax seg(hr))``, the analytics model's own output on the full-resolution frame as the
  target over the whole frame, without labels. The paper finds this weaker because the
  analytics model's mistakes on ``hr`` become supervision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgecloud.data.formats.cityscapes_labels import IGNORE_INDEX

OBJECTIVES = ("reconstruction", "analytics_aware", "cloudseg")


def small_region_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, small: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy of ``(N, C, H, W)`` logits over the pixels of ``(N, H, W)`` ground
    truth where the ``(N, H, W)`` bool ``small`` is set (the pixels of small regions,
    :func:`~edgecloud.metrics.regions.small_region_masks` of the whole frames); zero, still
    attached to the graph, when a batch has none."""
    if not small.any():
        return logits.sum() * 0.0
    detailed_target = torch.where(small, target, torch.full_like(target, IGNORE_INDEX))
    return F.cross_entropy(logits, detailed_target, ignore_index=IGNORE_INDEX)


def pseudo_label_cross_entropy(
    logits: torch.Tensor, reference_logits: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of ``logits`` against the argmax of ``reference_logits`` (CloudSeg's
    target: the analytics model's prediction on the full-resolution frame)."""
    return F.cross_entropy(logits, reference_logits.argmax(dim=1))
