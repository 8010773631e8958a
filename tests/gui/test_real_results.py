"""The window over real documents, the real index and the real starter model (no fakes):
one row per file, the cut-off, the preview's text, CJK highlights, more like this."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QInputMethodEvent, QPainter
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from app.ui.protocols import ResultRow
from app.ui.result_delegate import SNIPPET_LINES, line_height
from tests.fixtures.window import starter_window


@pytest.fixture
def window(qtbot: QtBot, document_index: Path, starter_model_dir: Path) -> Iterator[MainWindow]:
    docs = document_index.parent / "docs"
    yield from starter_window(qtbot, docs, document_index, starter_model_dir)


def search(qtbot: QtBot, window: MainWindow, text: str) -> list[ResultRow]:
    with qtbot.waitSignal(window.worker.results_ready, timeout=60000) as got:
        if text.isascii():
            qtbot.keyClicks(window.search_field, text)
        else:  # CJK arrives from an input method as committed text, not as key presses
            event = QInputMethodEvent()
            event.setCommitString(text)
            QApplication.sendEvent(window.search_field, event)
    return list(got.args[1])


def test_one_row_per_file_and_the_other_passages_inside_it(
    qtbot: QtBot, window: MainWindow
) -> None:
    search(qtbot, window, "special method names called by operators")
    paths = [h.path for h in window.model.hits()]
    assert paths and len(paths) == len(set(paths))
    row = next(i for i, h in enumerate(window.model.hits()) if h.name == "specialnames.txt")
    index = window.model.index(row)
    more = window.model.rowCount(index)
    assert more >= 1
    window.toggle_more(index)
    assert window.results.isExpanded(index)
    child = window.model.hit_at(window.model.index(0, 0, index))
    assert child is not None and child.path.endswith("specialnames.txt")
    assert child.start != window.model.hits()[row].start  # another passage, not a repeat


def test_cutoff_hides_the_unrelated_files_until_asked(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "glacier ice melting")
    shown = [h.name for h in window.model.hits()]
    assert "packing-list.md" not in shown and "tax-notes.txt" not in shown
    assert window.model.weak_count > 0
    window.show_weaker()
    assert "packing-list.md" in [h.name for h in window.model.hits()]


def test_preview_shows_the_document_without_repeated_text(
    qtbot: QtBot, window: MainWindow, document_index: Path
) -> None:
    search(qtbot, window, "exception handler clauses")
    row = next(i for i, h in enumerate(window.model.hits()) if h.name == "try.txt")
    window.results.setCurrentIndex(window.model.index(row))
    text = (document_index.parent / "docs" / "try.txt").read_text(encoding="utf-8")
    pane = window.preview
    qtbot.waitUntil(
        lambda: pane.preview is not None and pane.path.endswith("try.txt"), timeout=10000
    )
    assert pane.text.toPlainText().strip() == text.strip()  # every chunk, overlaps once
    assert len(pane.highlighted_text()) > 3 and pane.text.font().fixedPitch()
    assert "exception" in pane.current_match().lower()


def test_pdf_preview_marks_pages(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "lighthouse storm lantern")
    row = next(i for i, h in enumerate(window.model.hits()) if h.name == "lighthouse-log.pdf")
    window.results.setCurrentIndex(window.model.index(row))
    pane = window.preview
    qtbot.waitUntil(lambda: pane.preview is not None and pane.path.endswith(".pdf"), timeout=10000)
    shown = pane.text.toPlainText()
    assert "── Page 1 ──" in shown and "── Page 2 ──" in shown
    assert not pane.text.font().fixedPitch()
    storm = shown.index("storm")
    assert pane.page_at(storm) == 2


def _render(window: MainWindow, hit: ResultRow) -> QImage:
    """One row of the list as the delegate paints it."""
    index = window.model.index(0)
    option = QStyleOptionViewItem()
    window.delegate.initStyleOption(option, index)
    option.rect = QRect(0, 0, 600, window.delegate.sizeHint(option, index).height())  # type: ignore[attr-defined]
    image = QImage(option.rect.size(), QImage.Format.Format_RGB32)  # type: ignore[attr-defined]
    image.fill(QColor("white"))
    painter = QPainter(image)
    window.delegate._paint_snippet(painter, option, QRect(0, 0, 600, 100), hit, 0)
    painter.end()
    return image


def test_cjk_snippet_is_highlighted_and_not_clipped(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "富士山")
    top = window.model.hits()[0]
    assert top.name == "富士山.md"
    assert any("富士山" in top.snippet[s:e] for s, e in top.spans)
    marked = _render(window, top)
    from dataclasses import replace

    plain = _render(window, replace(top, spans=()))
    tint = window.palette().color(window.palette().ColorRole.Highlight)
    differs = [
        (x, y)
        for y in range(0, marked.height(), 2)
        for x in range(0, 600, 2)
        if marked.pixel(x, y) != plain.pixel(x, y)
    ]
    assert differs, "the CJK match is not visibly highlighted"
    x, y = differs[0]
    assert QColor(marked.pixel(x, y)) != QColor("white") and tint.isValid()
    option = QStyleOptionViewItem()
    window.delegate.initStyleOption(option, window.model.index(0))
    font = option.font  # type: ignore[attr-defined]
    assert (
        line_height(font) * SNIPPET_LINES
        <= window.delegate.sizeHint(option, window.model.index(0)).height()
    )


def test_more_like_this_from_the_row_menu(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "try except finally")
    row = next(i for i, h in enumerate(window.model.hits()) if h.name == "try.txt")
    window.results.setCurrentIndex(window.model.index(row))
    with qtbot.waitSignal(window.worker.results_ready, timeout=30000):
        window.more_like_this()
    names = [h.name for h in window.model.hits()]
    assert "try.txt" not in names
    assert names[0] in ("exceptions.txt", "raise.txt", "with.txt")
    assert window.similar_banner.isVisible()
    qtbot.keyClick(window.search_field, Qt.Key.Key_Escape)


def test_rows_read_as_levels_not_fusion_scores(qtbot: QtBot, window: MainWindow) -> None:
    hits = search(qtbot, window, "packing list rain jacket")
    top = window.model.index(0)
    assert window.model.hits()[0].name == "packing-list.md"
    tip = str(top.data(Qt.ItemDataRole.ToolTipRole))
    assert tip.splitlines()[-1].startswith(("High relevance (", "Medium relevance ("))
    assert "calibrated" in tip
    fused = f"{hits[0].score:.3f}"  # what the old rows printed
    assert fused not in str(top.data(Qt.ItemDataRole.DisplayRole)) and fused not in tip
