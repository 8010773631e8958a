"""The words for both indexing phases, shared by the status bar and ``quarry status``.

One line a person can read at a glance, saying what search can reach right now:

    48,210 files searchable by keyword · 9,400 by meaning · about 3 h left at 1,900 tokens/s

Qt-free and I/O-free: callers pass the counts they already have.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    embedding: str = "idle"  # running | paused | battery | waiting | backoff | idle
    error: str = ""  # phase 2's last model error

    @property
    def eta_s(self) -> float | None:
        """Seconds until phase 2 is done at the measured speed; None when unknown."""
        if self.tokens_per_s <= 0 or not self.backlog_tokens:
            return None
        return self.backlog_tokens / self.tokens_per_s


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
    """The one-line summary of both phases."""
    if not status.keyword_files:
        return "Nothing searchable yet"
    files = "file" if status.keyword_files == 1 else "files"
    parts = [f"{status.keyword_files:,} {files} searchable by keyword", _meaning(status)]
    parts.append(_phase2(status))
    return " · ".join(p for p in parts if p)
