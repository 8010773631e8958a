"""The indexing status line: both phases, progress, pause/resume of embedding, problems.

    Reading 1,200/5,000 files · 48,210 files searchable by keyword · 9,400 by meaning · ...

The wording of the two phases is ``app.phases``'s, the same as ``quarry status``; the
embedding speed and its ETA are smoothed here (``phases.RateSmoother``), since the window
shows a stream of reports where ``quarry status`` shows one.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget

from app import phases
from app.phases import Progress

format_eta = phases.format_duration


def describe(progress: Progress) -> str:
    """One line a person can read at a glance."""
    if progress.state == "rebuilding":
        parts = [f"Rebuilding index {progress.files_done:,}/{progress.files_total:,} chunks"]
        if progress.tokens_per_s > 0:
            parts.append(f"{progress.tokens_per_s:,.0f} chunks/s")
        if eta := format_eta(progress.eta_s):
            parts.append(f"ETA {eta}")
        return " · ".join(parts)
    if progress.state == "locked":  # another process holds the index lock
        who = f" ({progress.current})" if progress.current else ""
        return (
            f"Another Quarry{who} is indexing this index; search works, and indexing here"
            " starts when it finishes"
        )
    line = phases.describe(progress.phases())
    if progress.state == "running":
        ocr = ""
        if progress.ocr_pages:
            ocr = f" · OCR {progress.ocr_pages:,} pages at {progress.ocr_pages_per_s:.2f} pages/s"
        return f"Reading {progress.files_done:,}/{progress.files_total:,} files{ocr} · {line}"
    return line


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
        self.pause_button = QPushButton("Pause embedding")
        self.pause_button.setFlat(True)
        self.problems_button = QPushButton()
        self.problems_button.setFlat(True)
        self.pause_button.clicked.connect(self.pause_toggled)
        self.problems_button.clicked.connect(self.problems_requested)
        self.result_count = QLabel()  # its own place: never takes the indexing line's
        self.result_count.setVisible(False)
        self.model_label = QLabel()  # e.g. "starter model": says it after every start
        self.model_label.setVisible(False)
        self.addWidget(self.summary, 1)
        self.addPermanentWidget(self.result_count)
        self.addPermanentWidget(self.model_label)
        self.addPermanentWidget(self.rerank_indicator)
        self.addPermanentWidget(self.bar)
        self.addPermanentWidget(self.pause_button)
        self.addPermanentWidget(self.problems_button)
        self._rate = phases.RateSmoother()
        self.show_progress(Progress())
        self.set_problem_count(0)

    def show_progress(self, progress: Progress) -> None:
        """Update from a progress snapshot (called via a queued signal)."""
        reading = progress.state in ("running", "rebuilding")
        embedding = progress.embedding == "running" and progress.embedding_left
        if progress.state != "rebuilding":  # a rebuild counts chunks, not files
            running = progress.embedding == "running"
            shown = self._rate.update(progress.meaning_files, progress.tokens_per_s, running)
            progress = replace(progress, tokens_per_s=shown)
        self.summary.setText(describe(progress))
        self.bar.setVisible(reading or embedding)
        self.pause_button.setVisible(
            progress.embedding_left or progress.embedding in ("paused", "battery")
        )
        if progress.files_total or not reading:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(progress.fraction * 1000))
        else:
            self.bar.setRange(0, 0)  # busy indicator while the total is unknown

    def set_model_notice(self, notice: str | None) -> None:
        """A lasting mark of what the model loader said (the starter model is in use)."""
        self.model_label.setVisible(bool(notice))
        text = notice or ""
        if "English starter" in text:
            self.model_label.setText("Starter model (English)")
        elif "starter" in text:
            self.model_label.setText("Starter model")
        else:
            self.model_label.setText("Model notice")
        self.model_label.setToolTip(notice or "")

    def set_result_count(self, files: int | None, weaker_hidden: int = 0) -> None:
        """How many files the current search shows (None: no search, nothing shown).

        A label of its own, not a temporary message: a message hides the indexing line,
        so the two used to take turns in one place.
        """
        self.result_count.setVisible(files is not None)
        extra = f", {weaker_hidden} weaker hidden" if weaker_hidden else ""
        noun = "file" if files == 1 else "files"
        self.result_count.setText(f"{files} {noun}{extra}" if files is not None else "")

    def set_paused(self, paused: bool) -> None:
        """Flip the button label; the next progress report updates the text."""
        self.pause_button.setText("Resume embedding" if paused else "Pause embedding")

    def set_reranking(self, active: bool) -> None:
        """The small "reranking…" indicator next to the progress."""
        self.rerank_indicator.setVisible(active)

    def set_problem_count(self, count: int) -> None:
        """Show "N problem files" only when there are some."""
        self.problems_button.setText(f"{count} problem file{'s' if count != 1 else ''}")
        self.problems_button.setVisible(count > 0)
