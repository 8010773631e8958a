"""What a search loads per hit: a huge chunk from an old index is cut in SQL, not in Python.

Indexes built before chunks had a length cap can hold one chunk of a whole hostile
one-line file (95 MB in the trial). A search that returns it must not copy it into Python.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from app.results import MAX_PASSAGE_CHARS
from app.search import SearchOptions, SearchService
from storage.base import HIT_TEXT_CHARS
from storage.models import NewChunk
from storage.store import Store
from tests.fixtures.store import FP, unit

HUGE = 8_000_000  # characters in the one chunk (ASCII: 8 MB as a Python str)


def _old_index_with_a_huge_chunk(db: Path) -> str:
    text = "The rowing club minutes " + "x" * HUGE
    with Store.open(db) as store:
        store.write_file("/d/small.txt", size=40, mtime=1.0, content_hash="s",
                         chunks=[NewChunk(0, "Rowing club notes", 0, 17, "s")],
                         vectors_by_hash={"s": unit("s")}, fingerprint=FP)  # fmt: skip
        store.write_file("/d/huge.txt", size=len(text), mtime=1.0, content_hash="h",
                         chunks=[NewChunk(0, text, 10, 10 + len(text), "h")],
                         vectors_by_hash={"h": unit("h")}, fingerprint=FP)  # fmt: skip
    return text


def test_a_search_touching_a_huge_chunk_loads_a_bounded_prefix(tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite3"
    text = _old_index_with_a_huge_chunk(db)
    service = SearchService(db, None)
    try:
        tracemalloc.start()
        results = service.search("rowing minutes", SearchOptions(k=10))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        service.close()
    huge = next(r for r in results if r.path == "/d/huge.txt")
    passage = huge.passages[0]
    # Before the cut in SQL the whole 8 MB string came into Python (peak >= 8 MB).
    assert peak < HUGE // 4, f"peak {peak / 1e6:.1f} MB"
    assert passage.text == text[:MAX_PASSAGE_CHARS]  # what the window shows is unchanged
    assert (passage.start, passage.end) == (10, 10 + len(text))  # the file's true offsets


def test_hits_keep_room_for_a_full_passage() -> None:
    """A passage may start after its neighbour's overlap; its 32k must still be loaded."""
    assert HIT_TEXT_CHARS >= 2 * MAX_PASSAGE_CHARS


def test_chunks_by_id_cuts_the_text_and_keeps_the_offsets(tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite3"
    text = _old_index_with_a_huge_chunk(db)
    with Store.open(db, readonly=True) as store:
        (chunk,) = [c for c in store.chunks_by_id([1, 2]).values() if c.path == "/d/huge.txt"]
        whole = store.chunks("/d/huge.txt")[0]  # reading a file's chunks still gets it all
    assert chunk.text == text[:HIT_TEXT_CHARS]
    assert (chunk.start, chunk.end) == (10, 10 + len(text))
    assert whole.text == text


def test_the_preview_of_a_huge_chunk_loads_only_its_window(tmp_path: Path) -> None:
    """The preview (``SearchService.context``) of a passage in a 95 MB one-line chunk used to
    copy the whole chunk into Python; now SQL cuts it to the window, offsets exact."""
    db = tmp_path / "index.sqlite3"
    text = _old_index_with_a_huge_chunk(db)
    with Store.open(db, readonly=True) as store:
        (cut,) = store.chunks_between("/d/huge.txt", 5_000, 9_000)
        (small,) = store.chunks_between("/d/small.txt", 3, 5)  # a normal chunk comes whole
    assert (cut.start, cut.end) == (5_000, 9_000)
    assert cut.text == text[5_000 - 10 : 9_000 - 10]  # the file's [5000, 9000)
    assert small.text == "Rowing club notes" and (small.start, small.end) == (0, 17)
    service = SearchService(db, None)
    try:
        tracemalloc.start()
        shown = service.context("/d/huge.txt", (10, 40), "rowing")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        service.close()
    assert peak < HUGE // 4, f"peak {peak / 1e6:.1f} MB"
    assert shown.text.startswith("The rowing club minutes") and shown.start == 10
    assert shown.length == 10 + len(text)  # the pane still knows there is more after
    assert shown.matches and shown.text[slice(*shown.matches[0])].lower() == "rowing"
