"""The document text a preview shows: chunks joined without overlap, page marks, every match.

Chunks are exact spans of the file's extracted text (``text == document[start:end]``), so
consecutive chunks that share overlap tokens are joined by character offset and the
shared part appears once. Only the chunks around the passage are loaded for a big file
(``PREVIEW_CHARS`` on each side); ``DocumentText.more_before``/``more_after`` say whether
there is more, and a preview of a wider span loads it. Where the page (PDF) or slide
(PPTX) changes, a line "── Page 3 ──" is put in, and every match of the query's terms is
returned as a span of the shown text (marks excluded), for "next/previous match".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from app.extract.text import CODE_EXTS
from app.snippets import match_spans, query_terms
from storage.models import Chunk

Span = tuple[int, int]
#: Characters loaded on each side of the passage (a book loads in pieces, a note at once).
PREVIEW_CHARS = 60_000
#: Files shown in a fixed-width font: code and plain-text formats whose layout is spacing.
MONOSPACE_EXTS = CODE_EXTS | {".txt", ".log", ".csv", ".tsv", ".text", ".conf", ".cfg", ".ini"}


class Loaded:
    """A loaded stretch ``start:end`` of a document ``length`` characters long: the preview
    offers the text before and after it."""

    start: int
    end: int
    length: int

    @property
    def more_before(self) -> bool:
        """True when the document goes on before the loaded text."""
        return self.start > 0

    @property
    def more_after(self) -> bool:
        """True when the document goes on after the loaded text."""
        return self.end < self.length


@dataclass(frozen=True)
class DocumentText(Loaded):
    """A stretch of a document as the preview shows it, with spans in the shown text."""

    text: str
    start: int  # file offset of the first loaded character
    end: int  # file offset after the last loaded character
    length: int  # where the document's last chunk ends
    passage: Span  # the passage, in the shown text
    matches: tuple[Span, ...]  # every match of the query's terms, in the shown text
    pages: tuple[tuple[int, int], ...]  # (position in the shown text, page number)


@dataclass(frozen=True)
class _Piece:
    """Where one run of shown text comes from in the file."""

    file_start: int
    shown_start: int
    size: int


def monospace(path: str) -> bool:
    """True for code and plain-text files, whose line layout means something."""
    return os.path.splitext(path)[1].lower() in MONOSPACE_EXTS


def page_label(path: str) -> str:
    """ "Slide" for presentations, "Sheet" for workbooks, else "Page"."""
    ext = os.path.splitext(path)[1].lower()
    return {".pptx": "Slide", ".xlsx": "Sheet", ".xlsm": "Sheet"}.get(ext, "Page")


def window(start: int, end: int, length: int, chars: int = PREVIEW_CHARS) -> Span:
    """The file span to load around a passage ``[start, end)``."""
    return max(0, start - chars), min(max(length, end), end + chars)


def document_text(
    chunks: Sequence[Chunk],
    passage: Span,
    query: str,
    length: int,
    unit: str = "Page",
) -> DocumentText:
    """Join ``chunks`` (one file, any order) into shown text around ``passage``."""
    parts: list[str] = []
    pieces: list[_Piece] = []
    marks: list[Span] = []
    pages: list[tuple[int, int]] = []
    shown, end, page = 0, -1, None
    for chunk in sorted(chunks, key=lambda c: (c.start, c.ordinal)):
        if chunk.page is not None and chunk.page != page:
            lead = "\n" if parts else ""
            mark = f"{lead}── {unit} {chunk.page} ──\n"
            marks.append((shown, shown + len(mark)))
            pages.append((shown + len(lead), chunk.page))
            parts.append(mark)
            shown += len(mark)
            page = chunk.page
        piece, file_start = _new_text(chunk, end)
        if piece:
            if file_start > end >= 0 and not (marks and marks[-1][1] == shown):
                parts.append("\n")  # a gap the chunker skipped (whitespace)
                shown += 1
            pieces.append(_Piece(file_start, shown, len(piece)))
            parts.append(piece)
            shown += len(piece)
        end = max(end, chunk.end)
    text = "".join(parts)
    found = [s for s in match_spans(text, query_terms(query)) if not _inside(s, marks)]
    first = chunks and min(c.start for c in chunks)
    return DocumentText(
        text=text,
        start=int(first or 0),
        end=max(end, 0),
        length=max(length, end, 0),
        passage=(_shown_at(pieces, passage[0]), _shown_at(pieces, passage[1])),
        matches=tuple(found),
        pages=tuple(pages),
    )


def _new_text(chunk: Chunk, end: int) -> tuple[str, int]:
    """The part of ``chunk`` not yet shown (after file offset ``end``), and where it starts."""
    if end < 0 or chunk.start >= end:
        return chunk.text, chunk.start
    return chunk.text[end - chunk.start :], end


def _inside(span: Span, marks: list[Span]) -> bool:
    return any(s <= span[0] < e for s, e in marks)


def _shown_at(pieces: list[_Piece], offset: int) -> int:
    """The shown-text position of file offset ``offset`` (clamped to the loaded text)."""
    if not pieces:
        return 0
    for piece in pieces:
        if offset < piece.file_start:
            return piece.shown_start
        if offset <= piece.file_start + piece.size:
            return piece.shown_start + offset - piece.file_start
    last = pieces[-1]
    return last.shown_start + last.size
