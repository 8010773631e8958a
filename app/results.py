"""Search results as people read them: one result per file, its matching passages inside.

A ``Passage`` is one chunk, or several chunks of one file that overlap or sit side by side,
merged so their shared text appears once. A ``Result`` is a file: its passages best first,
one file score, and how relevant it looks (``relevance``, ``level``, ``weak``; see
``app.relevance``). The best passage's fields stay at the top of ``Result.to_json`` so
scripts written for the chunk list keep working.

File scores come from ``fuse_files``: reciprocal rank fusion over each retriever's list
collapsed to files (a file's rank is that of its best chunk, so one long file cannot push
every other file down a list), times a small bonus for each further distinct passage that
matched; the bonus was measured on the labelled sets (``benchmarks/tune.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from storage.models import Chunk, DocumentInfo

Level = Literal["high", "medium", "low"]
#: Most characters of one passage kept for its snippet, its rerank text and the JSON.
MAX_PASSAGE_CHARS = 32_768
#: Further passages counted for a file's bonus (beyond them a long file gains nothing).
BONUS_CAP = 3
#: A run of touching chunks longer than this starts a new passage: a passage is something
#: to read at a glance, not 20 pages of a manual that matched throughout.
MAX_RUN_CHARS = 3_000


@dataclass(frozen=True)
class Passage:
    """A stretch of one file that matched: merged chunks, their snippet and scores."""

    path: str
    chunk_ids: tuple[int, ...]
    ordinal: int  # the first chunk's number in its file (``quarry similar --passage``)
    start: int
    end: int
    page: int | None
    heading: str | None
    text: str
    score: float  # the best fused chunk score inside it
    scores: dict[str, float | None]  # vector (cosine), keyword (BM25 sum), rerank (P(yes))
    snippet: str = ""
    spans: list[tuple[int, int]] = field(default_factory=list)
    coverage: float = 0.0  # share of the query's terms it holds (name and heading included)
    content_hash: str = ""  # of its best chunk
    ocr: bool = False  # its text was recognised in an image (a scan, a photo)

    @property
    def chunk_id(self) -> int:
        """The passage's best chunk (its identity in the flat list)."""
        return self.chunk_ids[0]

    def to_json(self) -> dict[str, Any]:
        """One entry of ``passages`` in ``quarry search --json`` (and of ``--passages``)."""
        return {
            "path": self.path,
            "chunk": self.ordinal,
            "score": self.score,
            "snippet": self.snippet,
            "spans": [list(span) for span in self.spans],
            "page": self.page,
            "start": self.start,
            "end": self.end,
            "heading": self.heading,
            "scores": dict(self.scores),
            "ocr": self.ocr,
        }


@dataclass(frozen=True)
class Result:
    """One file found: its passages best first and how it ranks.

    ``relevance`` is a probability (the reranker's P(yes) once it scored the file, else the
    model's calibrated estimate; None when the model has no calibration); ``level`` is its
    High/Medium/Low reading; ``weak`` files sit behind "Show weaker matches".
    """

    path: str
    score: float
    passages: tuple[Passage, ...]
    mtime: float = 0.0
    size: int = 0
    relevance: float | None = None
    level: Level | None = None
    weak: bool = False
    keyword_match: bool = False  # holds every query term, or the quoted phrase
    fused: float = 0.0  # the first-stage file score, kept when a rerank replaces ``score``
    document: DocumentInfo | None = None  # the mail message this result is (one per message)

    @property
    def key(self) -> str:
        """What identifies the result: its path, or path and message for a mail message
        (an mbox holds many messages, each its own result)."""
        return result_key(self.path, None if self.document is None else self.document.id)

    @property
    def ocr(self) -> bool:
        """True when any passage's text was read by OCR."""
        return any(p.ocr for p in self.passages)

    @property
    def best(self) -> Passage:
        """The passage shown first."""
        return self.passages[0]

    @property
    def name(self) -> str:
        """The file name."""
        return os.path.basename(self.path)

    # The best passage's fields, so code written for chunk results reads a file result.
    @property
    def chunk_id(self) -> int:
        return self.best.chunk_id

    @property
    def snippet(self) -> str:
        return self.best.snippet

    @property
    def spans(self) -> list[tuple[int, int]]:
        return self.best.spans

    @property
    def page(self) -> int | None:
        return self.best.page

    @property
    def heading(self) -> str | None:
        return self.best.heading

    @property
    def start(self) -> int:
        return self.best.start

    @property
    def end(self) -> int:
        return self.best.end

    @property
    def text(self) -> str:
        return self.best.text

    @property
    def scores(self) -> dict[str, float | None]:
        """The best passage's per-source scores plus the file's fused score."""
        return {**self.best.scores, "fused": self.fused}

    def to_json(self) -> dict[str, Any]:
        """The ``quarry search --json`` shape: one object per file (see README, Search)."""
        top = self.best.to_json()
        del top["chunk"]
        return {
            **top,
            "score": self.score,
            "scores": self.scores,
            "relevance": self.relevance,
            "level": self.level,
            "weak": self.weak,
            "keyword_match": self.keyword_match,
            "modified": self.mtime,
            "passages": [p.to_json() for p in self.passages],
            "ocr": self.ocr,
            **({} if self.document is None else {"mail": mail_json(self.document)}),
        }


