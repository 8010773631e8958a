"""What the window needs from search and indexing, as small Qt-free protocols.

The window talks only to these, so pure-UI tests can put a ``Fake...`` behind them and the
controller can adapt the real ``app.search.SearchService`` and pipeline indexer to them.
Every method here may block: the worker layer calls them off the main thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from app.phases import Progress
from app.preview import Loaded
from app.results import Result
from app.search import SearchOptions
from storage.models import ProblemFile

Span = tuple[int, int]


@dataclass(frozen=True)
class ResultRow:
    """One result row as the window shows it (a view of ``app.search.Result``): a file and
    its best passage; ``more`` holds the file's other matching passages, as ResultRows too."""

    path: str
    score: float
    snippet: str
    spans: tuple[Span, ...] = ()  # match spans inside ``snippet``
    page: int | None = None
    heading: str = ""
    start: int = 0  # character offsets of the passage in the file's text
    end: int = 0
    modified: float | None = None  # mtime, seconds since the epoch
    scores: dict[str, float] = field(default_factory=dict)
    chunk_id: str = ""  # identity that survives re-ordering; falls back to path+start
    more: tuple[ResultRow, ...] = ()  # the file's other matching passages, best first
    relevance: float | None = None  # calibrated P(relevant), or the reranker's P(yes)
    level: str | None = None  # "high" | "medium" | "low" (None: not calibrated)
    weak: bool = False  # behind "Show weaker matches"
    chunk: int = 0  # the passage's chunk number in its file (for "more like this")
    ocr: bool = False  # the text was recognised in a scan or photo
    mail: str = ""  # for a mail message: "Subject · mail from Anna on 2024-03-02"
    doc_id: int | None = None  # the mail message's stored id (its preview is the message)
    result: Result | None = field(default=None, compare=False, repr=False)  # what it shows

    @property
    def key(self) -> str:
        """Stable identity: a rerank re-orders hits, it never changes which hit is which."""
        return self.chunk_id or f"{self.path}#{self.start}"

    @property
    def name(self) -> str:
        """The file name (a mail message's subject and sender), the first thing a person
        scans for."""
        return self.mail or os.path.basename(self.path)

    @property
    def folder(self) -> str:
        """The containing folder, to tell same-named files apart."""
        return os.path.dirname(self.path)

    @property
    def location(self) -> str:
        """Page and heading as one short label ("p. 3 · Intro > Setup")."""
        parts = []
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.heading:
            parts.append(self.heading)
        if self.ocr:
            parts.append("OCR")
        return " · ".join(parts)


@dataclass(frozen=True)
class Preview(Loaded):
    """The document around a passage: every match, the passage, page marks, what is loaded.

    ``start``/``end`` are the file offsets of the loaded text and ``length`` the document's,
    so the pane can offer the text before and after (``more_before``/``more_after``).
    """

    text: str
    spans: tuple[Span, ...] = ()  # every match of the query, in ``text``
    page: int | None = None
    heading: str = ""
    passage: Span | None = None  # the passage, in ``text`` (scrolled into view)
    pages: tuple[tuple[int, int], ...] = ()  # (position in text, page) where pages begin
    monospace: bool = False  # code and plain text keep their layout
    start: int = 0
    end: int = 0
    length: int = 0


UpdateCallback = Callable[[list[ResultRow]], None]
CancelCheck = Callable[[], bool]
ProgressCallback = Callable[[Progress], None]


@runtime_checkable
class WindowSearch(Protocol):
    """Search as the window sees it: fast fused hits first, then reranked improvements."""

    def search(self, query: str, options: SearchOptions) -> list[ResultRow]:
        """Fused hits, best first; quick enough to run on every keystroke (debounced)."""
        ...

    def rerank(
        self,
        query: str,
        hits: Sequence[ResultRow],
        options: SearchOptions,
        on_update: UpdateCallback,
        is_cancelled: CancelCheck,
    ) -> list[ResultRow]:
        """Re-order ``hits``; call ``on_update`` with each improved order; stop when cancelled."""
        ...

    def preview(self, hit: ResultRow, span: Span | None = None) -> Preview:
        """The document around the hit's passage, or the file span ``span`` when given."""
        ...

    def similar(self, hit: ResultRow, passage: bool = False) -> list[ResultRow]:
        """Files like the hit's file, or like its passage alone (``passage``)."""
        ...

    def presets(self) -> dict[str, str]:
        """Instruction presets offered in the filter bar: name -> task text."""
        ...

    def prepare(self) -> None:
        """Load models and indexes ahead of the first search (called once, after launch)."""
        ...

    def uses_instruction(self) -> bool | None:
        """Whether the loaded model reads query instructions; None until one is loaded."""
        ...

    def model_notice(self) -> str | None:
        """What loading the model said (e.g. the starter model is in use); None if nothing."""
        ...

    def close(self) -> None:
        """Free the models and the index connection (the search is being replaced)."""
        ...


@runtime_checkable
class WindowIndexing(Protocol):
    """The indexer as the window sees it; ``run`` blocks on a worker thread."""

    def run(self, on_progress: ProgressCallback) -> None:
        """Scan and index the watched folders until done or cancelled."""
        ...

    def pause(self) -> None:
        """Pause embedding (phase 2); the batch in flight is still committed."""
        ...

    def resume(self) -> None:
        """Continue embedding after ``pause``."""
        ...

    def promote(self, paths: Sequence[str], band: int) -> None:
        """Embed these files sooner (``storage.models.BAND_OPENED`` / ``BAND_SEARCHED``)."""
        ...

    def cancel(self) -> None:
        """Stop soon; work already committed stays, the rest resumes next start."""
        ...

    def problems(self) -> list[ProblemFile]:
        """Files that were skipped or failed, with reasons."""
        ...

    def retry(self, paths: Sequence[str]) -> None:
        """Queue these problem files again (picked up by the next ``run``)."""
        ...

    def rebuild(self, dimension: int, on_progress: ProgressCallback) -> None:
        """Build the index at a new dimension beside the old one, then swap (blocks)."""
        ...
