"""Indexing status bar, pause/resume and the problem files dialog, over a fake indexer."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.ui.backend import Progress
from app.ui.problems import ProblemsDialog
from app.ui.status_bar import IndexStatusBar, describe, format_eta
from app.ui.workers import IndexingWorker
from tests.gui.fakes import FakeIndexer


def test_progress_text_has_counts_speed_and_eta() -> None:
    text = describe(Progress("indexing", 3, 10, 120, 2500.0, 95.0))
    assert "3/10 files" in text and "120 chunks" in text
    assert "2,500 tokens/s" in text and "ETA 1 min" in text
    assert format_eta(3700) == "1 h 1 min"


def test_status_bar_follows_indexing(qtbot: QtBot) -> None:
    bar = IndexStatusBar()
    qtbot.addWidget(bar)
    worker = IndexingWorker(FakeIndexer(steps=3))
    worker.progress_changed.connect(bar.show_progress)
    with qtbot.waitSignal(worker.indexing_finished, timeout=5000):
        worker.start()
    qtbot.waitUntil(lambda: "3 files" in bar.summary.text(), timeout=2000)


def test_pause_and_resume(qtbot: QtBot) -> None:
    fake = FakeIndexer(steps=50, delay=0.01)
    worker = IndexingWorker(fake)
    seen: list[Progress] = []
    worker.progress_changed.connect(seen.append)
    worker.start()
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=5000)
    with qtbot.waitSignal(worker.paused_changed, timeout=1000) as paused:
        worker.toggle_pause()
    assert paused.args == [True]
    qtbot.wait(100)
    frozen = len(seen)
    qtbot.wait(200)
    assert len(seen) <= frozen + 1  # at most the file in flight finishes
    assert worker.running
    with qtbot.waitSignal(worker.indexing_finished, timeout=5000):
        worker.toggle_pause()
    assert seen[-1].phase == "idle"


def test_shutdown_is_fast_mid_indexing(qtbot: QtBot) -> None:
    import time

    worker = IndexingWorker(FakeIndexer(steps=10_000, delay=0.01))
    worker.start()
    qtbot.wait(50)
    t0 = time.perf_counter()
    worker.shutdown()
    assert time.perf_counter() - t0 < 1.0
    assert not worker.running


def test_problem_files_listed_and_retried(qtbot: QtBot) -> None:
    fake = FakeIndexer()
    dialog = ProblemsDialog()
    qtbot.addWidget(dialog)
    dialog.set_problems(fake.problems())
    assert dialog.table.rowCount() == 3
    assert dialog.table.item(0, 2).text() == "PDF is encrypted"
    dialog.retry_requested.connect(fake.retry)
    dialog.table.selectRow(2)
    dialog.retry_button.click()
    assert fake.retried == ["/docs/locked.docx"]
    dialog.table.clearSelection()
    dialog.retry_button.click()
    assert fake.retried[1:] == ["/docs/broken.pdf", "/docs/huge.bin", "/docs/locked.docx"]
