"""The window and ``quarry index`` share one index lock: each waits for the other, and says so.

Real processes: the CLI runs as a user runs it (``tests.hostile.runner.Quarry``), the window
is the real one over the real pipeline, on the same index file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.indexlock import holder
from app.settings import Settings
from app.ui.adapters import RealIndexing, RealSearch
from app.ui.controller import AppController
from tests.gui.fakes import RecordingOpener
from tests.hostile.runner import Quarry

pytestmark = pytest.mark.slow

LOCKED = "is indexing this index"


def _notes(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "lighthouse.md").write_text("# Coast\n\nThe lighthouse keeper logs every ship.")
    (folder / "bread.txt").write_text("Bread rises overnight in a cold kitchen.")
    return folder


def _huge_text(path: Path, megabytes: int) -> None:
    """Several seconds of chunking: the CLI holds the lock meanwhile."""
    line = "The keeper logged the lamp, the weather and every ship that passed the point. "
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(line * (megabytes * 1_000_000 // len(line)))


def _wait_for(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@contextmanager
def _window(qtbot: QtBot, quarry: Quarry, folder: Path) -> Iterator[AppController]:
    settings = Settings(
        folders=[str(folder)], embed_model=str(quarry.model), rerank_enabled=False,
        first_run_done=True, pause_embedding_on_battery=False,
    )  # fmt: skip
    indexing = RealIndexing(settings, quarry.db, sandbox=False)
    ctl = AppController(
        settings, RealSearch(settings, quarry.db), indexing, opener=RecordingOpener()
    )
    qtbot.addWidget(ctl.window)
    ctl.window.show()
    try:
        yield ctl
    finally:
        ctl.quit()
        qtbot.waitUntil(lambda: ctl.indexing is None or not ctl.indexing.running, timeout=15000)


def test_window_waits_for_quarry_index_says_so_and_keeps_searching(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path
) -> None:
    quarry = Quarry(home=tmp_path / "home", model=starter_model_dir, logs=tmp_path / "logs")
    notes = _notes(tmp_path / "docs")
    assert quarry.index(notes, timeout=120).rc == 0  # something to search already
    _huge_text(tmp_path / "big" / "logbook.txt", 10)
    cli = quarry.start("index", str(tmp_path / "big"), "--workers", "1")
    _wait_for(lambda: holder(quarry.db).startswith(f"pid {cli.popen.pid}:"), 30)
    with _window(qtbot, quarry, notes) as ctl:
        status = ctl.window.status.summary
        ctl.start_indexing()
        qtbot.waitUntil(lambda: LOCKED in status.text(), timeout=10000)
        assert "quarry index" in status.text()  # which process: the CLI's own description
        with qtbot.waitSignal(ctl.search_worker.results_ready, timeout=60000) as got:
            qtbot.keyClicks(ctl.window.search_field, "lighthouse keeper")
        assert got.args[1][0].name == "lighthouse.md"  # search answers meanwhile
        if cli.popen.poll() is None:
            assert LOCKED in status.text()  # still waiting, still saying so
        run = cli.finish(timeout=120)
        assert run.rc == 0, run.describe()
        # The CLI is done: the window takes the lock and indexes.
        qtbot.waitUntil(lambda: LOCKED not in status.text(), timeout=10000)
        assert holder(quarry.db) == f"pid {os.getpid()}: the Quarry window"


def test_quarry_index_beside_the_window_says_the_window_is_indexing(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path
) -> None:
    quarry = Quarry(home=tmp_path / "home", model=starter_model_dir, logs=tmp_path / "logs")
    notes = _notes(tmp_path / "docs")
    with _window(qtbot, quarry, notes) as ctl:
        ctl.start_indexing()
        _wait_for(lambda: holder(quarry.db) == f"pid {os.getpid()}: the Quarry window", 30)
        cli = quarry.start("index", str(notes), "--json")
        cli.wait_for_stderr("the Quarry window", timeout=60)
        assert "waiting" in cli.stderr, cli.stderr
        time.sleep(1)
        assert cli.popen.poll() is None  # it waits while the window indexes and watches
    run = cli.finish(timeout=120)  # the window closed: the CLI goes on, finds it all done
    assert run.rc == 0, run.describe()
