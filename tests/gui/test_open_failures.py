"""Open and Reveal on a desktop with no launcher: the window says so (issue 11, item 6).

The real DesktopOpener on Qt's offscreen platform, which, like a desktop without
xdg-open, has no application to open anything with.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from app.ui.opener import DesktopOpener
from app.ui.workers import SearchWorker
from tests.gui.fakes import FakeSearch


def test_open_and_reveal_failures_show_in_the_status_bar(qtbot: QtBot) -> None:
    worker = SearchWorker(FakeSearch())
    window = MainWindow(worker, opener=DesktopOpener(), debounce_ms=20)
    qtbot.addWidget(window)
    window.show()
    opened: list[str] = []
    window.file_opened.connect(opened.append)
    with qtbot.waitSignal(worker.results_ready, timeout=5000):
        qtbot.keyClicks(window.search_field, "cats")
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=5000)
    qtbot.keyClick(window.search_field, Qt.Key.Key_Return)
    assert window.status.currentMessage().startswith("Could not open ")
    assert opened == []  # nothing was opened, so nothing is promoted as opened
    window.status.clearMessage()
    qtbot.keyClick(window.search_field, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.status.currentMessage().startswith("Could not show ")
    worker.shutdown()