def mail_json(doc: DocumentInfo) -> dict[str, str]:
    """A message's headers as the JSON ``mail`` object (subject is its title)."""
    return {
        "subject": doc.title,
        "from": doc.sender,
        "to": doc.recipients,
        "date": doc.date,
        "key": doc.key,
    }


def result_key(path: str, doc_id: int | None) -> str:
    """A file's path, or ``path`` plus ``#message id`` for a mail message in it."""
    return path if doc_id is None else f"{path}\x00{doc_id}"


def chunk_key(chunk: Chunk) -> str:
    """The result a chunk belongs to (``result_key``)."""
    return result_key(chunk.path, chunk.doc_id)


@dataclass(frozen=True)
class Run:
    """Touching chunks of one file shown as one passage, from ``begin`` on."""

    chunks: tuple[Chunk, ...]  # in file order
    begin: int  # where the passage starts: after the previous passage's text, if it overlaps

    @property
    def end(self) -> int:
        """Where the passage's text ends in the file."""
        return max(c.end for c in self.chunks)

    def text(self, limit: int = MAX_PASSAGE_CHARS) -> str:
        """The passage's text: overlaps written once, nothing before ``begin``."""
        joined = joined_text(self.chunks, limit + self.begin - self.chunks[0].start)
        return joined[self.begin - self.chunks[0].start :][:limit]


def merge_runs(chunks: Sequence[Chunk], max_chars: int = MAX_RUN_CHARS) -> list[Run]:
    """Chunks of ONE file grouped into runs that overlap or touch (ordinal or offset).

    Consecutive chunks of a section share overlap tokens; shown apart they repeat text,
    so they become one passage. A run stops growing at ``max_chars``; the next touching
    chunk starts a passage of its own that begins where the previous one ends, so no text
    appears in two passages.
    """
    groups: list[list[Chunk]] = []
    for chunk in sorted(chunks, key=lambda c: (c.start, c.ordinal)):
        run = groups[-1] if groups else None
        touching = run is not None and (
            chunk.start <= max(c.end for c in run) or chunk.ordinal == run[-1].ordinal + 1
        )
        if run is not None and touching and chunk.end - run[0].start <= max_chars:
            run.append(chunk)
        else:
            groups.append([chunk])
    runs: list[Run] = []
    for group in groups:
        begin = max(group[0].start, runs[-1].end if runs else 0)
        runs.append(Run(tuple(group), min(begin, max(c.end for c in group))))
    return runs


def joined_text(chunks: Sequence[Chunk], limit: int = MAX_PASSAGE_CHARS) -> str:
    """The text of consecutive chunks with each overlap written once (by character offset).

    Chunk text is the exact span ``[start, end)`` of the file's text, so the part of a chunk
    before the previous chunk's end is already there; a gap between chunks (skipped
    whitespace) becomes a line break.
    """
    parts: list[str] = []
    end = -1
    size = 0
    for chunk in sorted(chunks, key=lambda c: c.start):
        if end < 0:
            piece = chunk.text
        elif chunk.start < end:
            piece = chunk.text[end - chunk.start :]
        else:
            piece = ("\n" if chunk.start > end else "") + chunk.text
        parts.append(piece)
        size += len(piece)
        end = max(end, chunk.end)
        if size >= limit:
            break
    return "".join(parts)[:limit]


def fuse_files(
    lists: Mapping[str, Sequence[int]],
    file_of: Mapping[int, str],
    weights: Mapping[str, float],
    k: int,
) -> dict[str, float]:
    """RRF over each list collapsed to files (rank of the file's best chunk in that list)."""
    scores: dict[str, float] = {}
    for name, chunk_ids in lists.items():
        weight = weights.get(name, 1.0)
        seen: dict[str, None] = {}
        for cid in chunk_ids:
            path = file_of.get(cid)
            if path is not None and path not in seen:
                seen[path] = None
                scores[path] = scores.get(path, 0.0) + weight / (k + len(seen))
    return scores


def with_bonus(score: float, passages: int, bonus: float) -> float:
    """A file score raised by ``bonus`` per further distinct matching passage (capped)."""
    return score * (1.0 + bonus * min(max(passages - 1, 0), BONUS_CAP))
