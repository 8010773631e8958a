"""The results/preview layout (issue 11 item 5): the splitter stays where the user left it,
heading paths are elided by whole headings keeping the last one, CJK snippets wrap within
the row's lines and end in "…"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics, QInputMethodEvent
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from app.ui.protocols import ResultRow
from app.ui.result_delegate import (
    PADDING,
    SNIPPET_LINES,
    line_count,
    line_height,
    place_texts,
    snippet_document,
)
from tests.gui.fakes import FakeSearch
from tests.gui.test_results_view import open_window, search

HEADINGS = [
    "User Guide",
    "Installation and first steps",
    "Installing on Linux distributions",
    "Debian and Ubuntu packages",
    "Troubleshooting missing libraries",
]
LONG_NAME = "/docs/" + "quarterly_marketing_report_final_revision_" * 4 + "v2.md"
JAPANESE = (
    "富士山は日本で一番高い山です。標高は3776メートルあります。夏の登山シーズンは七月から"
    "九月までです。富士山の五合目までバスで行けます。山頂で日の出を見るために、夜に登り"
    "始める人が多いです。山小屋は予約が必要で、週末はすぐに満員になります。"
)
CHINESE = (
    "长城是中国古代的军事防御工程，东起山海关，西至嘉峪关，全长两万多公里。长城的修建"
    "持续了两千多年，其中明长城保存得最完整。每年都有大量游客来到八达岭参观长城，"
    "尤其是在秋天，山上的红叶和古老的城墙构成了美丽的风景。"
)
CORPUS = {
    "/docs/guide.md": "cats and the guide to installing everything on every system",
    LONG_NAME: "cats featured in the marketing plan",
    "/docs/富士山.md": "cats " + JAPANESE,
    "/docs/长城.md": "cats " + CHINESE,
}


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    backend = FakeSearch(CORPUS, headings={"/docs/guide.md": " > ".join(HEADINGS)})
    shown = open_window(qtbot, backend)
    shown.resize(1000, 700)
    qtbot.wait(50)
    yield shown
    shown.worker.shutdown()


def click_row(qtbot: QtBot, window: MainWindow, row: int) -> None:
    rect = window.results.visualRect(window.model.index(row))
    qtbot.mouseClick(window.results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.wait(100)


def test_the_splitter_stays_where_the_user_left_it(qtbot: QtBot, window: MainWindow) -> None:
    search(qtbot, window, "cats")
    window.splitter.moveSplitter(300, 1)
    qtbot.wait(50)
    left = window.splitter.sizes()
    for row in range(window.model.rowCount()):
        click_row(qtbot, window, row)
        assert window.splitter.sizes() == left, window.model.hits()[row].name
    long_row = [h.path for h in window.model.hits()].index(LONG_NAME)
    click_row(qtbot, window, long_row)
    with qtbot.waitSignal(window.worker.results_ready, timeout=5000):
        qtbot.mouseClick(window.preview.similar_button, Qt.MouseButton.LeftButton)
    qtbot.wait(100)
    assert window.similar_banner.isVisible()
    assert window.splitter.sizes() == left
    assert window.width() == 1000
    assert not window.results.horizontalScrollBar().isVisible()


def row_option(window: MainWindow, row: int) -> QStyleOptionViewItem:
    """The style option the view paints ``row`` with (its font, palette and rectangle)."""
    index = window.model.index(row)
    option = QStyleOptionViewItem()
    window.delegate.initStyleOption(option, index)
    option.rect = window.results.visualRect(index)  # type: ignore[attr-defined]
    option.widget = window.results  # type: ignore[attr-defined]
    return option


def test_a_long_heading_path_keeps_its_last_heading_and_whole_words(
    qtbot: QtBot, window: MainWindow
) -> None:
    search(qtbot, window, "guide")
    hit = window.model.hits()[0]
    assert hit.heading == " > ".join(HEADINGS)
    option = row_option(window, 0)
    metrics = QFontMetrics(option.font)  # type: ignore[attr-defined]
    width = option.rect.width() - 2 * PADDING  # type: ignore[attr-defined]
    folder, folder_w, shown = place_texts(metrics, width, hit)
    assert "…" in shown and shown.endswith(HEADINGS[-1])
    assert all(part in [*HEADINGS, "…"] for part in shown.split(" > "))
    assert metrics.horizontalAdvance(shown) + folder_w + PADDING <= width
    assert folder == "/docs"
    tip = str(window.model.index(0).data(Qt.ItemDataRole.ToolTipRole))
    assert hit.path in tip and " > ".join(HEADINGS) in tip
    click_row(qtbot, window, 0)
    label = window.preview.location
    assert label.full_text() == hit.location and label.toolTip() == hit.location
    window.splitter.moveSplitter(760, 1)
    qtbot.wait(50)
    assert label.shown_text().endswith(HEADINGS[-1]) and "…" in label.shown_text()
    assert QFontMetrics(label.font()).horizontalAdvance(label.shown_text()) <= label.width()


@pytest.mark.parametrize("name,text", [("富士山.md", JAPANESE), ("长城.md", CHINESE)])
def test_cjk_snippets_wrap_within_the_row_and_end_in_an_ellipsis(
    qtbot: QtBot, window: MainWindow, name: str, text: str
) -> None:
    window.splitter.moveSplitter(420, 1)
    qtbot.keyClicks(window.search_field, "cats ")
    with qtbot.waitSignal(window.worker.results_ready, timeout=5000):
        event = QInputMethodEvent()  # CJK arrives from an input method, not as key presses
        event.setCommitString(text[:3])
        QApplication.sendEvent(window.search_field, event)
    assert window.search_field.text() == "cats " + text[:3]
    row = [h.name for h in window.model.hits()].index(name)
    hit = window.model.hits()[row]
    assert any(text[:3] in hit.snippet[s:e] for s, e in hit.spans)
    option = row_option(window, row)
    font = option.font  # type: ignore[attr-defined]
    width = option.rect.width() - 2 * PADDING  # type: ignore[attr-defined]
    palette = option.palette  # type: ignore[attr-defined]
    doc = snippet_document(hit, font, width, palette, palette.text().color())
    shown = doc.toPlainText()
    assert line_count(doc) == SNIPPET_LINES and shown.endswith("…")
    assert hit.snippet.startswith(shown[:-1]) and len(shown) > 40  # wrapped, not cut short
    assert doc.size().height() <= line_height(font) * SNIPPET_LINES
    ui = QFontMetrics(font).lineSpacing()
    painted = 2 * ui + 4 + doc.size().height() + 2 * PADDING
    assert painted <= window.delegate.sizeHint(option, window.model.index(row)).height()
    assert painted <= option.rect.height()  # type: ignore[attr-defined]


def test_snippet_whitespace_shows_as_single_spaces(window: MainWindow) -> None:
    """Code snippets hold runs of spaces and newlines; the row shows them as HTML would."""
    snippet = "  def   raise_it():\n\n        raise   ValueError"
    start = snippet.index("ValueError")
    hit = ResultRow(path="/a.py", score=1.0, snippet=snippet, spans=((start, start + 10),))
    palette = window.palette()
    doc = snippet_document(hit, window.font(), 600, palette, palette.text().color())
    assert doc.toPlainText() == "def raise_it(): raise ValueError"
    marked, plain = doc.find("ValueError"), doc.find("raise_it")
    assert marked.charFormat().background().style() != Qt.BrushStyle.NoBrush
    assert plain.charFormat().background().style() == Qt.BrushStyle.NoBrush
