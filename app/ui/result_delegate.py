"""Paints the result rows: files, their further passages, and "Show N weaker matches".

A file row: name, relevance (a three-step bar and High/Medium/Low, from calibrated values
or the reranker's P(yes); never a raw fusion number), the day it changed; the folder and
the passage's page/heading, elided with "…" so a long heading path never widens anything;
the highlighted snippet; "▸ N more matches in this file". A passage row: its location
and snippet. Colours come from the palette so rows follow the light/dark theme.

Snippet height is measured with the text's own fonts: Chinese and Japanese come from a
fallback font whose lines are taller than the UI font's, and a row sized by the UI font
alone cut their second line in half. Highlights are opaque blends of the palette's
highlight and base colours: Qt's rich text reads ``rgba()`` alpha as 0-255, so a
fractional alpha was fully transparent and only bold marked a match, which CJK fallback
fonts often lack.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPalette,
    QTextDocument,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.ui.elide import elide_location
from app.ui.highlight import blend, collapse_spaces, highlight_html
from app.ui.protocols import ResultRow, Span
from app.ui.results_model import KindRole, ModifiedRole, RowRole

AnyIndex = QModelIndex | QPersistentModelIndex
PADDING = 8
SNIPPET_LINES = 2
LEVELS = {"high": 3, "medium": 2, "low": 1}
BAR_W = 30


def match_style(palette: QPalette) -> str:
    """CSS for matched words: an opaque tint of the highlight colour, readable in any theme."""
    tint = blend(
        palette.color(QPalette.ColorRole.Highlight), palette.color(QPalette.ColorRole.Base), 0.35
    )
    return f"background-color:{tint.name()}; font-weight:600;"


@functools.lru_cache(maxsize=16)
def text_line_height(family: str, size: float) -> int:
    """Height of one snippet line in ``family``, Latin and CJK fallback fonts included."""
    font = QFont(family)
    if size > 0:
        font.setPointSizeF(size)
    doc = QTextDocument()
    doc.setDefaultFont(font)
    doc.setDocumentMargin(0)
    doc.setPlainText("Ag 漢字かな한글")
    return max(int(doc.size().height() + 0.999), QFontMetrics(font).lineSpacing())


def line_height(font: QFont) -> int:
    """``text_line_height`` for a QFont."""
    return text_line_height(font.family(), font.pointSizeF())


class ResultDelegate(QStyledItemDelegate):
    """Rows of three kinds; the snippet is rich text so match spans can be highlighted."""

    more_clicked = Signal(int)  # the "N more matches" line of the file row at this row

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        font: QFont = option.font  # type: ignore[attr-defined]
        ui = QFontMetrics(font).lineSpacing()
        snippet = line_height(font) * SNIPPET_LINES
        kind = index.data(KindRole)
        if kind == "weaker":
            return QSize(400, ui + 2 * PADDING)
        if kind == "passage":
            return QSize(400, ui + snippet + 2 * PADDING)
        hit = index.data(RowRole)
        more = ui if isinstance(hit, ResultRow) and hit.more else 0
        return QSize(400, 2 * ui + snippet + more + 2 * PADDING + 4)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        painter.save()
        style = option.widget.style() if option.widget else None  # type: ignore[attr-defined]
        if style is not None:
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter)
        rect: QRect = option.rect.adjusted(PADDING, PADDING, -PADDING, -PADDING)  # type: ignore[attr-defined]
        kind = index.data(KindRole)
        hit = index.data(RowRole)
        if kind == "weaker":
            self._paint_weaker(painter, option, rect, str(index.data()))
        elif isinstance(hit, ResultRow) and kind == "passage":
            self._paint_passage(painter, option, rect, hit)
        elif isinstance(hit, ResultRow):
            self._paint_file(painter, option, rect, hit, str(index.data(ModifiedRole) or ""))
        painter.restore()

    # -- the three kinds ----------------------------------------------------------------
    def _paint_weaker(
        self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect, text: str
    ) -> None:
        palette: QPalette = option.palette  # type: ignore[attr-defined]
        painter.setPen(palette.color(QPalette.ColorRole.Link))
        painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter, f"▾ {text}")

    def _paint_passage(
        self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect, hit: ResultRow
    ) -> None:
        font: QFont = option.font  # type: ignore[attr-defined]
        metrics = QFontMetrics(font)
        line = metrics.lineSpacing()
        painter.setFont(font)
        painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))  # type: ignore[attr-defined]
        where = elide_location(hit.location or "passage", metrics, rect.width())
        painter.drawText(QRect(rect.left(), rect.top(), rect.width(), line), 0, where)
        self._paint_snippet(painter, option, rect, hit, rect.top() + line)

    def _paint_file(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        rect: QRect,
        hit: ResultRow,
        date: str,
    ) -> None:
        font: QFont = QFont(option.font)  # type: ignore[attr-defined]
        metrics = QFontMetrics(font)
        line = metrics.lineSpacing()
        palette: QPalette = option.palette  # type: ignore[attr-defined]
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        right_w = metrics.horizontalAdvance(date) + BAR_W + 2 * PADDING
        bold = QFont(font)
        bold.setBold(True)
        painter.setFont(bold)
        name = QFontMetrics(bold).elidedText(
            hit.name, Qt.TextElideMode.ElideMiddle, rect.width() - right_w
        )
        painter.setPen(palette.color(QPalette.ColorRole.WindowText))
        painter.drawText(QRect(rect.left(), rect.top(), rect.width() - right_w, line), 0, name)
        painter.setFont(font)
        painter.setPen(muted)
        painter.drawText(
            QRect(rect.left(), rect.top(), rect.width(), line), Qt.AlignmentFlag.AlignRight, date
        )
        self._paint_level(painter, palette, rect.right() - right_w + PADDING, rect.top(), line, hit)
        second = QRect(rect.left(), rect.top() + line, rect.width(), line)
        self._paint_place(painter, metrics, second, hit)
        self._paint_snippet(painter, option, rect, hit, rect.top() + 2 * line + 4)
        if hit.more:
            count = len(hit.more)
            text = f"▸ {count} more match{'es' if count > 1 else ''} in this file"
            painter.setPen(palette.color(QPalette.ColorRole.Link))
            top = rect.top() + 2 * line + 4 + line_height(font) * SNIPPET_LINES
            painter.drawText(QRect(rect.left(), top, rect.width(), line), 0, text)

    @staticmethod
    def _paint_place(painter: QPainter, metrics: QFontMetrics, box: QRect, hit: ResultRow) -> None:
        """Folder on the left, page/heading on the right, as ``place_texts`` fits them."""
        folder, folder_w, loc = place_texts(metrics, box.width(), hit)
        painter.drawText(QRect(box.left(), box.top(), folder_w, box.height()), 0, folder)
        if loc:
            painter.drawText(box, Qt.AlignmentFlag.AlignRight, loc)

    @staticmethod
    def _paint_level(
        painter: QPainter, palette: QPalette, left: int, top: int, height: int, hit: ResultRow
    ) -> None:
        """Three small steps, as many filled as the level (none for an uncalibrated model)."""
        filled = LEVELS.get(hit.level or "", 0)
        if not filled:
            return
        on = palette.color(QPalette.ColorRole.Highlight)
        off = blend(
            palette.color(QPalette.ColorRole.PlaceholderText),
            palette.color(QPalette.ColorRole.Base),
            0.35,
        )
        step = (BAR_W - 4) // 3
        for i in range(3):
            bar_h = height * (i + 2) // 5
            box = QRect(left + i * (step + 2), top + height - bar_h - 2, step, bar_h)
            painter.fillRect(box, on if i < filled else off)

    def _paint_snippet(
        self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect, hit: ResultRow, top: int
    ) -> None:
        font: QFont = option.font  # type: ignore[attr-defined]
        palette: QPalette = option.palette  # type: ignore[attr-defined]
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.WindowText
        doc = snippet_document(hit, font, rect.width(), palette, palette.color(role))
        painter.save()
        painter.translate(rect.left(), top)
        painter.setClipRect(QRect(0, 0, rect.width(), line_height(font) * SNIPPET_LINES))
        doc.drawContents(painter)
        painter.restore()

    # -- clicks -------------------------------------------------------------------------
    def editorEvent(
        self, event: QEvent, model: object, option: QStyleOptionViewItem, index: AnyIndex
    ) -> bool:  # type: ignore[override]
        """A click on the "N more matches" line opens or closes the file's passages."""
        if (
            event.type() == QEvent.Type.MouseButtonRelease
            and isinstance(event, QMouseEvent)
            and index.data(KindRole) == "file"
        ):
            hit = index.data(RowRole)
            rect: QRect = option.rect  # type: ignore[attr-defined]
            line = QFontMetrics(option.font).lineSpacing()  # type: ignore[attr-defined]
            if (
                isinstance(hit, ResultRow)
                and hit.more
                and event.position().y() > rect.bottom() - line - PADDING
            ):
                self.more_clicked.emit(index.row())
                return True
        return super().editorEvent(event, model, option, index)  # type: ignore[arg-type]


