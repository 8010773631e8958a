"""The indexing status line: files/chunks, progress, tokens/s and ETA, pause and problems."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget

from app.ui.backend import Progress


def format_eta(seconds: float | None) -> str:
    """Short durations ("45 s", "2 min", "1 h 5 min"); empty when unknown."""
    if seconds is None or seconds < 0:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    return f"{s // 3600} h {(s % 3600) // 60} min"


def describe(progress: Progress) -> str:
    """One line a person can read at a glance."""
    if progress.phase in ("indexing", "rebuilding", "scanning", "paused"):
        verb = {
            "indexing": "Indexing",
            "rebuilding": "Rebuilding index",
            "scanning": "Scanning",
            "paused": "Paused",
        }[progress.phase]
        parts = [f"{verb} {progress.files_done}/{progress.files_total} files"]
        parts.append(f"{progress.chunks} chunks")
        if progress.tokens_per_s > 0:
            parts.append(f"{progress.tokens_per_s:,.0f} tokens/s")
        eta = format_eta(progress.eta_s)
        if eta and progress.phase != "paused":
            parts.append(f"ETA {eta}")
        return " · ".join(parts)
    return f"{progress.indexed_files} files · {progress.indexed_chunks} chunks indexed"


class IndexStatusBar(QStatusBar):
    """Shows indexing progress; the buttons are requests the controller acts on."""

    pause_toggled = Signal()
    problems_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel()
        self.rerank_indicator = QLabel("reranking…")
        self.rerank_indicator.setVisible(False)
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setFlat(True)
        self.problems_button = QPushButton()
        self.problems_button.setFlat(True)
        self.pause_button.clicked.connect(self.pause_toggled)
        self.problems_button.clicked.connect(self.problems_requested)
        self.addWidget(self.summary, 1)
        self.addPermanentWidget(self.rerank_indicator)
        self.addPermanentWidget(self.bar)
        self.addPermanentWidget(self.pause_button)
        self.addPermanentWidget(self.problems_button)
        self.show_progress(Progress())
        self.set_problem_count(0)

    def show_progress(self, progress: Progress) -> None:
        """Update from a progress snapshot (called via a queued signal)."""
        busy = progress.phase in ("indexing", "rebuilding", "scanning", "paused")
        self.summary.setText(describe(progress))
        self.bar.setVisible(busy)
        self.pause_button.setVisible(busy)
        if progress.files_total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(progress.fraction * 1000))
        else:
            self.bar.setRange(0, 0)  # busy indicator while the total is unknown

    def set_paused(self, paused: bool) -> None:
        """Flip the button label; the next progress report updates the text."""
        self.pause_button.setText("Resume" if paused else "Pause")

    def set_reranking(self, active: bool) -> None:
        """The small "reranking…" indicator next to the progress."""
        self.rerank_indicator.setVisible(active)

    def set_problem_count(self, count: int) -> None:
        """Show "N problem files" only when there are some."""
        self.problems_button.setText(f"{count} problem file{'s' if count != 1 else ''}")
        self.problems_button.setVisible(count > 0)
