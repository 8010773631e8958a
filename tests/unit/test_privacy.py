"""Privacy and safety promises: user-only files, no pickled weights, no network without asking."""

from __future__ import annotations

import json
import os
import pickle
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import paths, settings
from app.cli import main
from engine.config import EmbedderConfig
from engine.errors import ModelLoadError
from engine.factory import load_embedder
from storage.store import Store

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets anyone read new files: our modes must not depend on the user's."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@posix_only
def test_database_and_wal_files_are_user_only(open_umask: None) -> None:
    db = paths.database_path()
    with Store.open(db):
        files = [db, *(db.with_name(db.name + s) for s in ("-wal", "-shm"))]
        present = [f for f in files if f.exists()]
        assert db in present
        assert {f.name: _mode(f) for f in present} == {f.name: 0o600 for f in present}
    assert _mode(db.parent) == 0o700


@posix_only
def test_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    with Store.open(db):
        pass
    db.chmod(0o644)
    with Store.open(db):
        assert _mode(db) == 0o600


@posix_only
def test_settings_file_is_user_only(open_umask: None) -> None:
    settings.save(settings.Settings(folders=["/home/me/secret-project"]))
    target = paths.settings_path()
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700


class _Boobytrap:
    """Unpickling this writes a marker file: proof that a pickle was (not) loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (self.marker.write_text, ("pickle was loaded",))


def _pickle_only_model(folder: Path, weights_name: str, marker: Path) -> Path:
    folder.mkdir()
    config = {"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / weights_name).write_bytes(pickle.dumps(_Boobytrap(marker)))
    return folder


@pytest.mark.parametrize("backend", ["auto", "numpy", "transformers"])
def test_model_folder_with_only_pickle_weights_is_refused(tmp_path: Path, backend: str) -> None:
    marker = tmp_path / "pwned"
    folder = _pickle_only_model(tmp_path / "bert-bin", "pytorch_model.bin", marker)
    with pytest.raises(ModelLoadError) as info:
        load_embedder(EmbedderConfig(model=str(folder), backend=backend))
    message = str(info.value)
    assert "pytorch_model.bin" in message
    assert "safetensors" in message and "GGUF" in message and "pickle" in message
    assert not marker.exists()


def test_a_pickle_file_given_as_the_model_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    weights = tmp_path / "model.pt"
    weights.write_bytes(pickle.dumps(_Boobytrap(marker)))
    with pytest.raises(ModelLoadError, match="only safetensors or GGUF"):
        load_embedder(EmbedderConfig(model=str(weights)))
    assert not marker.exists()


class NetworkUsed(AssertionError):
    """Raised by the guarded socket functions."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection or resolve a name fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkUsed(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_the_guard_catches_connections(no_network: None) -> None:
    with pytest.raises(NetworkUsed):
        socket.create_connection(("127.0.0.1", 9))
    with socket.socket() as sock, pytest.raises(NetworkUsed):
        sock.connect(("127.0.0.1", 9))


def test_index_and_search_with_the_starter_model_never_touch_the_network(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    starter_model_dir: Path,
    no_network: None,
) -> None:
    # An empty HF cache, and the HF libraries *not* told to stay offline: Quarry must do it.
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.txt").write_text(
        "Ocean tides come from the Moon's gravity pulling on the sea.", encoding="utf-8"
    )
    (docs / "bread.md").write_text(
        "# Sourdough\n\nFeed the starter, knead the dough and bake the loaf.", encoding="utf-8"
    )

    assert main(["index", str(docs), "--json"]) == 0
    capsys.readouterr()
    assert main(["search", "what makes the ocean tides", "--json", "--no-rerank"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert Path(results[0]["path"]).name == "tides.txt"
