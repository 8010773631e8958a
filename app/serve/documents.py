"""A document's text rebuilt from its stored chunks: a page of it, or a passage in context.

``get`` answers from the index, never from the disk: the chunker keeps
``chunk.text == document.text[start:end]``, so consecutive chunks (which overlap by a few
tokens, and skip only the whitespace they were trimmed of) give back the extracted text at
its own character offsets. Reading nothing from the disk is also what makes ``get`` safe:
a link or a changed file cannot make it show anything the index does not already hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.models import Chunk


@dataclass(frozen=True)
class Span:
    """Text of ``[start, end)`` in document offsets, and whether the document goes on."""

    start: int
    end: int
    text: str
    more: bool


def _gap(length: int) -> str:
    """Stand-in for whitespace the chunker trimmed: same length, so offsets stay valid."""
    return " " if length == 1 else "\n" * length


def stitch(chunks: Sequence[Chunk], start: int, limit: int) -> Span:
    """Up to ``limit`` characters of the document from offset ``start``.

    ``chunks`` are in order; overlapping parts are taken once, trimmed gaps refilled (a
    gap counts towards ``limit`` like text, so paging always moves on).
    """
    stop = start + limit
    parts: list[str] = []
    pos = start
    seen = 0  # end of the text the chunks so far cover
    for chunk in chunks:
        if chunk.start > pos:
            upto = min(chunk.start, stop)
            parts.append(_gap(chunk.start - seen)[pos - seen : upto - seen])
            pos = upto
        seen = max(seen, chunk.end)
        if pos >= stop:
            break
        if chunk.end > pos:
            piece = chunk.text[pos - chunk.start : stop - chunk.start]
            parts.append(piece)
            pos += len(piece)
    return Span(start, pos, "".join(parts), any(c.end > pos for c in chunks))


def passage_index(chunks: Sequence[Chunk], at: int) -> int:
    """The chunk a search result at offset ``at`` means: the last one starting at or
    before it that still contains it (consecutive chunks overlap), else the next one."""
    best = None
    for i, chunk in enumerate(chunks):
        if chunk.start <= at < chunk.end:
            best = i
        elif chunk.start > at:
            return i if best is None else best
    return best if best is not None else len(chunks) - 1


def describe(chunk: Chunk) -> dict[str, Any]:
    """A passage's place in its document, as the API reports it."""
    return {"start": chunk.start, "end": chunk.end, "page": chunk.page, "heading": chunk.heading}
