"""SimiNet: Clownfish's learned context similarity between two consecutive windows.

Clownfish (Section IV-B, Fig. 6) feeds the edge model's feature vectors of windows ``t-1`` and
``t``, concatenated, to a four-layer perceptron (two hidden layers of 1024 units with ReLU) whose
sigmoid output is the similarity score rho in (0, 1): near 1 when both windows show the same
context (action), near 0 across a context switch. The fusion sets its smoothing weight
alpha_t from rho and detects context transitions from its changes.

:meth:`SimiNet.forward` returns the logit, so training uses ``BCEWithLogitsLoss`` (the
numerically stable form of the paper's sigmoid + BCE, and what the authors' code uses);
:meth:`SimiNet.similarity` applies the sigmoid for inference. The authors' code sizes the input
as twice the edge model's number of classes, i.e. it compares the model's last-layer output
rather than the pooled features the paper describes; ``feature_dim`` accepts either.
"""

from __future__ import annotations

import torch
from torch import nn


class SimiNet(nn.Module):
    """MLP on ``[previous, current]``: Linear(2F, H), ReLU, Linear(H, H), ReLU, Linear(H, 1).

    Inputs are feature vectors shaped ``(..., feature_dim)`` (normally ``(N, F)``); outputs drop
    the last axis (``(N,)``). The pair is ordered, as in the paper's training pairs
    ``(C_{t-1}, C_t)``; nothing forces the score to be symmetric.
    """

    def __init__(self, *, feature_dim: int, hidden_dim: int = 1024) -> None:
        super().__init__()
        if feature_dim < 1 or hidden_dim < 1:
            raise ValueError(
                f"feature_dim and hidden_dim must be positive, got {feature_dim}, {hidden_dim}"
            )
        self.feature_dim = feature_dim
        self.hidden_dim = hidden_dim
        self.layers = nn.Sequential(
            nn.Linear(2 * feature_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, 1),
        )

    def forward(self, previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """Similarity logit of each (previous, current) pair, shape ``previous.shape[:-1]``."""
        if previous.shape != current.shape or previous.shape[-1:] != (self.feature_dim,):
            raise ValueError(
                f"expected two feature tensors shaped (..., {self.feature_dim}), got "
                f"{tuple(previous.shape)} and {tuple(current.shape)}"
            )
        return self.layers(torch.cat([previous, current], dim=-1)).squeeze(-1)

    def similarity(self, previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """Similarity score rho in (0, 1) of each pair: 1 = same context, 0 = different."""
        return torch.sigmoid(self(previous, current))


def siminet(*, feature_dim: int, hidden_dim: int = 1024) -> SimiNet:
    """Clownfish's SimiNet for feature vectors of ``feature_dim`` (512 for a 3D ResNet-18)."""
    return SimiNet(feature_dim=feature_dim, hidden_dim=hidden_dim)
