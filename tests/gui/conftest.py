"""GUI fixtures: a window over fake backends (pure-UI tests) with a recording opener."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

pytest.importorskip("PySide6")

from app.ui.main_window import MainWindow
from app.ui.workers import SearchWorker
from tests.gui.fakes import FakeSearch, RecordingOpener


@pytest.fixture
def fake_backend() -> FakeSearch:
    """A word-overlap search whose rerank reverses the order."""
    return FakeSearch()


@pytest.fixture
def opener() -> RecordingOpener:
    """Records Enter / Ctrl+Enter instead of launching applications."""
    return RecordingOpener()


@pytest.fixture
def window(qtbot: QtBot, fake_backend: FakeSearch, opener: RecordingOpener) -> Iterator[MainWindow]:
    """A shown main window over the fake backend."""
    worker = SearchWorker(fake_backend)
    win = MainWindow(worker, opener=opener, debounce_ms=20)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    worker.shutdown()
