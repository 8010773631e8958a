"""The controller over fakes: settings apply live, dimension rebuild, pause, problems, quit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from pytestqt.qtbot import QtBot

from app import settings as settings_mod
from app.settings import Settings
from app.ui.controller import AppController
from tests.gui.fakes import FakeIndexer, FakeSearch, RecordingOpener


@pytest.fixture
def controller(qtbot: QtBot) -> Iterator[AppController]:
    settings = Settings(folders=["/docs"], first_run_done=True, rerank_enabled=False)
    ctl = AppController(
        settings, FakeSearch(), FakeIndexer(steps=20, delay=0.01), opener=RecordingOpener()
    )
    qtbot.addWidget(ctl.window)
    yield ctl
    ctl.search_worker.shutdown()
    if ctl.indexing:
        ctl.indexing.shutdown()


def test_settings_dialog_saves_and_applies(qtbot: QtBot, controller: AppController) -> None:
    dialog = controller.open_settings()
    dialog.add_folder("/more")
    with qtbot.waitSignal(controller.settings_changed, timeout=2000) as changed:
        dialog.accept()
    assert changed.args[0].folders == ["/docs", "/more"]
    assert settings_mod.load().folders == ["/docs", "/more"]
    assert controller.window.filters.folder.findData("/more") > 0


def test_dimension_change_rebuilds_while_search_answers(
    qtbot: QtBot, controller: AppController
) -> None:
    indexer = controller.indexing.backend  # type: ignore[union-attr]
    assert isinstance(indexer, FakeIndexer)
    indexer.delay = 0.3  # a slow rebuild, so search runs while it is in flight
    controller.apply_settings(replace(controller.settings, dimension=256))
    assert controller.indexing is not None and controller.indexing.rebuilding
    with qtbot.waitSignal(controller.search_worker.results_ready, timeout=3000):
        qtbot.keyClicks(controller.window.search_field, "cats")
    assert controller.indexing.rebuilding
    with qtbot.waitSignal(controller.indexing.rebuild_finished, timeout=3000) as done:
        pass
    assert done.args == [256] and indexer.rebuilt == [256]


def test_status_bar_pause_button(qtbot: QtBot, controller: AppController) -> None:
    controller.window.show()
    controller.start_indexing()
    status = controller.window.status
    qtbot.waitUntil(lambda: status.pause_button.isVisible(), timeout=3000)
    status.pause_button.click()
    assert status.pause_button.text() == "Resume embedding"
    status.pause_button.click()
    assert status.pause_button.text() == "Pause embedding"
    with qtbot.waitSignal(controller.indexing.indexing_finished, timeout=5000):  # type: ignore[union-attr]
        pass


def test_problem_files_dialog_and_retry(qtbot: QtBot, controller: AppController) -> None:
    dialog = controller.show_problems()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3, timeout=3000)
    assert controller.window.status.problems_button.text() == "3 problem files"
    dialog.retry_button.click()
    indexer = controller.indexing.backend  # type: ignore[union-attr]
    assert isinstance(indexer, FakeIndexer)
    assert len(indexer.retried) == 3


def test_first_run_opens_welcome(qtbot: QtBot) -> None:
    ctl = AppController(Settings(), FakeSearch(), FakeIndexer())
    qtbot.addWidget(ctl.window)
    welcome = ctl.show_welcome()
    welcome.add_folder("/docs")
    with qtbot.waitSignal(ctl.indexing.indexing_finished, timeout=5000):  # type: ignore[union-attr]
        welcome.accept()
    assert settings_mod.load().first_run_done
    ctl.search_worker.shutdown()


def test_launch_warms_search_up_before_indexing_starts(qtbot: QtBot) -> None:
    import threading

    search, gate = FakeSearch(), threading.Event()
    search.prepare = lambda: gate.wait(5)  # type: ignore[method-assign]
    ctl = AppController(Settings(folders=["/docs"], first_run_done=True, rerank_enabled=False),
                        search, FakeIndexer(steps=3))  # fmt: skip
    qtbot.addWidget(ctl.window)
    assert ctl.indexing is not None
    started: list[bool] = []
    ctl.indexing.indexing_started.connect(lambda: started.append(True))
    ctl.start()
    qtbot.wait(300)
    assert not started, "indexing (and its reconcile) waits for the search warm-up"
    with qtbot.waitSignal(ctl.indexing.indexing_started, timeout=3000):
        gate.set()
    ctl.quit()
