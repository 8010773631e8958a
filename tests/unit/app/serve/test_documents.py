"""Rebuilding a document's text from its chunks (overlaps taken once, trimmed gaps refilled)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.serve.documents import passage_index, stitch
from storage.models import Chunk


def _chunk(text: str, start: int, end: int, ordinal: int = 0) -> Chunk:
    return Chunk(ordinal, 1, "/d/a.txt", ordinal, text[start:end], start, end, f"h{ordinal}")


def _chunks(text: str, spans: list[tuple[int, int]]) -> list[Chunk]:
    return [_chunk(text, a, b, i) for i, (a, b) in enumerate(spans)]


def test_overlaps_are_taken_once_and_gaps_refilled() -> None:
    text = "alpha beta\n\ngamma delta epsilon"
    chunks = _chunks(text, [(0, 10), (6, 10), (12, 23), (18, 31)])
    assert stitch(chunks, 0, 1000).text == text
    page = stitch(chunks, 8, 7)
    assert (page.start, page.end, page.text, page.more) == (8, 15, "ta\n\ngam", True)
    assert stitch(chunks, 31, 10).text == "" and not stitch(chunks, 31, 10).more


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.text("abcxyz", min_size=1, max_size=6), min_size=1, max_size=30),
    seps=st.lists(st.sampled_from([" ", "\n\n"]), min_size=30, max_size=30),
    size=st.integers(1, 6),
    overlap=st.integers(0, 2),
    limit=st.integers(1, 40),
)
def test_paging_through_any_document_gives_it_back(
    words: list[str], seps: list[str], size: int, overlap: int, limit: int
) -> None:
    """Chunks of ``size`` words sharing ``overlap`` words, the separators between them
    trimmed as the chunker trims whitespace: paging reads the exact text."""
    starts, pos = [], 0
    for word, sep in zip(words, seps, strict=False):
        starts.append((pos, pos + len(word)))
        pos += len(word) + len(sep)
    text = "".join(w + s for w, s in zip(words, seps, strict=False)).rstrip()
    spans, i = [], 0
    while i < len(starts):
        j = min(i + size, len(starts))
        spans.append((starts[i][0], starts[j - 1][1]))
        i = j if j == len(starts) else max(j - overlap, i + 1)
    chunks = _chunks(text, spans)
    read, offset = "", 0
    while True:
        page = stitch(chunks, offset, limit)
        read += page.text
        if not page.more:
            break
        offset = page.end
    assert read == text


def test_passage_index_prefers_the_chunk_a_result_starts() -> None:
    text = "one two three four five six"
    chunks = _chunks(text, [(0, 13), (8, 23), (19, 27)])
    assert [passage_index(chunks, at) for at in (0, 8, 12, 13, 19, 26)] == [0, 1, 1, 1, 2, 2]
    gap = _chunks("ab    cd", [(0, 2), (6, 8)])
    assert passage_index(gap, 3) == 1 and passage_index(gap, 100) == 1
