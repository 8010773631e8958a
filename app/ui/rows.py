"""Pure conversions from the services' dataclasses to the window's (no Qt, no I/O)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.ui.protocols import Hit, Preview, Problem, Progress


def to_hit(result: Any) -> Hit:
    """``app.search.Result`` (a file) -> ``Hit``, its other passages as ``Hit.more``."""
    doc_id = None if result.document is None else result.document.id
    best = _passage_hit(result.best, result.mtime, doc_id)
    return replace(
        best,
        score=float(result.score),
        scores=_scores(result.scores),
        more=tuple(_passage_hit(p, result.mtime, doc_id) for p in result.passages[1:]),
        relevance=result.relevance,
        level=result.level,
        weak=bool(result.weak),
        mail=mail_label(result.document),
    )


def mail_label(document: Any) -> str:
    """ "Subject · mail from Anna Berg on 2024-03-02" (empty for anything but mail)."""
    if document is None:
        return ""
    sender = document.sender.split("<")[0].strip().strip('"') or document.sender
    when = f" on {document.date[:10]}" if document.date else ""
    return f"{document.title or '(no subject)'} · mail from {sender}{when}"


def _passage_hit(passage: Any, mtime: float, doc_id: int | None) -> Hit:
    """One ``app.results.Passage`` as a row (``doc_id``: the mail message it is in)."""
    return Hit(
        path=passage.path,
        score=float(passage.score),
        snippet=passage.snippet,
        spans=tuple((int(s), int(e)) for s, e in passage.spans),
        page=passage.page,
        heading=passage.heading or "",
        start=passage.start,
        end=passage.end,
        modified=mtime or None,
        scores=_scores(passage.scores),
        chunk_id=str(passage.chunk_id),
        chunk=int(passage.ordinal),
        ocr=bool(passage.ocr),
        doc_id=doc_id,
    )


def _scores(scores: dict[str, float | None]) -> dict[str, float]:
    return {k: float(v) for k, v in scores.items() if v is not None}


def to_progress(progress: Any) -> Progress:
    """``app.indexer.Progress`` -> the status bar's ``Progress``."""
    return Progress(
        phase="indexing" if progress.state == "running" else "idle",
        files_done=progress.files_done,
        files_total=progress.files_total,
        chunks=progress.chunks,
        tokens_per_s=progress.tokens_per_s,
        eta_s=progress.eta_s,
        current=progress.current,
        keyword_files=progress.keyword_files,
        meaning_files=progress.meaning_files,
        backlog_tokens=progress.backlog_tokens,
        embedding=progress.embedding,
        error=progress.error,
        ocr_pages=getattr(progress, "ocr_pages", 0),
        ocr_pages_per_s=getattr(progress, "ocr_pages_per_s", 0.0),
    )


def problems_from_stats(stats: Any) -> list[Problem]:
    """``storage.models.Stats.problems`` -> ``Problem`` rows."""
    return [
        Problem(p.path, p.error or "unknown reason", str(p.status), int(p.retries))
        for p in stats.problems
    ]


def to_preview(hit: Hit, doc: Any, monospace: bool) -> Preview:
    """``app.preview.DocumentText`` -> ``Preview`` for ``hit``."""
    return Preview(
        text=doc.text,
        spans=tuple(doc.matches),
        page=hit.page,
        heading=hit.heading,
        passage=tuple(doc.passage),  # type: ignore[arg-type]
        pages=tuple(doc.pages),
        monospace=monospace,
        start=doc.start,
        end=doc.end,
        length=doc.length,
    )
