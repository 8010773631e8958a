"""Switching OCR on in the running window (Settings, a real click, Save) reads the scans
that were skipped while it was off, without a restart: a fresh indexing run starts with
the new setting and its reconcile queues the files that need OCR."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.extract.ocr import load_engine
from app.extract.ocr.engines import OcrUnavailable
from app.settings import Settings
from app.ui.adapters import RealIndexing, RealSearch
from app.ui.controller import AppController
from app.ui.protocols import ResultRow
from storage.store import Store
from tests.fixtures.pages import ENGLISH, image_pdf, small_page
from tests.gui.test_real_services import index_in_window

pytestmark = [pytest.mark.ocr, pytest.mark.slow]


def _search(qtbot: QtBot, ctl: AppController, text: str) -> list[ResultRow]:
    ctl.window.search_field.clear()
    with qtbot.waitSignal(ctl.search_worker.results_ready, timeout=60000) as got:
        qtbot.keyClicks(ctl.window.search_field, text)
    return list(got.args[1])


def _needing_ocr(db: Path) -> list[str]:
    with Store.open(db, readonly=True) as store:
        return store.files_needing_ocr()


def test_turning_ocr_on_in_the_window_reads_the_skipped_scans(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path
) -> None:
    try:
        load_engine("auto")
    except OcrUnavailable as exc:
        pytest.skip(f"no OCR engine: {exc}")
    docs, db = tmp_path / "docs", tmp_path / "index.sqlite3"
    docs.mkdir()
    small_page(ENGLISH[1]).save(docs / "receipt.png")
    image_pdf(docs / "scan.pdf", [small_page(ENGLISH[3])])
    (docs / "notes.txt").write_text("Plain notes about the harbour office.")
    settings = Settings(folders=[str(docs)], embed_model=str(starter_model_dir),
                        rerank_enabled=False, first_run_done=True, ocr_enabled=False)  # fmt: skip

    def factory(s: Settings) -> tuple[RealSearch, RealIndexing]:
        return RealSearch(s, db), RealIndexing(s, db, sandbox=False)

    ctl, _ = index_in_window(qtbot, settings, db, factory, tmp_path / "settings.json")
    assert sorted(Path(p).name for p in _needing_ocr(db)) == ["receipt.png", "scan.pdf"]
    assert "receipt.png" not in {r.name for r in _search(qtbot, ctl, "marmalade")}

    dialog = ctl.open_settings()
    box = dialog.ocr.enabled
    assert box.isVisible() and not box.isChecked()
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(2, box.height() // 2))
    save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    assert ctl.settings.ocr_enabled

    qtbot.waitUntil(lambda: not _needing_ocr(db), timeout=120000)
    rows = _search(qtbot, ctl, "marmalade")
    assert rows and rows[0].name == "receipt.png" and rows[0].ocr, [r.name for r in rows]
    rows = _search(qtbot, ctl, "sledge lantern")
    assert rows and rows[0].name == "scan.pdf" and rows[0].page == 1
    ctl.quit()
    qtbot.waitUntil(lambda: ctl.indexing is None or not ctl.indexing.running, timeout=20000)
