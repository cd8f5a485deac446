"""Collect per-rank validation items, so every rank scores the whole validation set."""

from __future__ import annotations

import torch


def gather_from_all_ranks(items: list, *, world_size: int) -> list:
    """Every rank's ``items`` concatenated in rank order (``items`` itself on one process).

    Metrics such as COCO mAP or per-frame accuracy over whole videos are not averages of
    per-rank values, so each rank gathers everything before scoring.
    """
    if world_size == 1:
        return items
    gathered: list[list] = [[] for _ in range(world_size)]
    torch.distributed.all_gather_object(gathered, items)
    return [item for rank_items in gathered for item in rank_items]
