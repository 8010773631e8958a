"""Files, not chunks: one result per file, merged passages, cut-off, more like this.

On real documents (Python's help topics, a PDF, a Japanese note, two unrelated notes)
indexed with the real starter model (``tests/fixtures/documents.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.results import joined_text, merge_runs
from app.search import SearchError, SearchOptions, SearchService
from storage.models import Chunk
from storage.store import Store


@pytest.fixture(scope="module")
def service(document_index: Path, starter_model_dir: Path) -> Iterator[SearchService]:
    from engine.config import EmbedderConfig
    from engine.factory import load_embedder

    embedder = load_embedder(EmbedderConfig(model=str(starter_model_dir)))
    svc = SearchService(document_index, embedder)
    yield svc
    svc.close()


def docs(document_index: Path) -> Path:
    return document_index.parent / "docs"


def _chunk(ordinal: int, start: int, end: int, text: str) -> Chunk:
    return Chunk(ordinal + 1, 1, "/d/a.txt", ordinal, text, start, end, f"h{ordinal}")


def test_overlapping_and_adjacent_chunks_merge_and_overlap_appears_once() -> None:
    doc = "alpha beta gamma delta epsilon zeta eta theta"
    a = _chunk(0, 0, 22, doc[0:22])  # "alpha beta gamma delta"
    b = _chunk(1, 11, 35, doc[11:35])  # overlaps a by "gamma delta"
    far = _chunk(5, 40, 45, doc[40:45])
    runs = merge_runs([far, b, a])
    assert [[c.ordinal for c in run.chunks] for run in runs] == [[0, 1], [5]]
    assert joined_text(runs[0].chunks) == runs[0].text() == doc[0:35]


def test_a_long_run_is_cut_into_passages_that_share_no_text() -> None:
    doc = "".join(f"word{i:03d} " for i in range(300))  # 2,400 characters
    chunks = [_chunk(i, i * 700, min(len(doc), i * 700 + 900), "") for i in range(4)]
    chunks = [
        Chunk(c.id, 1, c.path, c.ordinal, doc[c.start : c.end], c.start, c.end, "h") for c in chunks
    ]
    runs = merge_runs(chunks, max_chars=1_800)
    assert [[c.ordinal for c in run.chunks] for run in runs] == [[0, 1], [2, 3]]
    assert runs[1].begin == runs[0].end  # the second passage starts where the first ends
    assert runs[0].text() + runs[1].text() == doc


def test_one_result_per_file_with_its_other_passages(service: SearchService) -> None:
    results = service.search("special method names called by operators", SearchOptions(k=10))
    paths = [r.path for r in results]
    assert len(paths) == len(set(paths))  # one row per file
    special = next(r for r in results if r.name == "specialnames.txt")
    assert len(special.passages) > 1  # several distinct passages, grouped
    starts = [p.start for p in special.passages]
    assert len(starts) == len(set(starts))
    shape = special.to_json()
    assert shape["path"] == special.path and shape["snippet"] == special.passages[0].snippet
    assert [p["start"] for p in shape["passages"]] == starts


def test_passages_of_a_file_never_repeat_text(service: SearchService, document_index: Path) -> None:
    """Merged passages are the file's text exactly: no overlap shown twice."""
    results = service.search("__getattr__ __setattr__ attribute access", SearchOptions(k=5))
    special = next(r for r in results if r.name == "specialnames.txt")
    text = (docs(document_index) / "specialnames.txt").read_text(encoding="utf-8")
    assert any(len(p.chunk_ids) > 1 for p in special.passages)  # touching chunks merged
    for passage in special.passages:
        assert passage.text == text[passage.start : passage.end]
    ends = sorted((p.start, p.end) for p in special.passages)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(ends))


def test_flat_passages_keep_the_old_chunk_list(service: SearchService) -> None:
    chunks = service.passages("special method names", SearchOptions(k=15))
    assert len(chunks) == 15
    assert sum(p.path.endswith("specialnames.txt") for p in chunks) > 1  # chunks, not files
    assert set(chunks[0].to_json()) >= {"path", "score", "snippet", "page", "start", "end"}


def test_cutoff_hides_an_unrelated_file_that_showing_everything_lists(
    service: SearchService,
) -> None:
    query = "glacier ice melting"
    everything = service.search(query, SearchOptions(k=10, cutoff=False))
    assert any(r.name == "packing-list.md" for r in everything)  # the old behaviour
    results = service.search(query, SearchOptions(k=10))
    shown = [r.name for r in results if not r.weak]
    assert "packing-list.md" not in shown and "tax-notes.txt" not in shown
    assert any(r.name == "packing-list.md" and r.weak for r in results)  # behind "weaker"


def test_keyword_matches_always_qualify_and_levels_are_readable(service: SearchService) -> None:
    results = service.search("packing list rain jacket", SearchOptions(k=10))
    top = results[0]
    assert top.name == "packing-list.md" and top.keyword_match and not top.weak
    assert top.level in ("high", "medium") and 0.0 < (top.relevance or 0) <= 1.0
    assert top.scores["fused"] and top.scores["vector"] is not None


def test_query_language_filters_the_real_index(service: SearchService) -> None:
    assert {r.name for r in service.search("lighthouse type:pdf")} == {"lighthouse-log.pdf"}
    names = [r.name for r in service.search("exception -finally", SearchOptions(k=10))]
    assert names and "try.txt" not in names  # try.txt explains finally
    phrase = service.search('"fog horn"', SearchOptions(k=10))
    assert [r.name for r in phrase] == ["lighthouse-log.pdf"]
    assert service.search("lighthouse type:docx") == []


def test_cjk_query_finds_and_highlights_the_note(service: SearchService) -> None:
    results = service.search("富士山", SearchOptions(k=5))
    top = results[0]
    assert top.name == "富士山.md" and top.keyword_match
    assert any("富士山" in top.snippet[s:e] for s, e in top.spans)


def test_more_like_this_finds_a_similar_file_and_never_itself(
    service: SearchService, document_index: Path
) -> None:
    target = str(docs(document_index) / "try.txt")
    similar = service.similar(target, options=SearchOptions(k=5))
    names = [r.name for r in similar]
    assert "try.txt" not in names
    assert names[0] in ("exceptions.txt", "raise.txt", "with.txt")  # also about exceptions
    with Store.open(document_index, readonly=True) as store:
        last = store.chunks(target)[-1].ordinal
    one = service.similar(target, passage=last, options=SearchOptions(k=5))
    assert one and all(r.name != "try.txt" for r in one)
    with pytest.raises(SearchError, match="not in the index"):
        service.similar("/nowhere/x.txt")
    with pytest.raises(SearchError, match="no passage 999"):
        service.similar(target, passage=999)
