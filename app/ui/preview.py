"""The preview pane: the document around the passage, every match, next/previous, pages.

The text is the document as ``app.preview`` joins it (no repeated overlap, "── Page 3 ──"
marks), in a fixed-width font for code and plain text. Every match of the query is tinted,
the current one more strongly; Previous/Next (F3 / Shift+F3 in the window) step through
them and the location line says which page the current one is on. The passage itself is
tinted lightly and scrolled into view. For a big file only the text around the passage is
loaded; "Show earlier text" / "Show later text" ask for more (``more_requested``).
Labels elide long names and heading paths with "…" instead of widening the pane, so the
splitter never moves when a result is selected.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QPainter,
    QPaintEvent,
    QPalette,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.ui.elide import elide_location
from app.ui.highlight import blend, merge_spans
from app.ui.protocols import Preview, ResultRow, Span


class ElidedLabel(QLabel):
    """One line of text, elided with "…" to fit; it never asks for more width."""

    def __init__(
        self,
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle,
        elide: Callable[[str, QFontMetrics, int], str] | None = None,
    ) -> None:
        super().__init__()
        self._full = ""
        self._mode = mode
        self._elide = elide  # a custom elider (heading paths), else Qt's in ``mode``
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:  # type: ignore[override]
        self._full = text
        self.setToolTip(text)
        super().setText(text)

    def full_text(self) -> str:
        """The whole text, before eliding."""
        return self._full

    def shown_text(self) -> str:
        """The text as it fits the current width."""
        metrics, width = QFontMetrics(self.font()), max(0, self.width())
        if self._elide is not None:
            return self._elide(self._full, metrics, width)
        return metrics.elidedText(self._full, self._mode, width)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        return QSize(0, super().sizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.rect(), int(self.alignment()), self.shown_text())


class PreviewPane(QWidget):
    """Shows one hit's document; its buttons are requests the window turns into calls."""

    open_requested = Signal(str)
    reveal_requested = Signal(str)
    similar_requested = Signal()
    more_requested = Signal(int)  # -1: text before the loaded part, +1: after it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._path = ""
        self._preview: Preview | None = None
        self._matches: list[Span] = []
        self._current = -1
        self._build()
        self.show_hit(None)

    def _build(self) -> None:
        self.title = ElidedLabel()
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        self.folder = ElidedLabel(Qt.TextElideMode.ElideLeft)
        self.location = ElidedLabel(elide=elide_location)
        self.location.setObjectName("previewLocation")
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.previous_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.match_label = QLabel()
        self.earlier_button = QPushButton("Show earlier text")
        self.later_button = QPushButton("Show later text")
        self.open_button = QPushButton("Open")
        self.reveal_button = QPushButton("Reveal in folder")
        self.similar_button = QPushButton("More like this")
        self.previous_button.clicked.connect(self.previous_match)
        self.next_button.clicked.connect(self.next_match)
        self.earlier_button.clicked.connect(lambda: self.more_requested.emit(-1))
        self.later_button.clicked.connect(lambda: self.more_requested.emit(1))
        self.open_button.clicked.connect(lambda: self.open_requested.emit(self._path))
        self.reveal_button.clicked.connect(lambda: self.reveal_requested.emit(self._path))
        self.similar_button.clicked.connect(self.similar_requested)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.title, self.folder, self.location):
            layout.addWidget(widget)
        layout.addLayout(
            self._row(
                self.previous_button,
                self.next_button,
                self.match_label,
                None,
                self.earlier_button,
                self.later_button,
            )
        )
        layout.addWidget(self.text, 1)
        layout.addLayout(self._row(self.open_button, self.reveal_button, self.similar_button, None))

    @staticmethod
    def _row(*widgets: QWidget | None) -> QHBoxLayout:
        row = QHBoxLayout()
        for widget in widgets:
            if widget is None:
                row.addStretch(1)
            else:
                row.addWidget(widget)
        return row

    @property
    def path(self) -> str:
        """The file currently previewed ("" when none)."""
        return self._path

    @property
    def preview(self) -> Preview | None:
        """The document shown, once loaded."""
        return self._preview

    def show_hit(self, hit: ResultRow | None) -> None:
        """Show a hit's header and snippet at once; the document follows (``show_preview``)."""
        self._path = hit.path if hit else ""
        self._preview = None
        for button in (self.open_button, self.reveal_button, self.similar_button):
            button.setEnabled(hit is not None)
        self.title.setText(hit.name if hit else "")
        self.folder.setText(hit.folder if hit else "")
        self.location.setText(hit.location if hit else "")
        self.text.setPlainText(hit.snippet if hit else "")
        self._show_matches(list(hit.spans) if hit else [], None)
        self.earlier_button.setVisible(False)
        self.later_button.setVisible(False)

    def show_preview(self, preview: Preview) -> None:
        """Show the document, tint every match and the passage, scroll the passage in."""
        self._preview = preview
        self.text.setFont(_fixed_font() if preview.monospace else self.font())
        self.text.setPlainText(preview.text)
        self.earlier_button.setVisible(preview.more_before)
        self.later_button.setVisible(preview.more_after)
        self._show_matches(list(preview.spans), preview.passage)

    # -- matches ------------------------------------------------------------------------
    def highlighted_text(self) -> list[str]:
        """Every highlighted match (what a test or a screen reader checks)."""
        return [self.text.toPlainText()[s:e] for s, e in self._matches]

    def current_match(self) -> str:
        """The text of the current match ("" when none)."""
        if not 0 <= self._current < len(self._matches):
            return ""
        start, end = self._matches[self._current]
        return self.text.toPlainText()[start:end]

    def next_match(self) -> None:
        """Move to the next match (wrapping around)."""
        self._go(self._current + 1)

    def previous_match(self) -> None:
        """Move to the previous match (wrapping around)."""
        self._go(self._current - 1)

    def page_at(self, position: int) -> int | None:
        """The page a position of the shown text is on (None without pages)."""
        pages = self._preview.pages if self._preview else ()
        i = bisect_right([p for p, _ in pages], position) - 1
        return pages[i][1] if i >= 0 else None

    def _show_matches(self, spans: list[Span], passage: Span | None) -> None:
        length = self.text.document().characterCount() - 1
        self._matches = merge_spans(spans, length)
        self._passage = passage
        start = passage[0] if passage else 0
        later = [i for i, (s, _) in enumerate(self._matches) if s >= start]
        first = later[0] if later else 0
        self.previous_button.setEnabled(len(self._matches) > 1)
        self.next_button.setEnabled(len(self._matches) > 1)
        if self._matches:
            self._go(first)
        else:
            self._current = -1
            self._paint()
            self._scroll_to(start)
            self.match_label.setText("no matches" if self._preview else "")

    def _go(self, index: int) -> None:
        if not self._matches:
            return
        self._current = index % len(self._matches)
        self._paint()
        self._scroll_to(self._matches[self._current][0])
        self.match_label.setText(f"{self._current + 1} of {len(self._matches)}")
        page = self.page_at(self._matches[self._current][0])
        hit_place = self.location.full_text().split(" · ", 1)
        if page is not None:
            rest = [p for p in hit_place if p and not p.startswith(("p. ", "Page"))]
            self.location.setText(" · ".join([f"p. {page}", *rest]))

    def _scroll_to(self, position: int) -> None:
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(min(position, self.text.document().characterCount() - 1))
        self.text.setTextCursor(cursor)
        self.text.centerCursor()

    def _paint(self) -> None:
        base = self.palette().color(QPalette.ColorRole.Base)
        mark = self.palette().color(QPalette.ColorRole.Highlight)
        selections = []
        if self._passage and self._passage[1] > self._passage[0]:
            selections.append(self._selection(self._passage, blend(mark, base, 0.12)))
        for i, span in enumerate(self._matches):
            share = 0.75 if i == self._current else 0.35
            selections.append(self._selection(span, blend(mark, base, share)))
        self.text.setExtraSelections(selections)

    def _selection(self, span: Span, color: QColor) -> QTextEdit.ExtraSelection:
        fmt = QTextCharFormat()
        fmt.setBackground(color)
        cursor = QTextCursor(self.text.document())
        end = min(span[1], self.text.document().characterCount() - 1)
        cursor.setPosition(min(span[0], end))
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        selection = QTextEdit.ExtraSelection()
        selection.cursor = cursor  # type: ignore[misc]
        selection.format = fmt  # type: ignore[misc]
        return selection


def _fixed_font() -> QFont:
    """The system's fixed-width font, asked for as fixed pitch too: where the platform
    names no monospace family (a bare X server, offscreen), the style hint still makes Qt
    pick one instead of falling back to the proportional default."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setFixedPitch(True)
    return font
