"""Model consent and download in the window, with no hub reachable (HF_ENDPOINT: closed port)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app import settings as settings_mod
from app.download import ModelUnavailable, describe_size
from app.settings import Settings
from app.ui.adapters import RealIndexing, RealSearch, build_services
from app.ui.controller import AppController
from app.ui.downloader import ModelDownloader
from app.ui.settings_dialog import SettingsDialog
from app.ui.suggest import ModelChoice
from app.ui.welcome import WelcomeDialog
from tests.gui.test_real_services import build_index, write_corpus

QWEN = "Qwen/Qwen3-Embedding-0.6B"


def test_failed_download_falls_back_to_the_starter_model_and_search_works(
    qtbot: QtBot, tmp_path: Path, unreachable_hub: str, e5_starter_dir: Path
) -> None:
    starter_model_dir = e5_starter_dir  # the default starter: the multilingual one
    db = tmp_path / "index.sqlite3"
    indexed = build_index(write_corpus(tmp_path / "docs"), db, starter_model_dir)
    chosen = replace(indexed, embed_model=QWEN, embed_backend="transformers", allow_download=True)
    settings_path = tmp_path / "settings.json"

    def factory(s: Settings) -> tuple[RealSearch, RealIndexing]:
        return RealSearch(s, db), RealIndexing(s, db, sandbox=False)

    search, indexing = factory(chosen)
    ctl = AppController(
        chosen,
        search,
        indexing,
        settings_path=settings_path,
        factory=factory,
        downloader=ModelDownloader(),
    )
    qtbot.addWidget(ctl.window)
    assert ctl.downloader is not None
    with qtbot.waitSignal(ctl.downloader.models_failed, timeout=30000) as failed:
        ctl.start()
    failure = failed.args[0]
    assert isinstance(failure, ModelUnavailable) and failure.spec == QWEN
    # a calm message: what failed, what to download and where, and what happens now
    assert ctl.model_message is not None and ctl.model_message.isVisible()
    text = ctl.model_message.text()
    assert f"Could not download {QWEN}: cannot reach {unreachable_hub}" in text
    assert f"hf download {QWEN}" in text and "starter model" in text
    assert "unavailable: using the bundled starter model" in ctl.window.status.currentMessage()
    # the fallback is saved, so the next start does not try again behind the user's back
    assert ctl.settings.embed_model == str(starter_model_dir)
    assert settings_mod.load(settings_path).embed_model == str(starter_model_dir)
    ctl.model_message.close()
    with qtbot.waitSignal(ctl.search_worker.results_ready, timeout=30000) as got:
        qtbot.keyClicks(ctl.window.search_field, "lighthouse ships")
    hits = got.args[1]
    assert hits and hits[0].name == "lighthouse.md"
    ctl.quit()
    qtbot.waitUntil(lambda: ctl.indexing is None or not ctl.indexing.running, timeout=10000)


def test_without_consent_the_window_names_what_to_download(
    qtbot: QtBot, tmp_path: Path, unreachable_hub: str, e5_starter_dir: Path
) -> None:
    starter_model_dir = e5_starter_dir  # the default starter: the multilingual one
    start = Settings(embed_model=QWEN, rerank_enabled=False, first_run_done=True)
    ctl = AppController(
        start,
        *build_services(start),
        settings_path=tmp_path / "s.json",
        factory=build_services,
        downloader=ModelDownloader(),
    )
    qtbot.addWidget(ctl.window)
    assert ctl.downloader is not None
    with qtbot.waitSignal(ctl.downloader.models_failed, timeout=30000) as failed:
        ctl.start()
    assert "is not in the Hugging Face cache" in str(failed.args[0])
    assert ctl.settings.embed_model == str(starter_model_dir)
    ctl.quit()


def test_download_progress_shows_in_the_status_bar(qtbot: QtBot, tmp_path: Path) -> None:
    start = Settings(first_run_done=True, rerank_enabled=False, folders=[])
    ctl = AppController(
        start,
        *build_services(start),
        settings_path=tmp_path / "s.json",
        downloader=ModelDownloader(),
    )
    qtbot.addWidget(ctl.window)
    assert ctl.downloader is not None
    ctl.downloader.download_progress.emit(QWEN, 420_000_000, 1_200_000_000)
    status = ctl.window.status.currentMessage()
    assert status == "Downloading Qwen3-Embedding-0.6B… 35% of 1.2 GB"
    with qtbot.waitSignal(ctl.search_worker.search_failed, timeout=5000) as paused:
        qtbot.keyClicks(ctl.window.search_field, "x")
    assert "Downloading" in paused.args[1]
    ctl.quit()


def test_quitting_cancels_the_download(qtbot: QtBot, unreachable_hub: str) -> None:
    downloader = ModelDownloader()
    with qtbot.assertNotEmitted(downloader.models_failed, wait=500):
        downloader.start(Settings(embed_model=QWEN, allow_download=True))
        downloader.shutdown(wait_s=5)
    assert not downloader.running


def test_describe_size() -> None:
    assert describe_size(420_000_000, 1_200_000_000) == "35% of 1.2 GB"
    assert describe_size(5_000_000, 0) == "5 MB"
    assert describe_size(2, 1) == "100% of 0 kB"


def test_welcome_button_gives_consent_to_download(qtbot: QtBot) -> None:
    qwen = ModelChoice("Qwen3", QWEN, "transformers", 1200, "", recommended=True)
    starter = ModelChoice("Starter", "/starter", "numpy", 0, "")
    dialog = WelcomeDialog(Settings(), [qwen, starter])
    qtbot.addWidget(dialog)
    dialog.add_folder("/home/me/Documents")
    assert dialog.start_button.text() == "Download and start indexing"
    assert "about 1.2 GB, once" in dialog.download.text()
    assert dialog.result_settings().allow_download is True
    dialog.group.button(1).setChecked(True)
    assert dialog.start_button.text() == "Start indexing"
    assert dialog.result_settings().allow_download is False


@pytest.mark.parametrize("agree", [True, False])
def test_settings_dialog_asks_before_downloading(
    qtbot: QtBot, unreachable_hub: str, monkeypatch: pytest.MonkeyPatch, agree: bool
) -> None:
    asked: list[str] = []

    def question(parent: object, title: str, text: str) -> QMessageBox.StandardButton:
        asked.append(text)
        yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
        return yes if agree else no

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.model.setCurrentText(QWEN)
    assert dialog.models_to_download() == [QWEN]
    dialog.accept()
    assert len(asked) == 1 and QWEN in asked[0] and "starter model" in asked[0]
    assert dialog.result() == (1 if agree else 0)
    assert dialog.result_settings().allow_download is agree


def test_settings_dialog_does_not_ask_with_consent_or_for_local_models(
    qtbot: QtBot, unreachable_hub: str, monkeypatch: pytest.MonkeyPatch, starter_model_dir: Path
) -> None:
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a: pytest.fail("asked")))
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.model.setCurrentText(str(starter_model_dir))
    assert dialog.models_to_download() == []
    dialog.model.setCurrentText(QWEN)
    dialog.allow_download.setChecked(True)
    dialog.accept()
    assert dialog.result_settings().allow_download is True
