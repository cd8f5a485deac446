"""Fig. 8: how well similarity functions show context transitions.

For every video the scores between consecutive windows are computed with each function:
``siminet`` (the recorded SimiNet score), ``cosine`` of the local probability vectors,
``euclidean`` (``1 - ||p_t - p_{t-1}|| / sqrt(2)``, the paper's normalisation: two probability
vectors are at most ``sqrt(2)`` apart), ``feature_cosine`` of the local features when the
recording has them, and the ground truth ``oracle`` (1 when both windows have the same label).

Scores: over all window pairs of all videos, each function's mean on same-context pairs and
on transitions (oracle 0), and the AUC of telling them apart (the probability that a random
same-context pair scores higher than a random transition, ties counting half). For the figure,
``num_videos`` videos with a background-to-action transition are cut to ``radius`` windows on
either side of their first one, as in the paper's ten example videos.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from edgecloud.fusion.clownfish import cosine_similarity_scores, oracle_similarity
from edgecloud.sim.clownfish.inputs import ClownfishSequence


def euclidean_similarity(local: np.ndarray) -> np.ndarray:
    """``(T,)``: ``1 - ||p_t - p_{t-1}|| / sqrt(2)`` clipped to [0, 1], 0 for the first."""
    local = np.asarray(local, dtype=np.float64)
    rho = np.zeros(len(local))
    if len(local) > 1:
        rho[1:] = 1.0 - np.linalg.norm(np.diff(local, axis=0), axis=1) / math.sqrt(2.0)
    return np.clip(rho, 0.0, 1.0)


def similarity_functions(sequence: ClownfishSequence) -> dict[str, np.ndarray]:
    """Every function's ``(W,)`` scores for one video (``oracle`` last)."""
    scores = {}
    if sequence.similarity is not None:
        scores["siminet"] = np.concatenate([[0.0], sequence.similarity[1:]])
    scores["cosine"] = cosine_similarity_scores(sequence.local_probs)
    scores["euclidean"] = euclidean_similarity(sequence.local_probs)
    if sequence.local_features is not None:
        scores["feature_cosine"] = cosine_similarity_scores(sequence.local_features)
    scores["oracle"] = oracle_similarity(sequence.window_labels)
    return scores


def separation_auc(same: np.ndarray, transition: np.ndarray) -> float:
    """P(a same-context score > a transition score), ties half; NaN without both kinds."""
    if len(same) == 0 or len(transition) == 0:
        return math.nan
    ranks = rankdata(np.concatenate([same, transition]))
    rank_sum = ranks[: len(same)].sum()
    return float((rank_sum - len(same) * (len(same) + 1) / 2) / (len(same) * len(transition)))


@dataclass(frozen=True)
class TraceSnippet:
    """Windows ``first .. first + len - 1`` of one video around its first background-to-action
    transition (window ``transition``), with every function's scores and the labels."""

    video: str
    first: int
    transition: int
    labels: np.ndarray
    scores: dict[str, np.ndarray]


def trace_snippets(
    sequences: Sequence[ClownfishSequence], *, num_videos: int, radius: int
) -> list[TraceSnippet]:
    """Up to ``num_videos`` snippets (module docstring), videos in order."""
    snippets = []
    for sequence in sequences:
        labels = sequence.window_labels
        starts = np.flatnonzero((labels[1:] >= 1) & (labels[:-1] == 0)) + 1
        starts = starts[(starts >= radius) & (starts + radius <= len(labels))]
        if not len(starts):
            continue
        center = int(starts[0])
        span = slice(center - radius, center + radius)
        scores = similarity_functions(sequence)
        snippets.append(
            TraceSnippet(
                video=sequence.name,
                first=center - radius,
                transition=center,
                labels=labels[span].copy(),
                scores={name: values[span].copy() for name, values in scores.items()},
            )
        )
        if len(snippets) == num_videos:
            break
    return snippets


def trace_metrics(sequences: Sequence[ClownfishSequence]) -> dict[str, float | None]:
    """``traces/<function>/{auc,mean_same,mean_transition}`` over all window pairs."""
    pooled: dict[str, list[np.ndarray]] = {}
    for sequence in sequences:
        for name, values in similarity_functions(sequence).items():
            pooled.setdefault(name, []).append(values[1:])
    oracle = np.concatenate(pooled.pop("oracle"))
    same, transition = oracle == 1.0, oracle == 0.0
    metrics: dict[str, float | None] = {
        "traces/pairs": len(oracle),
        "traces/transitions": int(transition.sum()),
    }
    for name, chunks in pooled.items():
        values = np.concatenate(chunks)
        metrics[f"traces/{name}/auc"] = separation_auc(values[same], values[transition])
        metrics[f"traces/{name}/mean_same"] = float(values[same].mean()) if same.any() else None
        metrics[f"traces/{name}/mean_transition"] = (
            float(values[transition].mean()) if transition.any() else None
        )
    return metrics
