"""Reciprocal rank fusion (Cormack et al. 2009): merge ranked lists without score calibration.

Pure functions, no SQL: vector cosines and BM25 scores live on different scales, ranks don't.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
RRF_K = 60


def rrf(
    lists: Mapping[str, Sequence[K]],
    weights: Mapping[str, float] | None = None,
    k: int = RRF_K,
) -> list[tuple[K, float]]:
    """Fuse ranked lists (best first) into one: score = sum of weight / (k + rank).

    Ranks are 1-based. Ties keep the order of first appearance, so results are stable.
    A list with weight 0 contributes nothing.
    """
    scores: dict[K, float] = {}
    for name, items in lists.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, item in enumerate(items, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))
