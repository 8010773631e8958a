"""The result list and preview over a fake backend: chips, weaker matches, more matches,
more like this, elided headings, dates, next/previous match."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from app.ui.protocols import ResultRow
from app.ui.results_model import format_modified
from app.ui.workers import SearchWorker
from tests.fixtures.window import pick
from tests.gui.fakes import FakeSearch, RecordingOpener


def open_window(qtbot: QtBot, backend: FakeSearch) -> MainWindow:
    window = MainWindow(SearchWorker(backend), opener=RecordingOpener(), debounce_ms=20)
    qtbot.addWidget(window)
    window.rerank_enabled = False
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def shown(qtbot: QtBot) -> Iterator[tuple[MainWindow, FakeSearch]]:
    backend = FakeSearch(
        weak=("/docs/notes.txt",), more={"/docs/cats.md": ["cats nap", "cats hunt"]}
    )
    window = open_window(qtbot, backend)
    yield window, backend
    window.worker.shutdown()


def search(qtbot: QtBot, window: MainWindow, text: str) -> list[ResultRow]:
    with qtbot.waitSignal(window.worker.results_ready, timeout=5000) as got:
        qtbot.keyClicks(window.search_field, text)
    return list(got.args[1])


def test_operators_show_as_chips_and_in_the_dropdowns(
    qtbot: QtBot, shown: tuple[MainWindow, FakeSearch]
) -> None:
    window, backend = shown
    search(qtbot, window, "cats type:pdf after:last week")
    assert window.chips.isVisible()
    assert window.chips.labels() == ["type: pdf  ✕", "after: last week  ✕"]
    assert window.filters.file_type.currentData() == "pdf"
    assert window.filters.modified.currentText() == "Past week"
    assert backend.queries[-1] == "cats type:pdf after:last week"  # the backend parses it
    with qtbot.waitSignal(window.worker.results_ready, timeout=5000):
        qtbot.mouseClick(window.chips.chips[0], Qt.MouseButton.LeftButton)
    assert window.search_field.text() == "cats after:last week"
    assert window.filters.file_type.currentData() is None  # back to "All types"
    assert window.chips.labels() == ["after: last week  ✕"]


def test_a_dropdown_choice_rewrites_the_operator_in_the_query(
    qtbot: QtBot, shown: tuple[MainWindow, FakeSearch]
) -> None:
    window, _ = shown
    search(qtbot, window, "cats type:pdf in:Projects")
    assert window.filters.folder.currentText() == "in: Projects"  # a name, shown as itself
    combo = window.filters.file_type
    combo.setCurrentIndex(combo.findData("md"))
    combo.activated.emit(combo.currentIndex())  # what a user's pick emits
    assert window.search_field.text() == "cats in:Projects type:md"
    combo.setCurrentIndex(0)
    combo.activated.emit(0)
    assert window.search_field.text() == "cats in:Projects"
    assert window.filters.options().filters.folders == ()  # the name filter travels in the query


def test_weaker_matches_wait_behind_the_last_row(
    qtbot: QtBot, shown: tuple[MainWindow, FakeSearch]
) -> None:
    window, _ = shown
    search(qtbot, window, "cats")
    names = [h.name for h in window.model.hits()]
    assert "notes.txt" not in names and names
    last = window.model.index(window.model.rowCount() - 1)
    assert last.data() == "Show 1 weaker match"
    for _ in range(window.model.rowCount()):
        qtbot.keyClick(window.search_field, Qt.Key.Key_Down)
    assert window.model.is_weaker_row(window.results.currentIndex())
    qtbot.keyClick(window.search_field, Qt.Key.Key_Return)
    assert [h.name for h in window.model.hits()][-1] == "notes.txt"
    assert window.model.weak_count == 0


def test_weaker_matches_shortcut_is_not_the_close_window_key(
    qtbot: QtBot, shown: tuple[MainWindow, FakeSearch]
) -> None:
    """Ctrl+W closes windows everywhere else; the Find menu's entry uses Ctrl+Shift+A ("all")."""
    window, _ = shown
    search(qtbot, window, "cats")
    action = next(a for a in window.findChildren(QAction) if "weaker" in a.text())
    assert action.shortcut().toString() == "Ctrl+Shift+A"
    qtbot.keyClick(
        window.search_field,
        Qt.Key.Key_A,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert [h.name for h in window.model.hits()][-1] == "notes.txt"


def test_more_matches_open_with_the_keyboard(
    qtbot: QtBot, shown: tuple[MainWindow, FakeSearch]
) -> None:
    window, _ = shown
    search(qtbot, window, "cats")
    row = next(i for i, h in enumerate(window.model.hits()) if h.name == "cats.md")
    window.results.setCurrentIndex(window.model.index(row))
    file_index = window.model.index(row)
    assert window.model.rowCount(file_index) == 2
    qtbot.keyClick(window.search_field, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert window.results.isExpanded(file_index)
    qtbot.keyClick(window.search_field, Qt.Key.Key_Down)
    passage = window.current_hit()
    assert passage is not None and passage.snippet == "cats nap"
    assert window.current_file() is not None and window.current_file().name == "cats.md"  # type: ignore[union-attr]
    qtbot.keyClick(window.search_field, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert not window.results.isExpanded(file_index)
    assert window.current_hit() is not None and window.current_hit().snippet != "cats nap"  # type: ignore[union-attr]


def test_more_like_this_lists_similar_files_until_the_next_search(
    qtbot: QtBot, shown: tuple[MainWindow, FakeSearch]
) -> None:
    window, backend = shown
    search(qtbot, window, "dogs")
    target = window.current_hit()
    assert target is not None
    with qtbot.waitSignal(window.worker.results_ready, timeout=5000):
        qtbot.mouseClick(window.preview.similar_button, Qt.MouseButton.LeftButton)
    assert backend.similar_to == [(target.path, False)]
    assert window.similar_banner.isVisible() and target.name in window.similar_label.text()
    assert target.path not in [h.path for h in window.model.hits()]
    with qtbot.waitSignal(window.worker.results_ready, timeout=5000):
        window.similar_close.click()
    assert not window.similar_banner.isVisible()
    assert [h.name for h in window.model.hits()] == ["dogs.md"]  # notes.txt waits as weak


def test_a_long_heading_is_elided_and_never_moves_the_splitter(qtbot: QtBot) -> None:
    heading = " > ".join(f"Chapter {i} with a rather long title" for i in range(30))
    backend = FakeSearch()
    window = open_window(qtbot, backend)
    search(qtbot, window, "cats")
    sizes = window.splitter.sizes()
    hit = window.model.hits()[0]
    window.preview.show_hit(replace(hit, heading=heading))
    qtbot.wait(50)
    assert window.splitter.sizes() == sizes
    assert window.preview.location.full_text().endswith(heading)
    assert "…" in window.preview.location.shown_text()
    window.worker.shutdown()


def test_rows_show_the_day_not_only_the_time() -> None:
    today = dt.date(2026, 11, 27)
    noon = dt.datetime(2026, 11, 27, 12, 5).timestamp()
    assert format_modified(noon, today) == "2026-11-27 12:05"
    assert format_modified(noon - 86400, today) == "2026-11-26"


def test_next_and_previous_match_step_through_the_preview(
    qtbot: QtBot, shown: tuple[MainWindow, FakeSearch]
) -> None:
    window, _ = shown
    search(qtbot, window, "cats day")
    pane = window.preview
    qtbot.waitUntil(lambda: "Before the chunk" in pane.text.toPlainText(), timeout=5000)
    assert len(pane.highlighted_text()) >= 2
    first = pane.current_match()
    qtbot.keyClick(window, Qt.Key.Key_F3)
    assert pane.current_match() != first
    assert pane.match_label.text().startswith("2 of ")
    qtbot.mouseClick(pane.previous_button, Qt.MouseButton.LeftButton)
    assert pane.match_label.text().startswith("1 of ") and pane.current_match() == first


TYPING = """
import sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.ui.main_window import MainWindow
from app.ui.workers import SearchWorker
from tests.fixtures.window import pick
from tests.gui.fakes import FakeSearch, RecordingOpener
window = MainWindow(SearchWorker(FakeSearch()), opener=RecordingOpener())
for i in range(6000):  # ~30,000 PySide6 calls that each lose a reference to None
    window._on_text_changed("cats type:pdf in:Projects" if i % 2 else "cats")
window.worker.shutdown()
print("typed")
"""


def test_thousands_of_keystrokes_never_abort_the_interpreter() -> None:
    """PySide6 6.12 on Python 3.11 loses a reference to None per void call; without
    ``app.ui.immortal`` this aborted after ~1,000 keystrokes (fresh process: the
    abort kills it)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", TYPING], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0 and "typed" in done.stdout, done.stderr[-2000:]


EMITTING = """
import app.ui
from PySide6.QtCore import QCoreApplication, QObject, Signal
class Progress(QObject):
    changed = Signal(int)
app = QCoreApplication([])
progress = Progress()
for i in range(50_000):  # an indexing run's progress signals; each loses a reference to True
    progress.changed.emit(i)
print("emitted")
"""


def test_an_indexing_runs_worth_of_signals_never_aborts_the_interpreter() -> None:
    """PySide6 6.12 on Python 3.11 loses a reference to True on every ``Signal.emit``: a
    few thousand progress signals aborted the app, often at quit ("bool_dealloc")."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", EMITTING], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0 and "emitted" in done.stdout, done.stderr[-2000:]


def test_a_dropdown_choice_stays_while_the_query_is_typed(
    qtbot: QtBot, shown: tuple[MainWindow, FakeSearch]
) -> None:
    """A filter picked in a dropdown is the user's own: typing words must not undo it; a
    typed operator it mirrored, once deleted, takes the dropdown back to "all"."""
    window, _ = shown
    combo = window.filters.file_type
    pick(qtbot, combo, "PDF")  # the query names no type: the pick is the user's own
    assert combo.currentText() == "PDF" and window.search_field.text() == ""
    search(qtbot, window, "cats")
    assert combo.currentText() == "PDF", "typing reset the user's dropdown choice"
    assert window.filters.options().filters.extensions == ("pdf",)
    window.search_field.clear()
    search(qtbot, window, "cats type:md")
    assert combo.currentText() == "MD", "the typed operator shows in the dropdown"
    for _ in range(len(" type:md")):
        qtbot.keyClick(window.search_field, Qt.Key.Key_Backspace)
    assert window.search_field.text() == "cats"
    assert combo.currentText() == "All types", "the deleted operator took its mirror with it"
