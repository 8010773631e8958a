"""An error that ends the indexer thread reaches the window's status line, not just the log."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.phases import Progress
from app.ui.adapters import RealIndexing, RealSearch
from app.ui.controller import AppController
from app.ui.status_bar import IndexStatusBar
from tests.gui.test_real_services import build_index, write_corpus


@pytest.mark.torch
def test_index_of_another_model_stops_indexing_with_the_reason_shown(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path, tiny_embedding_dir: Path
) -> None:
    """The issue's case: indexed with model A, the window starts with model B."""
    db = tmp_path / "index.sqlite3"
    settings = build_index(write_corpus(tmp_path / "docs"), db, starter_model_dir)
    settings = replace(settings, embed_model=str(tiny_embedding_dir))
    ctl = AppController(
        settings, RealSearch(settings, db), RealIndexing(settings, db, sandbox=False)
    )
    qtbot.addWidget(ctl.window)
    assert ctl.indexing is not None
    with qtbot.waitSignal(ctl.indexing.indexing_failed, timeout=60000) as failed:
        ctl.start_indexing()
    assert "FingerprintMismatch" in failed.args[0]
    shown = ctl.window.status.currentMessage()
    assert shown.startswith("Indexing stopped:") and "built with" in shown
    dialog = ctl.indexing_message  # stays until read, unlike the status line
    assert dialog is not None and dialog.isVisible() and "built with" in dialog.text()
    dialog.button(QMessageBox.StandardButton.Ok).click()
    assert not dialog.isVisible()
    ctl.quit()


def test_status_line_says_indexing_paused_on_a_full_disk(qtbot: QtBot) -> None:
    """The indexer's report of a full disk, as the window receives it, read off the bar."""
    bar = IndexStatusBar()
    qtbot.addWidget(bar)
    bar.show()
    paused = Progress("paused", 3, 4, 3, 0, 0, 12, 0, 0.0, None, keyword_files=3,
                      meaning_files=1, embedding="fault",
                      error="disk full: no room left to write the index")  # fmt: skip
    bar.show_progress(paused)
    text = bar.summary.text()
    assert text.startswith("Indexing paused: disk full: no room left")
    assert "3 files searchable by keyword" in text
