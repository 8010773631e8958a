"""The quality benchmark's scoring: file-level dedupe, recall@10 and binary nDCG@10."""

from __future__ import annotations

import math
from types import ModuleType

import pytest

from tests.fixtures.benchmarks import import_benchmark


@pytest.fixture
def quality(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return import_benchmark(monkeypatch, "quality")


def test_files_in_order_dedupes_chunks_to_files(quality: ModuleType) -> None:
    paths = ["/d/try.txt", "/d/try.txt", "/d/with.txt", "/d/try.txt", "/d/raise.txt"]
    assert quality.files_in_order(paths) == ["try", "with", "raise"]
    assert quality.files_in_order([f"/d/{i}.txt" for i in range(30)], cutoff=10) == [
        str(i) for i in range(10)
    ]


def test_recall_counts_relevant_files_in_the_top_ten(quality: ModuleType) -> None:
    relevant = frozenset({"try", "exceptions"})
    assert quality.recall_at(["try", "x"], relevant) == 0.5
    assert quality.recall_at([*"abcdefghij", "try"], relevant) == 0.0


def test_ndcg_is_one_for_the_ideal_order_and_discounts_lower_ranks(quality: ModuleType) -> None:
    relevant = frozenset({"a", "b"})
    assert quality.ndcg_at(["a", "b", "c"], relevant) == pytest.approx(1.0)
    expected = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert quality.ndcg_at(["c", "a"], relevant) == pytest.approx(expected)
    assert quality.ndcg_at([], relevant) == 0.0


def test_labelled_queries_name_real_topics(quality: ModuleType) -> None:
    from pydoc_data.topics import topics

    queries = quality.load_queries()
    assert len(queries) == 48
    assert all(q.relevant and q.relevant <= topics.keys() for q in queries)


def test_report_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    report = import_benchmark(monkeypatch, "report")
    percentile, table = report.percentile, report.table
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([0.0, 10.0], 95) == pytest.approx(9.5)
    assert table(["a", "b"], [[1, 2]]).splitlines() == ["| a | b |", "|---|---|", "| 1 | 2 |"]
