"""The window's API server: off by default, switched on in Settings, sharing the window's models."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.search import SearchOptions
from app.serve.security import load_token
from app.settings import Settings
from app.ui.adapters import RealSearch
from app.ui.controller import AppController
from tests.gui.test_real_services import starter_index  # noqa: F401 (a fixture)

pytest.importorskip("uvicorn")


def _controller(qtbot: QtBot, settings: Settings, db: Path) -> tuple[AppController, RealSearch]:
    search = RealSearch(settings, db)
    ctl = AppController(settings, search)
    qtbot.addWidget(ctl.window)
    return ctl, search


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _save_in_settings_dialog(qtbot: QtBot, ctl: AppController, check: bool) -> None:
    """Open Settings, set the API box on the General tab by clicking it, click Save."""
    dialog = ctl.open_settings()
    dialog.tabs.setCurrentIndex(dialog.tabs.count() - 1)
    box = dialog.api_server
    qtbot.waitUntil(box.isVisible)
    if box.isChecked() != check:
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert box.isChecked() == check
    save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)


def test_off_by_default(qtbot: QtBot, starter_index: tuple[Settings, Path]) -> None:  # noqa: F811
    settings, db = starter_index
    port = _free_port()
    ctl, _ = _controller(qtbot, replace(settings, api_port=port), db)
    ctl.start()
    assert not Settings().api_server and ctl.api is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/status", timeout=5)
    ctl.quit()


def test_switched_on_it_answers_with_the_windows_model_and_stops_when_off(
    qtbot: QtBot,
    starter_index: tuple[Settings, Path],  # noqa: F811
) -> None:
    settings, db = starter_index
    ctl, search = _controller(qtbot, replace(settings, api_port=_free_port()), db)
    ctl.start()
    _save_in_settings_dialog(qtbot, ctl, check=True)
    assert ctl.api is not None and ctl.api.url is not None
    url = ctl.api.url
    assert url in ctl.window.status.currentMessage()
    token = {"Authorization": f"Bearer {load_token()}"}
    answer = httpx.post(url + "/search", json={"query": "lighthouse keeper"}, headers=token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["path"].endswith("lighthouse.md")
    assert httpx.get(url + "/status").status_code == 401  # the token is required here too
    running = ctl.api.running
    assert running is not None and running.api.models()[0] is search.service().embedder
    _save_in_settings_dialog(qtbot, ctl, check=False)
    assert ctl.api.url is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/status", headers=token, timeout=5)
    ctl.quit()


def test_a_taken_port_is_reported_and_search_goes_on(
    qtbot: QtBot,
    starter_index: tuple[Settings, Path],  # noqa: F811
) -> None:
    settings, db = starter_index
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        ctl, search = _controller(qtbot, replace(settings, api_server=True, api_port=port), db)
        ctl.start()
    assert ctl.api_message is not None and ctl.api_message.isVisible()
    assert "could not start" in ctl.api_message.text() and str(port) in ctl.api_message.text()
    assert ctl.api is not None and ctl.api.url is None
    assert search.search("lighthouse", SearchOptions())[0].path.endswith("lighthouse.md")
    ctl.quit()
