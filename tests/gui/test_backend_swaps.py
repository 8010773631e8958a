"""Replacing the search backend (a model change, a rebuild, a download) frees the old one:
never while a search still runs on it, always once it is done, and RSS stays flat."""

from __future__ import annotations

import ctypes
import gc
import sys
from dataclasses import replace
from pathlib import Path

import psutil
from pytestqt.qtbot import QtBot

from app.search import SearchOptions
from app.settings import Settings
from app.ui.adapters import RealSearch
from app.ui.controller import AppController
from app.ui.workers import SearchWorker
from tests.gui.fakes import FakeSearch
from tests.gui.test_real_services import starter_index  # noqa: F401 (a fixture)


def held_memory(process: psutil.Process) -> int:
    """RSS once freed memory went back to the system: glibc keeps freed blocks in one arena
    per thread that used it, which would read as growth that is no leak."""
    gc.collect()
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return int(process.memory_info().rss)


def test_old_backend_closes_after_its_running_search(qtbot: QtBot) -> None:
    old, new = FakeSearch(), FakeSearch()
    worker = SearchWorker(old)
    old.block.clear()  # the search below waits inside the old backend
    with qtbot.waitSignal(worker.results_ready, timeout=5000) as answered:
        request = worker.search("cats", SearchOptions())
        qtbot.waitUntil(lambda: worker.tasks.pool.activeThreadCount() == 1, timeout=2000)
        worker.replace_search(new)
        qtbot.wait(100)
        assert old.closed == 0  # still in use: closing now would pull its models away
        old.block.set()
    assert answered.args is not None and answered.args[0] == request
    qtbot.waitUntil(lambda: old.closed == 1, timeout=5000)
    with qtbot.waitSignal(worker.results_ready, timeout=5000):
        worker.search("dogs", SearchOptions())
    assert new.queries == ["dogs"] and old.queries == ["cats"]
    assert new.closed == 0
    worker.shutdown()


def test_ten_model_swaps_free_each_model(
    qtbot: QtBot,
    starter_index: tuple[Settings, Path],  # noqa: F811
    starter_model_dir: Path,
) -> None:
    settings, db = starter_index
    made: list[RealSearch] = []

    def factory(s: Settings) -> tuple[RealSearch, None]:
        made.append(RealSearch(s, db))
        return made[-1], None

    ctl = AppController(settings, factory(settings)[0], None, factory=factory)
    qtbot.addWidget(ctl.window)
    model_bytes = (starter_model_dir / "model.safetensors").stat().st_size
    process = psutil.Process()
    rss: list[int] = []
    for swap in range(11):
        if swap:
            ctl.apply_settings(replace(ctl.settings, rerank_depth=10 + swap))
        with qtbot.waitSignal(ctl.search_worker.results_ready, timeout=30000) as found:
            ctl.search_worker.search("lighthouse ship", SearchOptions())
        assert found.args is not None and found.args[1][0].path.endswith("lighthouse.md")
        qtbot.waitUntil(lambda: all(m._service is None for m in made[:-1]), timeout=10000)
        rss.append(held_memory(process))
    assert len(made) == 11 and made[-1]._service is not None  # only the current one loaded
    grown = rss[-1] - rss[1]
    assert grown < model_bytes, f"RSS grew {grown / 2**20:.0f} MiB over 10 model swaps"
    ctl.search_worker.shutdown()
