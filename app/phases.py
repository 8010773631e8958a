"""The words for both indexing phases, shared by the status bar and ``quarry status``.

One line a person can read at a glance, saying what search can reach right now:

    48,210 files searchable by keyword · 9,400 by meaning · about 3 h left at 1,900 tokens/s

Qt-free and I/O-free: callers pass the counts they already have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: What phase 2 is doing (see ``app.embedding``).
# "fault" is never phase 2's own state: the indexer reports it while a full disk pauses all.
EmbedState = Literal["running", "paused", "battery", "waiting", "backoff", "idle", "fault"]
#: The run as a whole: "running" (phase 1 has files to read), "rebuilding" (a new index
#: at another dimension is being built), "idle" (waiting for changes; phase 2 may still be
#: embedding), "cancelled", "done", or "locked" (another process holds the index lock;
#: ``Progress.current`` says which) or "paused" (the environment stopped all indexing, e.g.
#: a full disk: ``Progress.error`` says why; it retries).
RunState = Literal["running", "rebuilding", "idle", "cancelled", "done", "locked", "paused"]


def format_duration(seconds: float | None) -> str:
    """Short durations ("45 s", "2 min", "3 h", "1 h 5 min"); empty when unknown."""
    if seconds is None or seconds < 0:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    hours, minutes = s // 3600, (s % 3600) // 60
    if hours >= 10 or not minutes:
        return f"{hours} h"
    return f"{hours} h {minutes} min"


@dataclass(frozen=True)
class PhaseStatus:
    """What the two phases have reached, and what phase 2 is doing."""

    keyword_files: int  # phase 1 done: chunks and keywords written
    meaning_files: int  # phase 2 done too: every chunk has its vector
    backlog_tokens: int = 0  # tokens still to embed
    tokens_per_s: float = 0.0  # phase 2's measured speed (0: not measured yet)
    embedding: EmbedState = "idle"
    error: str = ""  # phase 2's last model error, or why indexing paused ("fault")

    @property
    def eta_s(self) -> float | None:
        """Seconds until phase 2 is done at the measured speed; None when unknown."""
        if self.tokens_per_s <= 0 or not self.backlog_tokens:
            return None
        return self.backlog_tokens / self.tokens_per_s


@dataclass(frozen=True)
class Progress:
    """A snapshot of both indexing phases: the CLI's progress line and the window's status
    bar both read this one type (the window receives it through a Qt signal as is).

    ``files_*``/``eta_s`` are phase 1's (or, while ``rebuilding``, the rebuild's chunks);
    ``keyword_files``/``meaning_files``/``backlog_*`` are index totals, so the idle line
    stays honest; ``embedding`` is phase 2 on its own.
    """

    state: RunState = "idle"
    files_done: int = 0
    files_total: int = 0
    ok: int = 0
    skipped: int = 0
    failed: int = 0
    chunks: int = 0  # chunks written this run (phase 1)
    embedded: int = 0  # chunks embedded this run (phase 2)
    tokens_per_s: float = 0.0  # phase 2's measured speed
    eta_s: float | None = None  # phase 1: until the queued files are read
    current: str = ""
    keyword_files: int = 0  # index totals: files searchable by keyword
    meaning_files: int = 0  # ... and by meaning (every vector committed)
    backlog_chunks: int = 0  # chunks still waiting for vectors
    backlog_tokens: int = 0
    embedding: EmbedState = "idle"  # "fault": the environment paused all indexing (``error``)
    error: str = ""  # phase 2's last model error until a batch succeeds; or why it paused
    ocr_pages: int = 0  # pages read by OCR this run
    ocr_pages_per_s: float = 0.0  # ... per second of wall time since the first one began

    @property
    def fraction(self) -> float:
        """Done fraction in [0, 1]: files read while reading, else files embedded."""
        if self.state == "idle" and self.keyword_files:
            return min(1.0, self.meaning_files / self.keyword_files)
        return min(1.0, self.files_done / self.files_total) if self.files_total else 0.0

    @property
    def embedding_left(self) -> bool:
        """True while some searchable file still waits for its vectors."""
        return self.meaning_files < self.keyword_files

    def phases(self) -> PhaseStatus:
        """The counts in the form ``describe`` words them."""
        return PhaseStatus(
            self.keyword_files,
            self.meaning_files,
            self.backlog_tokens,
            self.tokens_per_s,
            self.embedding,
            self.error,
        )


@dataclass
class Summary:
    """Counts of a finished run, for the CLI's last line (``Progress`` is the running count)."""

    ok: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    failed_again: int = 0  # of ``failed``: files that had already failed, same bytes
    deleted: int = 0
    chunks: int = 0
    embedded: int = 0  # chunks embedded (phase 2)
    tokens: int = 0  # tokens embedded
    keyword_only: int = 0  # files phase 2 gave up on (still searchable by keyword)
    waiting: int = 0  # files still waiting for vectors at the end (paused, battery, cancel)
    ocr_pages: int = 0  # pages read by OCR
    ocr_seconds: float = 0.0  # wall time from the first OCR page's start to the last's end
    seconds: float = 0.0
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # path, status, reason

    @property
    def ocr_pages_per_s(self) -> float:
        """OCR throughput of the run (all extraction workers together)."""
        return self.ocr_pages / self.ocr_seconds if self.ocr_seconds > 0 else 0.0

    @property
    def new_failures(self) -> int:
        """Files that failed in this run (either phase) and had not failed that way before."""
        return self.failed - self.failed_again + self.keyword_only


