"""Settings dialog round-trip (dialog -> save -> load) and the first-run welcome."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from app import settings as settings_mod
from app.extract.ocr.engines import available
from app.settings import Settings
from app.ui.ocr_settings import ocr_note
from app.ui.presets import default_presets
from app.ui.settings_dialog import DIMENSION_NOTE, SettingsDialog
from app.ui.suggest import ModelChoice, describe_download, model_choices
from app.ui.welcome import WelcomeDialog
from engine.machine import MachineInfo

CPU_NO_BF16 = MachineInfo("Linux", "x86_64", "test CPU", 4, 8, frozenset({"avx2"}), False)


def test_settings_round_trip(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = SettingsDialog(Settings(folders=["/a"]))
    qtbot.addWidget(dialog)
    dialog.add_folder("/b")
    dialog.remove_folder(0)
    dialog.exclude.setPlainText("**/.git/**\n**/*.tmp")
    dialog.model.setCurrentText("Qwen/Qwen3-Embedding-0.6B")
    assert dialog.dimension.maximum() == 1024 and dialog.dimension.minimum() == 32
    dialog.dimension.setValue(256)
    dialog.backend.setCurrentText("llamacpp")
    dialog.add_preset("legal", "Given a legal question, retrieve relevant clauses")
    dialog.query_preset.setCurrentIndex(dialog.query_preset.findData("legal"))
    dialog.rerank_enabled.setChecked(False)
    dialog.rerank_depth.setValue(20)
    dialog.keep_in_tray.setChecked(False)
    path = tmp_path / "settings.json"
    settings_mod.save(dialog.result_settings(), path)
    loaded = settings_mod.load(path)
    assert loaded.folders == ["/b"]
    assert loaded.exclude == ["**/.git/**", "**/*.tmp"]
    assert loaded.embed_model == "Qwen/Qwen3-Embedding-0.6B"
    assert loaded.embed_backend == "llamacpp"
    assert loaded.dimension == 256
    assert loaded.custom_presets == {"legal": "Given a legal question, retrieve relevant clauses"}
    assert loaded.query_preset == "legal"
    assert (loaded.rerank_enabled, loaded.rerank_depth) == (False, 20)
    assert loaded.keep_running_in_tray is False


def test_full_dimension_is_stored_as_zero(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings(embed_model="Qwen/Qwen3-Embedding-0.6B", dimension=0))
    qtbot.addWidget(dialog)
    assert dialog.dimension.value() == 1024
    assert dialog.result_settings().dimension == 0
    assert "background" in DIMENSION_NOTE and "keeps working" in DIMENSION_NOTE


def test_presets_edit_and_reset(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    builtin = next(iter(default_presets()))
    dialog.set_preset_task(builtin, "Find my recipes")
    assert dialog.result_settings().custom_presets == {builtin: "Find my recipes"}
    dialog.reset_presets()
    assert dialog.result_settings().custom_presets == {}
    assert dialog.presets() == default_presets()


def test_welcome_suggests_a_model_and_explains_the_download(qtbot: QtBot) -> None:
    choices = model_choices(kind="cpu", info=CPU_NO_BF16, measured=[])
    runnable = [c for c in choices if c.available]
    assert choices[0].recommended and choices[0] is runnable[0]
    assert model_choices(kind="cuda", info=CPU_NO_BF16, measured=[])[0].device in ("cuda", "auto")
    assert any(c.download_mb == 0 for c in choices)  # the bundled starter model
    dialog = WelcomeDialog(Settings(), choices)
    qtbot.addWidget(dialog)
    assert not dialog.start_button.isEnabled()  # no folder yet
    dialog.add_folder("/home/me/Documents")
    assert dialog.start_button.isEnabled()
    assert "download" in dialog.download.text() and "MB" in dialog.download.text()
    result = dialog.result_settings()
    assert result.folders == ["/home/me/Documents"]
    assert result.first_run_done and result.embed_model == choices[0].spec
    assert (result.embed_backend, result.precision) == (choices[0].backend, choices[0].dtype)


def _pick_starter(qtbot: QtBot) -> tuple[str, str]:
    """Click the starter option of a real welcome dialog; (download line, visible labels)."""
    dialog = WelcomeDialog(Settings(), model_choices(kind="cpu"))
    qtbot.addWidget(dialog)
    dialog.show()
    starter = next(b for b in dialog.group.buttons() if "starter" in b.text())
    # Click on the indicator: the widget is wider than its label, so its centre is empty.
    qtbot.mouseClick(starter, Qt.MouseButton.LeftButton, pos=QPoint(8, starter.height() // 2))
    assert starter.isChecked()
    visible = " ".join(w.text() for w in dialog.findChildren(QLabel) if w.isVisible())
    return dialog.download.text(), starter.text() + " " + visible


def test_welcome_says_the_starter_model_understands_about_100_languages(
    qtbot: QtBot, e5_starter_dir: Path
) -> None:
    shown, visible = _pick_starter(qtbot)
    assert "about 100 languages" in shown and "German query finds a French page" in shown
    assert "multilingual-e5-small" in visible and "About 100 languages" in visible


def test_welcome_says_the_english_starter_needs_qwen3_for_other_languages(
    qtbot: QtBot, starter_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.resolve

    monkeypatch.setattr(engine.resolve, "e5_pack_file", lambda: None)  # a platform without it
    shown, visible = _pick_starter(qtbot)
    assert "English only" in shown and "Qwen3" in shown and "Chinese" in shown
    assert "all-MiniLM-L6-v2" in visible and "Other languages need a Qwen3 model" in visible


def test_describe_download_for_bundled_model() -> None:
    choice = ModelChoice("starter", "", "numpy", 0, "")
    assert "Nothing will be downloaded" in describe_download(choice)


def test_dimension_box_offers_only_what_the_model_gives(
    qtbot: QtBot, starter_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.resolve

    monkeypatch.setattr(
        engine.resolve, "default_embedding_spec", lambda: (str(starter_model_dir), "starter")
    )
    for model in (str(starter_model_dir), ""):  # chosen, or picked automatically
        dialog = SettingsDialog(Settings(embed_model=model, dimension=256))
        qtbot.addWidget(dialog)
        box = dialog.dimension
        assert (box.minimum(), box.maximum(), box.value()) == (384, 384, 384)
        assert not box.isEnabled() and "384" in box.toolTip()
        assert dialog.result_settings().dimension == 0
    dialog.model.setCurrentText("Qwen/Qwen3-Embedding-0.6B")
    assert dialog.dimension.isEnabled() and dialog.dimension.maximum() == 1024


def test_ocr_is_offered_off_with_its_cost(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    ocr = dialog.ocr
    assert not ocr.enabled.isChecked()
    installed = available()
    assert ocr.note.text() == ocr_note(installed)
    assert ("s a page" in ocr.note.text()) if installed else ("pip install" in ocr.note.text())
    qtbot.mouseClick(
        ocr.enabled, Qt.MouseButton.LeftButton, pos=QPoint(2, ocr.enabled.height() // 2)
    )
    ocr.engine.setCurrentText("rapidocr")
    ocr.languages.setText(" eng+chi_sim ")
    path = tmp_path / "settings.json"
    settings_mod.save(dialog.result_settings(), path)
    loaded = settings_mod.load(path)
    assert (loaded.ocr_enabled, loaded.ocr_engine, loaded.ocr_languages) == (
        True,
        "rapidocr",
        "eng+chi_sim",
    )


def test_welcome_offers_ocr_off_by_default(qtbot: QtBot) -> None:
    dialog = WelcomeDialog(Settings(), model_choices(kind="cpu", info=CPU_NO_BF16, measured=[]))
    qtbot.addWidget(dialog)
    dialog.add_folder("/home/me/Scans")
    assert not dialog.ocr.isChecked() and not dialog.result_settings().ocr_enabled
    assert ocr_note(available()) in dialog.ocr_note.text()
    qtbot.mouseClick(dialog.ocr, Qt.MouseButton.LeftButton, pos=QPoint(2, dialog.ocr.height() // 2))
    assert dialog.result_settings().ocr_enabled
