"""Background work in the window: values and errors come back on the main thread, and a
failure reaches the visible window instead of a log line."""

from __future__ import annotations

import threading

from pytestqt.qtbot import QtBot

from app.settings import Settings
from app.ui.controller import AppController
from app.ui.tasks import TaskRunner
from tests.gui.fakes import FakeIndexer, FakeSearch


def test_values_and_errors_arrive_on_the_main_thread(qtbot: QtBot) -> None:
    runner = TaskRunner()
    seen: list[tuple[str, object, bool]] = []

    def on_main(kind: str) -> object:
        return lambda value: seen.append(
            (kind, value, threading.current_thread() is threading.main_thread())
        )

    def boom() -> int:
        raise ValueError("boom")

    runner.call(lambda: threading.current_thread().name, on_main("done"), on_main("error"))
    runner.call(boom, on_main("done"), on_main("error"))
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    done = next(s for s in seen if s[0] == "done")
    assert done[1] != threading.main_thread().name and done[2]  # ran off it, answered on it
    assert ("error", "ValueError: boom", True) in seen
    runner.shutdown()


def test_problem_list_failure_shows_in_the_status_bar(qtbot: QtBot) -> None:
    indexer = FakeIndexer()
    indexer.problems_error = OSError("database disk image is malformed")
    ctl = AppController(Settings(first_run_done=True), FakeSearch(), indexer)
    qtbot.addWidget(ctl.window)
    ctl.load_problems()
    qtbot.waitUntil(lambda: "Could not list" in ctl.window.status.currentMessage(), timeout=5000)
    assert "OSError: database disk image is malformed" in ctl.window.status.currentMessage()
    indexer.problems_error = None
    ctl.load_problems()
    qtbot.waitUntil(lambda: not ctl.window.status.problems_button.isHidden(), timeout=5000)
    assert "3" in ctl.window.status.problems_button.text()
    ctl.quit()
