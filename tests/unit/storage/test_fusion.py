"""Reciprocal rank fusion is a pure function with k=60 and per-list weights."""

from __future__ import annotations

import pytest

from storage.fusion import rrf


def test_rrf_scores_and_order() -> None:
    fused = rrf({"vector": [1, 2, 3], "keyword": [3, 1]})
    assert [c for c, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_rrf_weights() -> None:
    fused = rrf({"vector": [1, 2], "keyword": [2, 1]}, {"vector": 0.0, "keyword": 1.0})
    assert next(c for c, _ in fused) == 2
