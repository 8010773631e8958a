"""The multilingual benchmark: its labelled set is well-formed and its scoring is right."""

from __future__ import annotations

import json
from types import ModuleType

import pytest

from tests.fixtures.benchmarks import BENCHMARKS, import_benchmark


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return import_benchmark(monkeypatch, "multilingual")


def test_labelled_set_has_15_or_more_queries_per_language_on_listed_pages() -> None:
    data = json.loads((BENCHMARKS / "data" / "multilingual_queries.json").read_text("utf-8"))
    commands = set(data["commands"])
    per_lang: dict[str, int] = {}
    for query in data["queries"]:
        assert query["q"].strip() and query["rel"] and set(query["rel"]) <= commands
        per_lang[query["lang"]] = per_lang.get(query["lang"], 0) + 1
    assert set(per_lang) == {"en", "de", "fr", "zh", "ja"}
    assert min(per_lang.values()) >= 15


def test_ranked_files_dedupes_chunks_and_keeps_the_language_folder(bench: ModuleType) -> None:
    paths = ["/c/de/kill.1.txt", "/c/de/kill.1.txt", "/c/en/kill.1.txt", "/c/de/sort.1.txt"]
    assert bench.ranked_files(paths) == ["de/kill.1", "en/kill.1", "de/sort.1"]
    assert len(bench.ranked_files([f"/c/en/{i}.txt" for i in range(30)])) == 10


def test_reciprocal_rank_and_summary(bench: ModuleType) -> None:
    assert bench.reciprocal_rank(["en/a", "de/a"], {"de/a"}) == 0.5
    assert bench.reciprocal_rank(["en/a"], {"de/a"}) == 0.0
    assert bench.summary([1.0, 0.5, 0.0, 1.0]) == {"hit1": 0.5, "mrr": 0.625}
