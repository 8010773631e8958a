"""The window on real stores with the real starter model and tiny Qwen3 models (no fakes)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.indexer import IndexerConfig
from app.phases import Progress
from app.pipeline import Pipeline
from app.settings import Settings
from app.ui.adapters import RealIndexing, RealSearch
from app.ui.controller import AppController
from app.ui.main_window import MainWindow
from app.ui.protocols import ResultRow
from app.ui.workers import SearchWorker
from app.watcher import normalise
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from storage.errors import StorageError
from storage.store import Store
from tests.gui.fakes import RecordingOpener

Factory = Callable[[Settings], tuple[RealSearch, RealIndexing]]

DOCS = {
    "lighthouse.md": "# Coast\n\nThe lighthouse keeper logs every passing ship at night.",
    "recipes/bread.txt": "Knead the dough, let the bread rise for an hour, then bake it.",
    "notes/garden.md": "# Garden\n\nTomatoes need sun; water the garden early in the morning.",
    "notes/taxes.txt": "File the tax return before April; keep receipts for deductions.",
}


def write_corpus(root: Path) -> Path:
    for name, text in DOCS.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "blob.txt").write_bytes(b"\x00\x01\x02binary\x00" * 200)
    return root


def corpus_settings(folder: Path, model: Path) -> Settings:
    return Settings(
        folders=[str(folder)], embed_model=str(model), rerank_enabled=False, first_run_done=True
    )


def build_index(folder: Path, db: Path, model: Path) -> Settings:
    settings = corpus_settings(folder, model)
    embedder = load_embedder(EmbedderConfig(model=str(model)))
    pipeline = Pipeline(db, embedder, settings, config=IndexerConfig(workers=1, sandbox=False))
    try:
        pipeline.index_once()
    finally:
        pipeline.stop()
        embedder.close()
    return settings


def _settled(p: Progress) -> bool:
    """Both phases done: every file searchable by keyword and by meaning."""
    return p.state == "idle" and 0 < p.keyword_files == p.meaning_files and p.embedding == "idle"


def index_in_window(
    qtbot: QtBot,
    settings: Settings,
    db: Path,
    factory: Factory | None = None,
    settings_path: Path | None = None,
) -> tuple[AppController, list[Progress]]:
    """A controller on real services after one indexing run to idle, and the progress it saw."""
    ctl = AppController(
        settings,
        RealSearch(settings, db),
        RealIndexing(settings, db, sandbox=False),
        factory=factory,
        settings_path=settings_path,
    )
    qtbot.addWidget(ctl.window)
    seen: list[Progress] = []
    assert ctl.indexing is not None
    ctl.indexing.progress_changed.connect(seen.append)
    ctl.start_indexing()
    qtbot.waitUntil(lambda: any(_settled(p) for p in seen), timeout=60000)
    return ctl, seen


@pytest.fixture
def starter_index(tmp_path: Path, starter_model_dir: Path) -> tuple[Settings, Path]:
    db = tmp_path / "index.sqlite3"
    return build_index(write_corpus(tmp_path / "docs"), db, starter_model_dir), db


@contextmanager
def real_window(qtbot: QtBot, backend: RealSearch) -> Iterator[MainWindow]:
    worker = SearchWorker(backend)
    window = MainWindow(worker, opener=RecordingOpener(), debounce_ms=20)
    qtbot.addWidget(window)
    window.resize(1100, 640)
    window.show()
    yield window
    worker.shutdown()
    backend.close()


def test_typing_shows_real_results_and_screenshot(
    qtbot: QtBot, starter_index: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, db = starter_index
    with real_window(qtbot, RealSearch(settings, db)) as window:
        window.apply_settings(settings)
        with qtbot.waitSignal(window.worker.results_ready, timeout=30000):
            qtbot.keyClicks(window.search_field, "lighthouse ship")
        qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=5000)
        top = window.model.hits()[0]
        assert top.name == "lighthouse.md"
        assert any(top.snippet[s:e].lower() == "lighthouse" for s, e in top.spans)
        qtbot.waitUntil(lambda: "lighthouse" in window.preview.text.toPlainText(), timeout=5000)
        # The screenshot goes where QUARRY_TEST_ARTIFACTS says (CI keeps it), never into
        # the repository.
        artifacts = Path(os.environ.get("QUARRY_TEST_ARTIFACTS") or tmp_path)
        artifacts.mkdir(parents=True, exist_ok=True)
        assert window.grab().save(str(artifacts / "main_window.png"))


def test_real_indexing_reports_progress_and_problems(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path
) -> None:
    folder = write_corpus(tmp_path / "docs")
    db = tmp_path / "index.sqlite3"
    settings = corpus_settings(folder, starter_model_dir)
    ctl, seen = index_in_window(qtbot, settings, db)
    assert any(p.state == "running" for p in seen)
    dialog = ctl.show_problems()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=5000)
    assert dialog.paths()[0].endswith("blob.txt")
    with qtbot.waitSignal(ctl.search_worker.results_ready, timeout=30000) as got:
        qtbot.keyClicks(ctl.window.search_field, "bread dough")
    assert got.args[1][0].name == "bread.txt"
    ctl.quit()


@pytest.mark.torch
def test_rerank_reorders_real_results(
    qtbot: QtBot, tmp_path: Path, tiny_embedding_dir: Path, tiny_reranker_dir: Path
) -> None:
    db = tmp_path / "index.sqlite3"
    settings = build_index(write_corpus(tmp_path / "docs"), db, tiny_embedding_dir)
    settings = replace(settings, rerank_enabled=True, rerank_model=str(tiny_reranker_dir))
    with real_window(qtbot, RealSearch(settings, db)) as window:
        updates: list[list[ResultRow]] = []
        window.worker.rerank_updated.connect(lambda _r, hits: updates.append(hits))
        with qtbot.waitSignal(window.worker.rerank_finished, timeout=60000):
            qtbot.keyClicks(window.search_field, "garden tomatoes bread")
        assert updates, "the reranker published no improved order"
        qtbot.waitUntil(lambda: not window.model.animating, timeout=5000)
        final = updates[-1]
        assert [h.key for h in window.model.hits()] == [h.key for h in final]
        reranked = [h.scores["rerank"] for h in final if "rerank" in h.scores]
        assert reranked == sorted(reranked, reverse=True)


@pytest.mark.torch
def test_dimension_change_rebuilds_while_search_answers(
    qtbot: QtBot, tmp_path: Path, tiny_embedding_dir: Path
) -> None:
    db = tmp_path / "index.sqlite3"
    settings = build_index(write_corpus(tmp_path / "docs"), db, tiny_embedding_dir)

    def factory(s: Settings) -> tuple[RealSearch, RealIndexing]:
        return RealSearch(s, db), RealIndexing(s, db, sandbox=False)

    search, indexing = factory(settings)
    ctl = AppController(settings, search, indexing, factory=factory)
    qtbot.addWidget(ctl.window)
    assert ctl.indexing is not None
    with qtbot.waitSignal(ctl.indexing.rebuild_finished, timeout=60000):
        ctl.apply_settings(replace(settings, dimension=32))
        assert ctl.indexing.rebuilding
        with qtbot.waitSignal(ctl.search_worker.results_ready, timeout=30000) as during:
            qtbot.keyClicks(ctl.window.search_field, "garden")
    assert during.args[1], "search must answer on the old index during the rebuild"
    ctl.window.search_field.clear()
    with qtbot.waitSignal(ctl.search_worker.results_ready, timeout=30000) as after:
        qtbot.keyClicks(ctl.window.search_field, "garden")
    assert after.args[1], "search must answer on the new 32-d index"
    backend = ctl.search_worker.backend
    assert isinstance(backend, RealSearch) and backend.service().embedder is not None
    assert backend.service().embedder.dim == 32
    ctl.quit()
    # The run started after the swap is a daemon thread: let it end before Qt objects go.
    qtbot.waitUntil(lambda: ctl.indexing is None or not ctl.indexing.running, timeout=10000)


@pytest.mark.torch
def test_interrupted_rebuild_resumes_at_next_start(
    qtbot: QtBot, tmp_path: Path, tiny_embedding_dir: Path
) -> None:
    from app.fingerprint import rebuild_fingerprint
    from app.rebuild import run_rebuild

    db = tmp_path / "index.sqlite3"
    settings = replace(build_index(write_corpus(tmp_path / "docs"), db, tiny_embedding_dir),
                       dimension=32)  # fmt: skip
    half = load_embedder(EmbedderConfig(model=str(tiny_embedding_dir), dim=32))
    try:
        with Store.open(db) as store:  # the app quit after one batch of a 64 -> 32 rebuild
            fingerprint = rebuild_fingerprint(half, settings)
            calls: list[int] = []
            stopped = run_rebuild(
                store, half, fingerprint, on_progress=lambda p: calls.append(p.done),
                cancelled=lambda: bool(calls), batch=1,
            )  # fmt: skip
            assert not stopped and store.rebuilding() is not None
    finally:
        half.close()
    ctl, seen = index_in_window(qtbot, settings, db)
    assert any(p.state == "rebuilding" for p in seen)
    with Store.open(db, readonly=True) as store:
        active = store.fingerprint()
        assert store.rebuilding() is None and active is not None and active.dim == 32
    with qtbot.waitSignal(ctl.search_worker.results_ready, timeout=30000) as got:
        qtbot.keyClicks(ctl.window.search_field, "garden")
    assert got.args[1], "search answers on the finished 32-d index"
    ctl.quit()
    qtbot.waitUntil(lambda: ctl.indexing is None or not ctl.indexing.running, timeout=10000)


class WriterWatch:
    """Write connections and model loads made while armed, with the thread that made them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import app.loaders
        from storage.store import Store

        self.armed = False
        self.writers: list[str] = []
        self.loads: list[tuple[str, int]] = []  # (thread, settings.dimension)
        self.live: set[int] = set()  # write connections open now, armed or not
        self.most_live = 0
        lock = threading.Lock()
        real_open = Store.open.__func__  # type: ignore[attr-defined]
        real_close = Store.close
        real_load = app.loaders.make_embedder

        def counting_open(cls: type[Store], path: Path, readonly: bool = False) -> Store:
            if self.armed and not readonly:
                self.writers.append(threading.current_thread().name)
            store: Store = real_open(cls, path, readonly=readonly)
            if not readonly:
                with lock:
                    self.live.add(id(store))
                    self.most_live = max(self.most_live, len(self.live))
            return store

        def counting_close(store: Store) -> None:
            with lock:
                self.live.discard(id(store))
            real_close(store)

        def counting_load(settings: Settings, *args: Any, **kwargs: Any) -> Any:
            if self.armed:
                self.loads.append((threading.current_thread().name, settings.dimension))
            return real_load(settings, *args, **kwargs)

        monkeypatch.setattr(Store, "open", classmethod(counting_open))
        monkeypatch.setattr(Store, "close", counting_close)
        monkeypatch.setattr(app.loaders, "make_embedder", counting_load)


