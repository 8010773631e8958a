"""The window's rows built from the search service's results (no Qt, no I/O).

A list model needs one flat, hashable row type for a file and for each of its passages,
carrying the strings the view paints (name or mail label, folder, location). ``ResultRow``
is that view of ``app.search.Result``; this module is the only place that builds one.
"""

from __future__ import annotations

from dataclasses import replace

from app.preview import DocumentText
from app.results import Passage, Result
from app.ui.protocols import Preview, ResultRow
from storage.models import DocumentInfo


def to_row(result: Result) -> ResultRow:
    """A file (or mail message) as a row, its other passages as ``ResultRow.more``."""
    doc_id = None if result.document is None else result.document.id
    best = _passage_row(result.best, result.mtime, doc_id)
    return replace(
        best,
        score=float(result.score),
        scores=_scores(result.scores),
        more=tuple(_passage_row(p, result.mtime, doc_id) for p in result.passages[1:]),
        relevance=result.relevance,
        level=result.level,
        weak=result.weak,
        mail=mail_label(result.document),
        result=result,
    )


def mail_label(document: DocumentInfo | None) -> str:
    """ "Subject · mail from Anna Berg on 2024-03-02" (empty for anything but mail)."""
    if document is None:
        return ""
    sender = document.sender.split("<")[0].strip().strip('"') or document.sender
    when = f" on {document.date[:10]}" if document.date else ""
    return f"{document.title or '(no subject)'} · mail from {sender}{when}"


def _passage_row(passage: Passage, mtime: float, doc_id: int | None) -> ResultRow:
    """One passage as a row (``doc_id``: the mail message it is in)."""
    return ResultRow(
        path=passage.path,
        score=float(passage.score),
        snippet=passage.snippet,
        spans=tuple(passage.spans),
        page=passage.page,
        heading=passage.heading or "",
        start=passage.start,
        end=passage.end,
        modified=mtime or None,
        scores=_scores(passage.scores),
        chunk_id=str(passage.chunk_id),
        chunk=passage.ordinal,
        ocr=passage.ocr,
        doc_id=doc_id,
    )


def _scores(scores: dict[str, float | None]) -> dict[str, float]:
    return {k: float(v) for k, v in scores.items() if v is not None}


def to_preview(row: ResultRow, doc: DocumentText, monospace: bool) -> Preview:
    """The preview pane's view of ``doc`` around ``row``'s passage."""
    return Preview(
        text=doc.text,
        spans=doc.matches,
        page=row.page,
        heading=row.heading,
        passage=doc.passage,
        pages=doc.pages,
        monospace=monospace,
        start=doc.start,
        end=doc.end,
        length=doc.length,
    )
