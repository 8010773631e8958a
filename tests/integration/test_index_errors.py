"""Errors that end or pause indexing reach whoever waits for it, never only the log.

Real pieces throughout: the starter model, real SQLite files, the installed ``quarry``
command. A full disk is a real SQLITE_FULL: the writer's connection is capped with
``PRAGMA max_page_count`` at the size the database has, as a disk with no room left would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.commands.index import progress_line
from app.indexer import IndexerConfig, Progress
from app.pipeline import Pipeline
from app.settings import Settings
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from engine.protocols import Embedder
from storage.errors import DiskFull, FingerprintMismatch
from storage.store import Store
from tests.fixtures.cli import quarry

BIG = " ".join(f"lighthouse{i} keeper{i} logbook{i}" for i in range(4000))


@pytest.fixture
def starter(starter_model_dir: Path) -> Iterator[Embedder]:
    embedder = load_embedder(EmbedderConfig(model=str(starter_model_dir)))
    yield embedder
    embedder.close()


def settings_for(folder: Path) -> Settings:
    return Settings(folders=[str(folder)], rerank_enabled=False, first_run_done=True)


def full_disk_pipeline(
    tmp_path: Path, embedder: Embedder, seen: list[Progress], retry_s: float = 0.2
) -> tuple[Pipeline, Path]:
    """A pipeline whose index already holds one file and has no room for the big one."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "small.txt").write_text("The harbour pilot guides ships at dawn.")
    store = Store.open(tmp_path / "index.sqlite3")
    config = IndexerConfig(workers=1, sandbox=False, disk_full_retry_s=retry_s)
    pipeline = Pipeline(store, embedder, settings_for(folder), on_progress=seen.append,
                        config=config)  # fmt: skip
    pipeline.index_once()
    big = folder / "big.txt"
    big.write_text(BIG)
    pipeline.reconcile()  # queued while there is room; writing it will not fit
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    return pipeline, big


def room_again(pipeline: Pipeline) -> None:
    pipeline.store.conn.execute("PRAGMA max_page_count = 1073741823")


@pytest.mark.slow
def test_full_disk_ends_a_run_with_disk_full_and_fails_no_file(
    tmp_path: Path, starter: Embedder
) -> None:
    seen: list[Progress] = []
    pipeline, big = full_disk_pipeline(tmp_path, starter, seen)
    try:
        with pytest.raises(DiskFull, match=r"^disk full"):
            pipeline.index_once()
        record = pipeline.store.get_file(str(big))
        assert record is None or record.status != "failed"
        assert pipeline.store.has_queued_jobs()  # still waiting, not given up
        last = seen[-1]
        assert last.embedding == "fault" and last.error.startswith("disk full")
        assert "Indexing paused: disk full" in progress_line(last)
        room_again(pipeline)
        summary = pipeline.index_once()
        assert summary.ok == 1 and summary.failed == 0
        done = pipeline.store.get_file(str(big))
        assert done is not None and done.status == "ok"
    finally:
        pipeline.stop()


def status_of(db: Path, path: Path) -> str | None:
    """A file's status read as the window reads it: on a connection of its own (the
    writer's connection belongs to the indexer thread while it runs)."""
    with Store.open(db, readonly=True) as reader:
        record = reader.get_file(str(path))
        return None if record is None else record.status


def test_full_disk_pauses_watching_and_resumes_when_there_is_room(
    tmp_path: Path, starter: Embedder
) -> None:
    seen: list[Progress] = []
    pipeline, big = full_disk_pipeline(tmp_path, starter, seen, retry_s=3.0)
    db = tmp_path / "index.sqlite3"
    try:
        pipeline.start(watch=True)
        deadline = time.monotonic() + 30
        while not any(p.embedding == "fault" for p in seen) and time.monotonic() < deadline:
            assert not pipeline.wait(0.05)  # paused, not ended
        # The indexer now sits out its 3 s pause without touching its connection: make room.
        room_again(pipeline)
        paused = next(p for p in seen if p.embedding == "fault")
        assert paused.error.startswith("disk full")
        assert status_of(db, big) != "failed"
        deadline = time.monotonic() + 30
        while status_of(db, big) != "ok" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status_of(db, big) == "ok"
        assert pipeline.failure is None
    finally:
        pipeline.stop()


def test_background_run_hands_its_error_to_the_waiter(
    tmp_path: Path, starter: Embedder, tiny_embedding_dir: Path
) -> None:
    """Index with model A, start again with model B: ``wait`` raises the mismatch."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("The harbour pilot guides ships at dawn.")
    db = tmp_path / "index.sqlite3"
    config = IndexerConfig(workers=1, sandbox=False)
    with Pipeline(db, starter, settings_for(folder), config=config) as first:
        first.index_once()
    other = load_embedder(EmbedderConfig(model=str(tiny_embedding_dir)))
    try:
        with Pipeline(db, other, settings_for(folder), config=config) as second:
            second.start(watch=True)
            with pytest.raises(FingerprintMismatch, match="built with"):
                second.wait(30)
            assert isinstance(second.failure, FingerprintMismatch)
    finally:
        other.close()


@pytest.mark.slow
def test_quarry_watch_exits_with_the_mismatch(
    tmp_path: Path, starter_model_dir: Path, tiny_embedding_dir: Path
) -> None:
    """The issue's case at the command line: ``quarry watch`` used to keep running silently."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("The harbour pilot guides ships at dawn.")
    db = str(tmp_path / "index.sqlite3")
    first = quarry("index", str(folder), "--db", db, "--model", str(starter_model_dir))
    assert first.returncode == 0, first.stderr
    watch = quarry("watch", str(folder), "--db", db, "--model", str(tiny_embedding_dir),
                   timeout=120)  # fmt: skip
    assert watch.returncode == 2, watch.stderr
    assert "indexing stopped" in watch.stderr and "built with" in watch.stderr


def test_a_bug_while_preparing_a_file_ends_the_run_instead_of_failing_the_file(
    tmp_path: Path, starter: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug is ours, not the file's: it reaches the caller and the file stays queued."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("The harbour pilot guides ships at dawn.")

    def planted(*args: object) -> None:
        raise ZeroDivisionError("planted bug")

    monkeypatch.setattr("app.prepare.Preparer._fill", planted)
    config = IndexerConfig(workers=1, sandbox=False)
    with Pipeline(tmp_path / "index.sqlite3", starter, settings_for(folder),
                  config=config) as pipeline:  # fmt: skip
        with pytest.raises(ZeroDivisionError, match="planted bug"):
            pipeline.index_once()
        assert pipeline.store.get_file(str(folder / "a.txt")) is None
        assert pipeline.store.has_queued_jobs()
