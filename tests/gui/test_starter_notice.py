"""After a restart the window still says the starter model is in use (issue 11, item 6)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.ui.controller import AppController
from app.ui.services import RealSearch
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
