"""Settings' model list and the Folder filter as a new user meets them (issue 11, item 5)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.settings import Settings
from app.ui.main_window import MainWindow
from app.ui.settings_dialog import SettingsDialog


def test_model_list_offers_only_loadable_models(
    qtbot: QtBot, e5_starter_dir: Path, starter_model_dir: Path
) -> None:
    """Qwen3 hub names and the bundled starters by folder (never a starter's hub name,
    which cannot load offline); picking the English starter saves its folder."""
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    bundled = [str(e5_starter_dir), str(starter_model_dir)]
    for combo in (dialog.model, dialog.rerank_model):
        items = [combo.itemText(i) for i in range(combo.count())]
        assert items and all(items), items  # no blank row
        qwen = [item for item in items if item.startswith("Qwen/Qwen3-")]
        assert items == qwen + (bundled if combo is dialog.model else []), items
    tips = [
        dialog.model.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(dialog.model.count())
    ]
    assert tips[-2:] == [
        "Bundled starter model multilingual-e5-small (about 100 languages)",
        "Bundled starter model all-MiniLM-L6-v2 (English only)",
    ]
    assert dialog.model.currentText() == ""  # automatic, said by the placeholder
    assert dialog.result_settings().embed_model == ""
    dialog.model.setCurrentIndex(dialog.model.findText(str(starter_model_dir)))
    assert dialog.result_settings().embed_model == str(starter_model_dir)


def test_folder_filter_offers_subfolders(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    for sub in ("invoices/2025", "invoices/2026", "notes", ".git/objects"):
        (root / sub).mkdir(parents=True)
    window.apply_settings(Settings(folders=[str(root)]))
    combo = window.filters.folder
    offered = [combo.itemData(i) for i in range(combo.count())]
    expected = [root, root / "invoices", root / "invoices/2025", root / "invoices/2026",
                root / "notes"]  # fmt: skip
    assert offered == [None, *map(str, expected)]
    combo.setCurrentIndex(offered.index(str(root / "invoices")))
    assert window.filters.options().filters.folders == (str(root / "invoices"),)
