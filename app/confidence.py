"""How sure each retriever is of its best file, and the fusion weights that follow.

Fixed RRF weights trust the vector list and the keyword list equally on every query, yet
each is sometimes sure and sometimes guessing. Two cheap signals tell which, per query,
from scores the search already has (no model call):

- **vector spread**: the best file's cosine minus the tenth file's. A query the model
  understands has files that stand out from the rest; one it does not (a language it
  reads poorly, a word it never saw) gets a flat list. On the multilingual manual-page
  set (multilingual-e5-small) it told a right vector top file from a wrong one with
  AUC 0.87.
- **keyword lead**: the best file's keyword score over the second's, minus one. A file
  that holds the words far better than any other is a keyword answer; a tie is not
  (AUC 0.78 on the same set).

The vector list's weight is the model's tuned weight times ``((spread / its usual spread)
/ (lead / its usual lead)) ** adapt``, held within [1/4, 4]; the keyword list keeps 1.
The usual values are medians over the model's tuning queries (``engine.registry.Fusion``);
a model without them (``adapt == 0``) keeps fixed weights. ``benchmarks/tune.py --grid
adaptive`` measures a model's medians and chooses ``adapt``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.registry import Fusion

#: Files down the vector list the best one is compared with.
SPREAD_DEPTH = 10
#: The vector weight moves at most this factor either way from the tuned one.
MAX_SHIFT = 4.0
#: Confidences are kept above this, so a flat list or a tie divides by something.
TINY = 1e-6


def best_per_file(
    chunk_ids: Sequence[int], scores: Mapping[int, float], file_of: Mapping[int, str]
) -> list[float]:
    """Each file's first (best) score down a ranked chunk list, in rank order."""
    seen: set[str] = set()
    out: list[float] = []
    for cid in chunk_ids:
        path = file_of.get(cid)
        if path is not None and path not in seen and cid in scores:
            seen.add(path)
            out.append(scores[cid])
    return out


def vector_spread(cosines: Sequence[float]) -> float:
    """Best file's cosine minus the ``SPREAD_DEPTH``-th's (the last one's if fewer)."""
    if not cosines:
        return 0.0
    return cosines[0] - cosines[min(SPREAD_DEPTH, len(cosines)) - 1]


def keyword_lead(scores: Sequence[float]) -> float:
    """How far the best file's keyword score leads the second's (1.0: twice as high).

    A single keyword file leads by 1.0: it holds the words and nothing else does, but one
    list of one says less than a clear win over a second file.
    """
    if not scores:
        return 0.0
    if len(scores) == 1 or scores[1] <= 0:
        return 1.0
    return scores[0] / scores[1] - 1.0


def vector_weight(spread: float, lead: float, fusion: Fusion) -> float:
    """The vector list's RRF weight for one query (the keyword list's is 1)."""
    if fusion.adapt <= 0 or fusion.vector_spread <= 0 or fusion.keyword_lead <= 0:
        return fusion.vector
    relative = (max(spread, TINY) / fusion.vector_spread) / (max(lead, TINY) / fusion.keyword_lead)
    shift = relative**fusion.adapt
    return fusion.vector * min(MAX_SHIFT, max(1.0 / MAX_SHIFT, shift))


def signals(
    lists: Mapping[str, Sequence[int]],
    by_source: Mapping[str, Mapping[int, float]],
    file_of: Mapping[int, str],
) -> tuple[float, float]:
    """(vector spread, keyword lead) of one query's ranked chunk lists."""
    cosines = best_per_file(lists.get("vector", ()), by_source.get("vector", {}), file_of)
    keyword = best_per_file(lists.get("keyword", ()), by_source.get("keyword", {}), file_of)
    return vector_spread(cosines), keyword_lead(keyword)


def weights(
    lists: Mapping[str, Sequence[int]],
    by_source: Mapping[str, Mapping[int, float]],
    file_of: Mapping[int, str],
    fusion: Fusion,
) -> dict[str, float]:
    """RRF weights for one query's lists: keyword 1, vector as sure as it is."""
    if fusion.adapt <= 0 or "vector" not in lists or "keyword" not in lists:
        return {"vector": fusion.vector, "keyword": 1.0}
    return {"vector": vector_weight(*signals(lists, by_source, file_of), fusion), "keyword": 1.0}