@pytest.mark.torch
def test_rebuild_while_indexing_uses_the_running_writer_and_its_model(
    qtbot: QtBot, tmp_path: Path, tiny_embedding_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "index.sqlite3"
    settings = build_index(write_corpus(tmp_path / "docs"), db, tiny_embedding_dir)
    watch = WriterWatch(monkeypatch)  # before the first run: its writer counts as live
    during: list[tuple[list[str], list[tuple[str, int]]]] = []

    def factory(s: Settings) -> tuple[RealSearch, RealIndexing]:
        during.append((list(watch.writers), list(watch.loads)))  # called once swapped
        return RealSearch(s, db), RealIndexing(s, db, sandbox=False)

    ctl, _ = index_in_window(qtbot, settings, db, factory)
    assert ctl.indexing is not None and ctl.indexing.running
    watch.armed = True
    with qtbot.waitSignal(ctl.indexing.rebuild_finished, timeout=60000):
        ctl.apply_settings(replace(settings, dimension=32))
        with qtbot.waitSignal(ctl.search_worker.results_ready, timeout=30000) as got:
            qtbot.keyClicks(ctl.window.search_field, "garden")
    assert got.args[1], "search must answer on the old index during the rebuild"
    writers, loads = during[0]
    assert writers == [], "the rebuild opened a second write connection"
    assert [dim for _, dim in loads if dim == 32] == [], "the rebuild loaded a second model"
    with Store.open(db, readonly=True) as store:
        active = store.fingerprint()
        assert store.rebuilding() is None and active is not None and active.dim == 32
    # The run restarted at 32 after the swap opened its writer once the old one had closed.
    qtbot.waitUntil(lambda: len(watch.writers) == 1, timeout=30000)
    ctl.quit()
    qtbot.waitUntil(lambda: ctl.indexing is None or not ctl.indexing.running, timeout=10000)
    assert watch.most_live == 1, "two write connections were open at once"


def test_retry_in_the_window_indexes_a_fixed_file_through_the_running_writer(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "index.sqlite3"
    folder = write_corpus(tmp_path / "docs")
    settings = build_index(folder, db, starter_model_dir)
    blob = folder / "blob.txt"
    stamp = blob.stat()  # fixed behind the index's back: same size and time, so no rescan
    blob.write_bytes((b"Owls hunt voles in the orchard after dusk. " * 60)[: stamp.st_size])
    os.utime(blob, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    ctl, _ = index_in_window(qtbot, settings, db)
    dialog = ctl.show_problems()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=5000)
    watch = WriterWatch(monkeypatch)
    watch.armed = True
    dialog.retry_button.click()

    def indexed() -> bool:
        with Store.open(db, readonly=True) as store:
            record = store.get_file(normalise(blob))
            return record is not None and record.status == "ok"

    qtbot.waitUntil(indexed, timeout=30000)
    ctl.show_problems()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 0, timeout=5000)
    assert watch.writers == [], "the retry opened a second write connection"
    with qtbot.waitSignal(ctl.search_worker.results_ready, timeout=30000) as got:
        qtbot.keyClicks(ctl.window.search_field, "owls voles orchard")
    assert got.args[1][0].name == "blob.txt"
    ctl.quit()
    qtbot.waitUntil(lambda: ctl.indexing is None or not ctl.indexing.running, timeout=10000)


def test_a_second_run_on_the_index_waits_for_the_first_writer(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a model change the window starts a new run while the old one winds down: the
    new one opens its writer only once the old one has closed its own."""
    db = tmp_path / "index.sqlite3"
    settings = build_index(write_corpus(tmp_path / "docs"), db, starter_model_dir)
    watch = WriterWatch(monkeypatch)
    old, new = (RealIndexing(settings, db, sandbox=False) for _ in range(2))
    runs = [threading.Thread(target=r.run, args=(lambda p: None,), daemon=True) for r in (old, new)]
    runs[0].start()
    qtbot.waitUntil(lambda: old.pipeline is not None, timeout=30000)
    runs[1].start()
    qtbot.wait(1500)  # time enough to load the model and open a writer, were it not waiting
    assert new.pipeline is None and watch.most_live == 1
    old.cancel()
    qtbot.waitUntil(lambda: new.pipeline is not None, timeout=30000)
    new.cancel()
    for run in runs:
        run.join(10)
    assert watch.most_live == 1


def test_a_folder_added_in_settings_is_indexed_without_a_restart(
    qtbot: QtBot, tmp_path: Path, starter_model_dir: Path
) -> None:
    """The running pipeline keeps the folders it started with: saving Settings with another
    folder must start a fresh run over both (before, it waited for the next start)."""
    db = tmp_path / "index.sqlite3"
    settings = corpus_settings(write_corpus(tmp_path / "docs"), starter_model_dir)

    def factory(s: Settings) -> tuple[RealSearch, RealIndexing]:
        return RealSearch(s, db), RealIndexing(s, db, sandbox=False)

    ctl = AppController(settings, *factory(settings), factory=factory)
    qtbot.addWidget(ctl.window)
    assert ctl.indexing is not None
    ctl.start_indexing()
    qtbot.waitUntil(lambda: db.exists(), timeout=30000)
    more = tmp_path / "more"
    more.mkdir()
    (more / "volcano.md").write_text("Basalt lava flows from the volcano's vent.", "utf-8")
    ctl.apply_settings(replace(settings, folders=[*settings.folders, str(more)]))

    def found() -> bool:
        try:
            with Store.open(db, readonly=True) as store:
                record = store.get_file(str((more / "volcano.md").resolve()))
        except StorageError:  # the first run has not created the index yet
            return False
        return record is not None and record.status == "ok"

    qtbot.waitUntil(found, timeout=60000)
    ctl.quit()
    qtbot.waitUntil(lambda: ctl.indexing is None or not ctl.indexing.running, timeout=10000)
