"""Pure conversions from the services' dataclasses to the window's (no Qt, no I/O)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from app.ui.backend import Hit, Preview, Problem, Progress, Span


def to_hit(result: Any) -> Hit:
    """``app.search.Result`` -> ``Hit`` (None scores dropped, heading None -> "")."""
    return Hit(
        path=result.path,
        score=float(result.score),
        snippet=result.snippet,
        spans=tuple((int(s), int(e)) for s, e in result.spans),
        page=result.page,
        heading=result.heading or "",
        start=result.start,
        end=result.end,
        modified=result.mtime or None,
        scores={k: float(v) for k, v in result.scores.items() if v is not None},
        chunk_id=str(result.chunk_id),
        ocr=bool(getattr(result, "ocr", False)),
        mail=mail_label(getattr(result, "document", None)),
        doc_id=getattr(getattr(result, "document", None), "id", None),
    )


def mail_label(document: Any) -> str:
    """ "Subject · mail from Anna Berg on 2024-03-02" (empty for anything but mail)."""
    if document is None:
        return ""
    sender = document.sender.split("<")[0].strip().strip('"') or document.sender
    when = f" on {document.date[:10]}" if document.date else ""
    return f"{document.title or '(no subject)'} · mail from {sender}{when}"


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


def _term_spans(text: str, terms: Sequence[str], base: int, limit: int) -> list[Span]:
    """Where the matched terms occur in ``text[base:limit]`` (case-insensitive, whole text)."""
    spans: list[Span] = []
    for term in {t.lower() for t in terms if t.strip()}:
        pattern = re.compile(re.escape(term), re.IGNORECASE)
        spans.extend(m.span() for m in pattern.finditer(text, base, limit))
    return sorted(spans)


def context_preview(hit: Hit, chunks: Sequence[Any]) -> Preview:
    """The hit's chunk between its neighbours, with the snippet's match terms highlighted."""
    index = next((i for i, c in enumerate(chunks) if str(c.id) == hit.chunk_id), None)
    if index is None:
        return Preview(text=hit.snippet, spans=hit.spans, page=hit.page, heading=hit.heading)
    before = chunks[index - 1].text if index > 0 else ""
    if hit.doc_id is not None and index > 1:  # a message's headers always lead its preview
        before = chunks[0].text + "\n\n…\n\n" + before
    after = chunks[index + 1].text if index + 1 < len(chunks) else ""
    separator = "\n\n"
    head = before + separator if before else ""
    body = chunks[index].text
    text = head + body + (separator + after if after else "")
    terms = [hit.snippet[s:e] for s, e in hit.spans]
    spans = _term_spans(text, terms, len(head), len(head) + len(body))
    if not spans:  # nothing to highlight: at least show where the chunk is
        spans = [(len(head), len(head) + min(len(body), 80))]
    return Preview(text=text, spans=tuple(spans), page=hit.page, heading=hit.heading)