def _meaning(status: PhaseStatus) -> str:
    if status.meaning_files >= status.keyword_files:
        return "all by meaning" if status.keyword_files else ""
    return f"{status.meaning_files:,} by meaning"


def _phase2(status: PhaseStatus) -> str:
    """What phase 2 is up to, when it has work left."""
    if status.meaning_files >= status.keyword_files:
        return ""
    state = status.embedding
    if state == "paused":
        return "embedding paused"
    if state == "battery":
        return "embedding paused on battery"
    if status.error and state == "backoff":
        return f"embedding failed ({status.error}); retrying soon"
    if state == "waiting":
        return "embedding starts once new files are read"
    eta = format_duration(status.eta_s)
    if not eta:
        return "measuring embedding speed…" if state == "running" else ""
    return f"about {eta} left at {status.tokens_per_s:,.0f} tokens/s"


def describe(status: PhaseStatus) -> str:
    """The one-line summary of both phases (first, why indexing is paused, if it is)."""
    fault = f"Indexing paused: {status.error}" if status.embedding == "fault" else ""
    if not status.keyword_files:
        return " · ".join(p for p in (fault, "Nothing searchable yet") if p)
    files = "file" if status.keyword_files == 1 else "files"
    parts = [fault, f"{status.keyword_files:,} {files} searchable by keyword", _meaning(status)]
    parts.append("" if fault else _phase2(status))
    return " · ".join(p for p in parts if p)


@dataclass
class RateSmoother:
    """Phase 2's speed as the status bar shows it: steady, and only once it means something.

    The raw figure is measured over the last few batches (or is the store's figure from an
    earlier run), so it swings with batch size and file length: a user saw the ETA go
    3 → 18 → 1 → 4 → 2 min and a first rate of "33,009 tokens/s". Here nothing is shown
    until ``warmup`` files have been embedded since the window started (the raw figure is
    this run's by then), and from there each finished file moves the shown rate a fraction
    ``alpha`` of the way to the raw one (an exponential moving average over files).
    """

    alpha: float = 0.25
    warmup: int = 3
    _start: int | None = None  # files embedded when first seen (earlier runs' work)
    _seen: int = 0
    _rate: float = 0.0

    def update(self, meaning_files: int, raw_rate: float, running: bool = True) -> float:
        """The rate to show after a report of ``meaning_files`` at ``raw_rate`` (0: none).

        Counting starts at the first report of embedding ``running``: files embedded
        before it (earlier runs, the empty report at start) are no measure of this run.
        """
        if not running:
            return self._rate
        if self._start is None or meaning_files < self._seen:  # first report, or a rebuild
            self._start, self._seen, self._rate = meaning_files, meaning_files, 0.0
        finished = meaning_files - self._seen
        self._seen = meaning_files
        if meaning_files - self._start < self.warmup:
            return 0.0
        if raw_rate <= 0:
            return self._rate
        if not self._rate:
            self._rate = raw_rate
        elif finished:
            weight = 1 - (1 - self.alpha) ** finished
            self._rate += weight * (raw_rate - self._rate)
        return self._rate
