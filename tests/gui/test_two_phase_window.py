"""The window over a real two-phase pipeline: honest status, embedding pause, promotion."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.phases import Progress
from app.settings import Settings
from app.ui.adapters import RealIndexing, RealSearch
from app.ui.controller import AppController
from app.watcher import normalise
from storage.store import Store
from tests.gui.fakes import RecordingOpener


def _folder(root: Path) -> Path:
    """Six notes; the lighthouse one is the oldest, so last in phase 2's own order."""
    root.mkdir()
    (root / "lighthouse.md").write_text("# Coast\n\nThe lighthouse keeper logs every ship.")
    os.utime(root / "lighthouse.md", (1_000_000, 1_000_000))
    for i in range(5):
        (root / f"note{i}.txt").write_text(f"Note {i}: bread, gardens and taxes, item {i}.")
        os.utime(root / f"note{i}.txt", (2_000_000 + i, 2_000_000 + i))
    return root


def _first_in_line(db: Path) -> str | None:
    """The file phase 2 would embed next, read from the window's own database."""
    with Store.open(db, readonly=True) as reader:
        fp = reader.fingerprint()
        work = reader.embedding_work(fp, max_chunks=1) if fp is not None else None
        if work is None or not work.chunks:
            return None
        row = reader.conn.execute("SELECT path FROM files WHERE id = ?", (work.file_ids[0],))
        return str(row.fetchone()[0])


def test_window_shows_both_phases_pauses_embedding_and_promotes(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path
) -> None:
    folder = _folder(tmp_path / "docs")
    db = tmp_path / "index.sqlite3"
    settings = Settings(
        folders=[str(folder)], embed_model=str(starter_model_dir), rerank_enabled=False,
        first_run_done=True, pause_embedding_on_battery=False,
    )  # fmt: skip
    opener = RecordingOpener()
    ctl = AppController(
        settings, RealSearch(settings, db), RealIndexing(settings, db, sandbox=False), opener=opener
    )
    qtbot.addWidget(ctl.window)
    ctl.window.show()
    status = ctl.window.status
    seen: list[Progress] = []
    assert ctl.indexing is not None
    ctl.indexing.progress_changed.connect(seen.append)
    ctl.toggle_pause()  # the user paused embedding: keyword indexing still runs
    ctl.start_indexing()
    qtbot.waitUntil(
        lambda: (
            status.summary.text()
            == "6 files searchable by keyword · 0 by meaning · embedding paused"
        ),
        timeout=60000,
    )
    assert status.pause_button.isVisible() and status.pause_button.text() == "Resume embedding"

    assert _first_in_line(db) == normalise(folder / "note4.txt")  # newest first
    with qtbot.waitSignal(ctl.search_worker.results_ready, timeout=30000) as got:
        qtbot.keyClicks(ctl.window.search_field, "lighthouse keeper")
    assert got.args[1][0].name == "lighthouse.md"
    assert "vector" not in got.args[1][0].scores  # found by keyword alone
    lighthouse = normalise(folder / "lighthouse.md")
    qtbot.waitUntil(lambda: _first_in_line(db) == lighthouse, timeout=5000)  # promoted
    qtbot.keyClick(ctl.window.search_field, Qt.Key.Key_Return)  # open it
    assert opener.opened == [lighthouse]

    status.pause_button.click()  # resume embedding
    assert status.pause_button.text() == "Pause embedding"
    qtbot.waitUntil(
        lambda: status.summary.text() == "6 files searchable by keyword · all by meaning",
        timeout=60000,
    )
    assert any(p.embedding == "paused" for p in seen)
    ctl.quit()
    qtbot.waitUntil(lambda: ctl.indexing is None or not ctl.indexing.running, timeout=10000)
