"""Instruction presets in the window (issue 11, item 3): the Settings tab's own buttons,
the main window's choice surviving a Save, and a model without instructions said so."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

from app.settings import Settings
from app.ui.adapters import RealSearch
from app.ui.controller import AppController
from app.ui.filters import NO_INSTRUCTION_TIP
from app.ui.main_window import MainWindow
from app.ui.settings_dialog import SettingsDialog
from tests.gui.test_real_services import build_index, write_corpus


def _buttons(page: QWidget) -> dict[str, QPushButton]:
    return {b.text(): b for b in page.findChildren(QPushButton) if b.isVisibleTo(page)}


def test_instructions_tab_adds_and_resets_presets(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.tabs.setCurrentIndex(2)
    page = dialog.tabs.widget(2)
    assert dialog.tabs.tabText(2) == "Instructions"
    buttons = _buttons(page)
    assert set(buttons) == {"Add", "Reset to defaults"}, set(buttons)
    before = dialog.preset_list.count()
    qtbot.mouseClick(buttons["Add"], Qt.MouseButton.LeftButton)
    assert dialog.preset_list.count() == before + 1
    assert dialog.preset_list.currentItem().text() == "custom_1"
    qtbot.keyClicks(dialog.preset_text, "Given a recipe name, retrieve the recipe")
    assert dialog.result_settings().custom_presets == {
        "custom_1": "Given a recipe name, retrieve the recipe"
    }
    qtbot.mouseClick(buttons["Reset to defaults"], Qt.MouseButton.LeftButton)
    assert dialog.preset_list.count() == before
    assert dialog.result_settings().custom_presets == {}


def test_instruction_choice_survives_a_save(qtbot: QtBot, window: MainWindow) -> None:
    settings = Settings(query_preset="web_search")
    window.apply_settings(settings)
    combo = window.filters.preset
    combo.setCurrentIndex(combo.findData("code_search"))
    window.apply_settings(Settings(query_preset="web_search", rerank_enabled=False))
    assert combo.currentData() == "code_search"
    window.apply_settings(Settings(query_preset="notes"))  # a new default is followed
    assert combo.currentData() == "notes"


def test_model_without_instructions_disables_the_choice(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path
) -> None:
    db = tmp_path / "index.sqlite3"
    settings = build_index(write_corpus(tmp_path / "docs"), db, starter_model_dir)
    ctl = AppController(settings, RealSearch(settings, db), None)
    qtbot.addWidget(ctl.window)
    combo = ctl.window.filters.preset
    assert combo.isEnabled()
    ctl.start()  # warms search up: the starter model is loaded, and it takes no instruction
    qtbot.waitUntil(lambda: not combo.isEnabled(), timeout=60000)
    assert combo.toolTip() == NO_INSTRUCTION_TIP
    ctl.quit()
