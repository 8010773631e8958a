"""The main window over fake backends: typing, rerank, keyboard, preview."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from app.phases import Progress
from app.ui.main_window import MainWindow
from app.ui.protocols import ResultRow
from tests.gui.fakes import FakeSearch, RecordingOpener


def type_query(qtbot: QtBot, window: MainWindow, text: str) -> list[ResultRow]:
    """Type like a user and wait for the (debounced) results."""
    with qtbot.waitSignal(window.worker.results_ready, timeout=5000) as blocker:
        qtbot.keyClicks(window.search_field, text)
    return blocker.args[1]


def test_search_field_focused_at_start(window: MainWindow) -> None:
    assert window.search_field.hasFocus() or window.focusProxy() is window.search_field


def test_typing_shows_results(qtbot: QtBot, window: MainWindow) -> None:
    window.rerank_enabled = False
    hits = type_query(qtbot, window, "cats")
    qtbot.waitUntil(lambda: window.model.rowCount() == len(hits))
    assert {h.name for h in window.model.hits()} == {"cats.md", "report.pdf", "notes.txt"}
    assert window.results.currentIndex().row() == 0


def test_typing_is_debounced_to_one_search(
    qtbot: QtBot, window: MainWindow, fake_backend: FakeSearch
) -> None:
    window.rerank_enabled = False
    type_query(qtbot, window, "dogs")
    qtbot.wait(100)
    assert fake_backend.queries == ["dogs"]


def test_rerank_reorders_rows_and_keeps_selection(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.worker.rerank_finished, timeout=5000):
        hits = type_query(qtbot, window, "cats")
    qtbot.waitUntil(lambda: not window.model.animating, timeout=5000)
    shown = [h.path for h in window.model.hits()]
    assert shown == [h.path for h in reversed(hits)]
    assert window.model.hits()[0].scores == {"rerank": 1.0}
    # the first fused hit stays selected while it moves to the bottom
    assert window.current_hit() is not None
    assert window.current_hit().path == hits[0].path
    assert not window.status.rerank_indicator.isVisibleTo(window.status)


def test_stale_answers_are_dropped(
    qtbot: QtBot, window: MainWindow, fake_backend: FakeSearch
) -> None:
    window.rerank_enabled = False
    fake_backend.block.clear()  # the first search hangs until released
    qtbot.keyClicks(window.search_field, "dogs")
    qtbot.wait(60)
    first = window.request
    window.search_field.setText("cats")
    window.search_now()
    fake_backend.block.set()
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=5000)
    assert window.request != first
    assert all("cat" in h.snippet.lower() for h in window.model.hits())


def test_enter_opens_and_ctrl_enter_reveals(
    qtbot: QtBot, window: MainWindow, opener: RecordingOpener
) -> None:
    window.rerank_enabled = False
    type_query(qtbot, window, "dogs")
    qtbot.keyClick(window.search_field, Qt.Key.Key_Down)
    selected = window.current_hit()
    assert selected is not None
    qtbot.keyClick(window.search_field, Qt.Key.Key_Return)
    qtbot.keyClick(window.search_field, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert opener.opened == [selected.path]
    assert opener.revealed == [selected.path]


def test_a_launcher_that_fails_says_so_in_the_status_bar(
    qtbot: QtBot, window: MainWindow, opener: RecordingOpener
) -> None:
    window.rerank_enabled = False
    type_query(qtbot, window, "report")
    opener.failure = "no application opens .pdf files here (install xdg-utils)"
    opened: list[str] = []
    window.file_opened.connect(opened.append)
    for button in (window.preview.open_button, window.preview.reveal_button):
        window.status.clearMessage()
        button.click()
        assert window.status.currentMessage() == opener.failure
    assert opened == [] and opener.opened == [] and opener.revealed == []
    opener.failure = None
    window.preview.open_button.click()
    assert opened == ["/docs/report.pdf"]


def test_arrows_move_selection(qtbot: QtBot, window: MainWindow) -> None:
    window.rerank_enabled = False
    type_query(qtbot, window, "cats")
    qtbot.keyClick(window.search_field, Qt.Key.Key_Down)
    qtbot.keyClick(window.search_field, Qt.Key.Key_Down)
    assert window.results.currentIndex().row() == 2
    qtbot.keyClick(window.search_field, Qt.Key.Key_Up)
    assert window.results.currentIndex().row() == 1


def test_ctrl_c_copies_path(qtbot: QtBot, window: MainWindow) -> None:
    window.rerank_enabled = False
    type_query(qtbot, window, "dogs")
    qtbot.keyClick(window.search_field, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == window.current_hit().path


def test_escape_clears(qtbot: QtBot, window: MainWindow) -> None:
    window.rerank_enabled = False
    type_query(qtbot, window, "cats")
    qtbot.keyClick(window.search_field, Qt.Key.Key_Escape)
    assert window.search_field.text() == ""
    assert window.model.rowCount() == 0


def test_preview_highlights_and_buttons(
    qtbot: QtBot, window: MainWindow, opener: RecordingOpener
) -> None:
    window.rerank_enabled = False
    type_query(qtbot, window, "report")
    qtbot.waitUntil(lambda: "Before the chunk" in window.preview.text.toPlainText(), timeout=5000)
    assert window.preview.highlighted_text() == ["report"]
    assert "p. 1" in window.preview.location.text()
    window.preview.open_button.click()
    window.preview.reveal_button.click()
    assert opener.opened == ["/docs/report.pdf"]
    assert opener.revealed == ["/docs/report.pdf"]


def test_file_type_filter_reaches_backend(
    qtbot: QtBot, window: MainWindow, fake_backend: FakeSearch
) -> None:
    window.rerank_enabled = False
    type_query(qtbot, window, "cats")
    with qtbot.waitSignal(window.worker.results_ready, timeout=5000):
        window.filters.file_type.setCurrentIndex(window.filters.file_type.findData("pdf"))
    assert fake_backend.options[-1].filters.extensions == ("pdf",)
    qtbot.waitUntil(lambda: [h.name for h in window.model.hits()] == ["report.pdf"])


def test_result_count_and_indexing_line_each_keep_their_place(
    qtbot: QtBot, window: MainWindow
) -> None:
    """Issue 11 item 6: the file count of a search no longer takes turns with the indexing
    line in one place (a temporary status message hid the indexing line)."""
    window.rerank_enabled = False
    window.show()
    window.status.show_progress(Progress(keyword_files=66, meaning_files=66))
    type_query(qtbot, window, "cats")
    qtbot.waitUntil(lambda: window.model.rowCount() == 3)
    assert window.status.summary.isVisible()
    assert window.status.summary.text() == "66 files searchable by keyword · all by meaning"
    assert window.status.result_count.isVisible()
    assert window.status.result_count.text() == "3 files"
    qtbot.keyClick(window.search_field, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.status.result_count.isVisible())
    assert window.status.summary.isVisible()