def place_texts(metrics: QFontMetrics, width: int, hit: ResultRow) -> tuple[str, int, str]:
    """A file row's second line: the folder (elided at its start) in its width, and the
    page/heading (whole headings dropped from the middle, the last one kept), each given at
    most its share so neither covers the other."""
    loc = hit.location
    loc_w = min(metrics.horizontalAdvance(loc), width // 2) if loc else 0
    folder_w = width - loc_w - (PADDING if loc else 0)
    folder = metrics.elidedText(hit.folder, Qt.TextElideMode.ElideLeft, folder_w)
    return folder, folder_w, elide_location(loc, metrics, loc_w) if loc else ""


def snippet_document(
    hit: ResultRow, font: QFont, width: int, palette: QPalette, color: QColor
) -> QTextDocument:
    """The snippet as laid-out rich text in at most ``SNIPPET_LINES`` lines, matches
    highlighted, the last line ending in "…" when the text goes on (what a row paints).

    Chinese and Japanese have no spaces, so the text is cut where the layout put the end
    of the last line, not at a word: a clip rectangle instead cut a line of CJK in half.
    """
    style = match_style(palette)
    snippet, spans = collapse_spaces(hit.snippet, hit.spans)
    text = fitted_text(snippet, spans, font.toString(), width, style)
    if text != snippet:  # the "…" is no match
        spans = tuple((s, min(e, len(text) - 1)) for s, e in spans)
    return _rich_text(text, spans, font, width, style, color)


@functools.lru_cache(maxsize=512)
def fitted_text(
    snippet: str, spans: tuple[Span, ...], font_key: str, width: int, style: str
) -> str:
    """``snippet`` cut so it lays out in ``SNIPPET_LINES`` lines with "…" at the end;
    cached because each cut is several layouts and rows repaint on every scroll step."""
    font = QFont()
    font.fromString(font_key)
    color = QColor("black")  # colour never changes the layout
    doc = _rich_text(snippet, spans, font, width, style, color)
    end = line_end(doc, SNIPPET_LINES)
    cut = end or 0
    while end is not None and cut > 0:
        text = snippet[:cut].rstrip() + "…"
        end = line_end(_rich_text(text, spans, font, width, style, color), SNIPPET_LINES)
        if end is None:
            return text
        cut -= 1
    return snippet if end is None else "…"


def _rich_text(
    text: str, spans: Sequence[Span], font: QFont, width: int, style: str, color: QColor
) -> QTextDocument:
    """``text`` laid out at ``width``; pre-wrap keeps one document position per character,
    so a position the layout reports is an index into ``text``."""
    doc = QTextDocument()
    doc.setDefaultFont(font)
    doc.setDocumentMargin(0)
    doc.setTextWidth(width)
    body = highlight_html(text, spans, style)
    doc.setHtml(f'<div style="white-space:pre-wrap; color:{color.name()}">{body}</div>')
    return doc


def line_end(doc: QTextDocument, lines: int) -> int | None:
    """Where line ``lines`` of ``doc`` ends, or None when ``doc`` has no more lines than that."""
    doc.documentLayout().documentSize()  # lays the document out
    seen = 0
    block = doc.begin()
    while block.isValid():
        layout = block.layout()
        for i in range(layout.lineCount()):
            seen += 1
            if seen == lines + 1:
                return block.position() + layout.lineAt(i).textStart()
        block = block.next()
    return None


def line_count(doc: QTextDocument) -> int:
    """How many lines ``doc`` is laid out in."""
    doc.documentLayout().documentSize()
    count, block = 0, doc.begin()
    while block.isValid():
        count += block.layout().lineCount()
        block = block.next()
    return count
