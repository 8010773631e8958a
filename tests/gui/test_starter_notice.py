"""The status bar after a restart and after indexing (issue 11, item 6)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.ui.adapters import RealSearch
from app.ui.controller import AppController
from engine.resolve import STARTER_NOTICE
from tests.gui.test_real_services import build_index, write_corpus


def test_starter_model_is_named_after_every_start(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.resolve

    monkeypatch.setattr(
        engine.resolve, "default_embedding_spec", lambda: (str(starter_model_dir), STARTER_NOTICE)
    )
    db = tmp_path / "index.sqlite3"
    indexed = build_index(write_corpus(tmp_path / "docs"), db, starter_model_dir)
    settings = replace(indexed, embed_model="")  # automatic: no Qwen3 model, so the starter
    ctl = AppController(settings, RealSearch(settings, db), None)  # a later start: no welcome
    qtbot.addWidget(ctl.window)
    label = ctl.window.status.model_label
    ctl.start()
    qtbot.waitUntil(label.isVisible, timeout=60000)
    assert label.text() == "Starter model (English)"
    assert label.toolTip() == STARTER_NOTICE
    ctl.quit()


def test_problem_files_are_not_counted_as_searchable(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path
) -> None:
    from tests.gui.test_real_services import DOCS, corpus_settings, index_in_window

    folder = write_corpus(tmp_path / "docs")  # the DOCS files plus one binary file
    settings = corpus_settings(folder, starter_model_dir)
    ctl, _ = index_in_window(qtbot, settings, tmp_path / "index.sqlite3")
    text = ctl.window.status.summary.text()
    assert text.startswith(f"{len(DOCS)} files searchable by keyword"), text
    ctl.quit()
    qtbot.waitUntil(lambda: ctl.indexing is None or not ctl.indexing.running, timeout=10000)
