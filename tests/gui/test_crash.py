"""A bug anywhere shows a dialog with its traceback and the log file, and the window goes on.

pytest-qt normally catches exceptions raised in Qt slots to fail the test; these tests turn
that off (``qt_no_exception_capture``) so the exception takes the path it takes for a user.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from app.settings import Settings
from app.ui.crash import CrashHandler, log_path, log_to_file
from app.ui.downloader import ModelDownloader
from app.ui.main_window import MainWindow

pytestmark = pytest.mark.qt_no_exception_capture


class Boom(RuntimeError):
    """The bug each test plants."""


def explode() -> None:
    raise Boom("planted bug 42")


@pytest.fixture
def handler(window: MainWindow) -> Iterator[CrashHandler]:
    path = log_to_file()
    crash = CrashHandler(window, path)
    crash.install()
    yield crash
    crash.uninstall()
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, "baseFilename", None) == str(path)]:
        root.removeHandler(h)
        h.close()
    for box in list(crash.dialogs):
        box.close()


def shown_dialog(qtbot: QtBot, crash: CrashHandler) -> QMessageBox:
    qtbot.waitUntil(lambda: bool(crash.dialogs) and crash.dialogs[0].isVisible(), timeout=5000)
    return crash.dialogs[0]


def assert_shows_the_bug(box: QMessageBox) -> None:
    assert "Boom: planted bug 42" in box.text()
    assert "Traceback (most recent call last)" in box.detailedText()
    assert "in explode" in box.detailedText()
    assert str(log_path()) in box.informativeText()
    assert "planted bug 42" in log_path().read_text(encoding="utf-8")


def still_searches(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.worker.results_ready, timeout=5000) as got:
        qtbot.keyClicks(window.search_field, "cats")
    assert got.args[1], "the window stopped answering searches after the bug"


def test_bug_in_a_slot_shows_the_traceback_and_search_goes_on(
    qtbot: QtBot, window: MainWindow, handler: CrashHandler
) -> None:
    button = QPushButton("Break", window)
    button.clicked.connect(explode)
    button.show()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert_shows_the_bug(shown_dialog(qtbot, handler))
    still_searches(qtbot, window)


def test_bug_in_a_thread_reaches_the_gui_thread(
    qtbot: QtBot, window: MainWindow, handler: CrashHandler
) -> None:
    thread = threading.Thread(target=explode, name="quarry-test-bug")
    thread.start()
    thread.join()
    box = shown_dialog(qtbot, handler)
    assert_shows_the_bug(box)
    assert "quarry-test-bug" in box.text()
    still_searches(qtbot, window)


def test_bug_in_the_model_check_is_shown_as_a_bug_not_a_missing_model(
    qtbot: QtBot, window: MainWindow, handler: CrashHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.ui.downloader.prepare_models", lambda *a: explode())
    downloader = ModelDownloader()
    failed: list[object] = []
    downloader.models_failed.connect(failed.append)
    downloader.start(Settings())
    assert_shows_the_bug(shown_dialog(qtbot, handler))
    assert not failed, "a bug was worded as a missing model"


def test_without_a_log_file_the_dialog_says_so(qtbot: QtBot, window: MainWindow) -> None:
    crash = CrashHandler(window, None)
    crash.install()
    try:
        threading.Thread(target=explode).start()
        box = shown_dialog(qtbot, crash)
        assert "No log file" in box.informativeText()
    finally:
        crash.uninstall()
        for box in list(crash.dialogs):
            box.close()


def test_uninstall_restores_the_previous_hooks(window: MainWindow, tmp_path: Path) -> None:
    before = (sys.excepthook, threading.excepthook)
    crash = CrashHandler(window, tmp_path / "x.log")
    crash.install()
    assert sys.excepthook == crash.excepthook
    crash.uninstall()
    assert (sys.excepthook, threading.excepthook) == before
