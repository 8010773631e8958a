"""Paints one result: name and folder, highlighted snippet, location, date and score.

Colours come from the palette so the rows follow the OS light/dark theme.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.ui.backend import Hit
from app.ui.highlight import highlight_html
from app.ui.results_model import HitRole, ModifiedRole

PADDING = 8
SNIPPET_LINES = 2


def match_style(palette: QPalette) -> str:
    """CSS for matched words: a translucent highlight readable in light and dark themes."""
    color = QColor(palette.color(QPalette.ColorRole.Highlight))
    color.setAlpha(90)
    rgba = f"rgba({color.red()},{color.green()},{color.blue()},{color.alphaF():.2f})"
    return f"background-color:{rgba}; font-weight:600;"


class ResultDelegate(QStyledItemDelegate):
    """Three-line rows; the snippet is rich text so match spans can be highlighted."""

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        line = QFontMetrics(option.font).lineSpacing()  # type: ignore[attr-defined]
        return QSize(400, line * (2 + SNIPPET_LINES) + 2 * PADDING + 4)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        hit = index.data(HitRole)
        if not isinstance(hit, Hit):
            return
        painter.save()
        style = option.widget.style() if option.widget else None  # type: ignore[attr-defined]
        if style is not None:
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter)
        rect: QRect = option.rect.adjusted(PADDING, PADDING, -PADDING, -PADDING)  # type: ignore[attr-defined]
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        palette: QPalette = option.palette  # type: ignore[attr-defined]
        text_role = (
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.WindowText
        )
        self._paint_header(painter, option, rect, hit, str(index.data(ModifiedRole) or ""))
        self._paint_snippet(painter, option, rect, hit, palette.color(text_role))
        painter.restore()

    def _paint_header(
        self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect, hit: Hit, date: str
    ) -> None:
        font: QFont = QFont(option.font)  # type: ignore[attr-defined]
        metrics = QFontMetrics(font)
        line = metrics.lineSpacing()
        palette: QPalette = option.palette  # type: ignore[attr-defined]
        right = f"{date}   {hit.score:.3f}".strip()
        right_w = metrics.horizontalAdvance(right) + PADDING
        bold = QFont(font)
        bold.setBold(True)
        painter.setFont(bold)
        name = QFontMetrics(bold).elidedText(
            hit.name, Qt.TextElideMode.ElideMiddle, rect.width() - right_w
        )
        painter.setPen(palette.color(QPalette.ColorRole.WindowText))
        painter.drawText(QRect(rect.left(), rect.top(), rect.width() - right_w, line), 0, name)
        painter.setFont(font)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(muted)
        painter.drawText(
            QRect(rect.left(), rect.top(), rect.width(), line), Qt.AlignmentFlag.AlignRight, right
        )
        loc = hit.location
        loc_w = metrics.horizontalAdvance(loc) + PADDING if loc else 0
        folder = metrics.elidedText(hit.folder, Qt.TextElideMode.ElideLeft, rect.width() - loc_w)
        second = QRect(rect.left(), rect.top() + line, rect.width(), line)
        painter.drawText(second, 0, folder)
        if loc:
            painter.drawText(second, Qt.AlignmentFlag.AlignRight, loc)

    def _paint_snippet(
        self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect, hit: Hit, color: QColor
    ) -> None:
        font: QFont = option.font  # type: ignore[attr-defined]
        line = QFontMetrics(font).lineSpacing()
        doc = QTextDocument()
        doc.setDefaultFont(font)
        doc.setDocumentMargin(0)
        doc.setTextWidth(rect.width())
        body = highlight_html(hit.snippet, hit.spans, match_style(option.palette))  # type: ignore[attr-defined]
        doc.setHtml(f'<div style="color:{color.name()}">{body}</div>')
        painter.save()
        top = rect.top() + 2 * line + 4
        painter.translate(rect.left(), top)
        painter.setClipRect(QRect(0, 0, rect.width(), line * SNIPPET_LINES))
        doc.drawContents(painter)
        painter.restore()
