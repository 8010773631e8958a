"""A hand-edited settings file cannot stop the window's search; a replaced preset is shown."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from pytestqt.qtbot import QtBot

from app import paths, settings
from app.ui.adapters import RealSearch
from tests.gui.test_real_services import build_index, real_window, write_corpus

BAD = {
    "embed_backend": "llamacpp",  # valid, but the starter folder is no GGUF
    "device": "gpu9",
    "precision": "int3",
    "query_preset": "deleted-one",
}


def test_window_searches_by_meaning_with_a_bad_settings_file_and_shows_the_preset_note(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path
) -> None:
    db = tmp_path / "index.sqlite3"
    good = build_index(write_corpus(tmp_path / "docs"), db, starter_model_dir)
    target = paths.settings_path()
    target.write_text(json.dumps({**asdict(good), **BAD}))
    loaded = settings.load(target)  # what the window starts with
    with real_window(qtbot, RealSearch(loaded, db)) as window:
        window.apply_settings(loaded)
        note = window.filters.preset_note
        assert note.isVisible()
        assert "unknown instruction preset 'deleted-one'" in note.text()
        assert "searching with 'web_search' instead" in note.text()
        assert window.filters.preset.currentText() == "web search"
        with qtbot.waitSignal(window.worker.results_ready, timeout=30000):
            qtbot.keyClicks(window.search_field, "lighthouse ship")
        qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=5000)
        top = window.model.hits()[0]
        assert top.name == "lighthouse.md" and "vector" in top.scores


def test_a_known_preset_shows_no_note(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path
) -> None:
    db = tmp_path / "index.sqlite3"
    good = build_index(write_corpus(tmp_path / "docs"), db, starter_model_dir)
    with real_window(qtbot, RealSearch(good, db)) as window:
        window.apply_settings(good)
        assert not window.filters.preset_note.isVisible()
        assert window.filters.preset_note.text() == ""
