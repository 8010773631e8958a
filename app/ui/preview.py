"""The preview pane: the matched chunk in context, its span highlighted and scrolled to."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.ui.backend import Hit, Preview
from app.ui.highlight import merge_spans


class PreviewPane(QWidget):
    """Shows one hit; Open and Reveal are requests the window turns into opener calls."""

    open_requested = Signal(str)
    reveal_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._path = ""
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.location = QLabel()
        self.location.setObjectName("previewLocation")
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.open_button = QPushButton("Open")
        self.reveal_button = QPushButton("Reveal in folder")
        self.open_button.clicked.connect(lambda: self.open_requested.emit(self._path))
        self.reveal_button.clicked.connect(lambda: self.reveal_requested.emit(self._path))
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.reveal_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.location)
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)
        self.show_hit(None)

    @property
    def path(self) -> str:
        """The file currently previewed ("" when none)."""
        return self._path

    def show_hit(self, hit: Hit | None) -> None:
        """Show a hit's header at once; the context text follows via ``show_preview``."""
        self._path = hit.path if hit else ""
        self.open_button.setEnabled(hit is not None)
        self.reveal_button.setEnabled(hit is not None)
        self.title.setText(f"<b>{hit.name}</b><br><small>{hit.folder}</small>" if hit else "")
        self.location.setText(hit.location if hit else "")
        self.text.setPlainText(hit.snippet if hit else "")
        if hit:
            self._highlight(hit.spans)

    def show_preview(self, preview: Preview) -> None:
        """Show the chunk in context and scroll to the first highlighted span."""
        parts = []
        if preview.page is not None:
            parts.append(f"Page {preview.page}")
        if preview.heading:
            parts.append(preview.heading)
        if parts:
            self.location.setText(" · ".join(parts))
        self.text.setPlainText(preview.text)
        self._highlight(preview.spans)

    def highlighted_text(self) -> list[str]:
        """The highlighted fragments (what a test or a screen reader checks)."""
        return [sel.cursor.selectedText() for sel in self.text.extraSelections()]

    def _highlight(self, spans: tuple[tuple[int, int], ...]) -> None:
        fmt = QTextCharFormat()
        color = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        color.setAlpha(110)
        fmt.setBackground(color)
        selections = []
        doc = self.text.document()
        for start, end in merge_spans(spans, doc.characterCount() - 1):
            cursor = QTextCursor(doc)
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            selection = QTextEdit.ExtraSelection()
            selection.cursor = cursor  # type: ignore[misc]
            selection.format = fmt  # type: ignore[misc]
            selections.append(selection)
        self.text.setExtraSelections(selections)
        if selections:
            first = QTextCursor(doc)
            first.setPosition(selections[0].cursor.selectionStart())
            self.text.setTextCursor(first)
            self.text.centerCursor()
