"""Indexer + Pipeline on real files, a real SQLite store and the real starter model."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from app.embedding import EmbedConfig
from app.indexer import IndexerConfig, Progress
from app.pipeline import Pipeline
from app.settings import Settings
from app.watcher import Change, normalise
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from engine.protocols import Embedder
from storage.models import Backlog
from storage.store import Store
from tests.integration import corpus


@pytest.fixture(scope="module")
def embedder(starter_model_dir: Path) -> Embedder:
    return load_embedder(EmbedderConfig(model=str(starter_model_dir)))


def _pipeline(tmp_path: Path, embedder: Embedder, folder: Path, **kw: object) -> Pipeline:
    settings = Settings(folders=[str(folder)], max_file_mb=0.05, chunk_tokens=64, chunk_overlap=8)
    config = IndexerConfig(workers=1, extract_timeout_s=60, **kw)  # type: ignore[arg-type]
    return Pipeline(tmp_path / "index.sqlite3", embedder, settings, config=config)


def test_good_and_bad_corpus(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    good = corpus.write_good_corpus(folder)
    bad = corpus.write_bad_corpus(folder / "bad", huge_bytes=60_000)
    events: list[Progress] = []
    with _pipeline(tmp_path, embedder, folder) as pipe:
        pipe.indexer._on_progress = events.append
        summary = pipe.index_once()
        records = {r.path: r for r in pipe.store.files()}
        for path in good:
            record = records[normalise(path)]
            assert record.status == "ok", (path, record.error)
            assert pipe.store.chunks(normalise(path))
        for name, path in bad.items():
            record = records.get(normalise(path))
            if name == "loop_a":  # the walk never lists a link loop as a file
                assert record is None or record.status in ("skipped", "failed")
                continue
            assert record is not None and record.status in ("skipped", "failed"), name
            assert record.error, name
        assert summary.ok == len(good) and summary.failed + summary.skipped >= len(bad) - 2
        assert events[-1].state == "done" and events[-1].files_done >= len(good)
        integrity = pipe.store.integrity_check()
        assert integrity == []


def test_rerun_is_free_and_moves_copies_reuse_vectors(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Owls hunt at night. " * 40)
    (folder / "b.md").write_text("# Title\n\nGardening in spring.\n")
    with _pipeline(tmp_path, embedder, folder) as pipe:
        first = pipe.index_once()
        assert first.ok == 2 and first.embedded > 0
        again = pipe.index_once()
        assert again.ok == 0 and again.embedded == 0
        shutil.copy(folder / "a.txt", folder / "copy.txt")
        (folder / "b.md").rename(folder / "renamed.md")
        pipe.indexer.submit([Change("move", normalise(folder / "renamed.md"),
                                    normalise(folder / "b.md"))])  # fmt: skip
        third = pipe.index_once()
        assert third.embedded == 0, "copy and rename must reuse vectors"
        paths = {r.path for r in pipe.store.files()}
        assert normalise(folder / "copy.txt") in paths and normalise(folder / "b.md") not in paths
        assert pipe.store.chunks(normalise(folder / "renamed.md"))
        (folder / "a.txt").unlink()
        pipe.index_once()
        assert normalise(folder / "a.txt") not in {r.path for r in pipe.store.files()}


def test_pause_stops_only_embedding_and_cancel_resumes(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(30):
        (folder / f"f{i}.txt").write_text(f"Document number {i} about topic {i % 5}. " * 20)
    with _pipeline(tmp_path, embedder, folder) as pipe:
        pipe.pause()
        pipe.start(watch=False)
        assert pipe.wait(60), "a one-shot run ends after phase 1 while embedding is paused"
        assert pipe.summary is not None and pipe.summary.ok == 30
        assert pipe.summary.embedded == 0 and pipe.summary.waiting == 30
        assert pipe.store.searchable() == (30, 0)
        assert pipe.store.keyword_search("topic", 50), "keyword search needs no vectors"
        pipe.resume()
        pipe.start(watch=True)
        with Store.open(pipe.store.path, readonly=True) as reader:  # the test's own connection
            assert _until(lambda: reader.backlog().chunks < 30)  # some vectors committed
        pipe.cancel()
        assert pipe.wait(30)
        waiting = pipe.store.backlog()
        summary = pipe.index_once()  # the next run resumes the persisted backlog
        assert summary.ok == 0 and summary.embedded == waiting.chunks
        assert pipe.store.searchable() == (30, 30) and pipe.store.backlog() == Backlog()


class FlakyEmbedder:
    """The real embedder, except that its first ``fails`` document batches raise."""

    def __init__(self, inner: Embedder, fails: int) -> None:
        self.inner = inner
        self.fails = fails

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def embed_documents(self, texts: list[str]) -> object:
        if self.fails > 0:
            self.fails -= 1
            raise RuntimeError("the model fell over")
        return self.inner.embed_documents(texts)


def _until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("fails", [2, 5])
def test_watch_retries_embedding_with_backoff_up_to_the_limit(
    tmp_path: Path, embedder: Embedder, fails: int
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Owls hunt at night. " * 10)
    path = normalise(folder / "a.txt")
    flaky = cast(Embedder, FlakyEmbedder(embedder, fails))
    config = EmbedConfig(backoff_s=0.2)
    with _pipeline(tmp_path, flaky, folder, embed=config) as pipe:
        pipe.start(watch=True)
        reader = (
            Store.open(pipe.store.path, readonly=True) if _until(pipe.store.path.exists) else None
        )
        assert reader is not None
        assert _until(lambda: getattr(reader.get_file(path), "status", "") == "ok")
        assert reader.keyword_search("owls", 5), "keyword search never waits for the model"
        attempts = config.max_attempts
        if fails < attempts:  # fails twice, the third attempt succeeds
            assert _until(lambda: reader.searchable() == (1, 1))
        else:  # gives up after max_attempts failures: keyword-only, listed as a problem

            def gave_up() -> bool:
                return any(p.path == path for p in reader.stats().problems)

            assert _until(gave_up)
            time.sleep(1.0)  # backoff 0.2, 0.4, 0.8: a further attempt would have come by now
            problem = next(p for p in reader.stats().problems if p.path == path)
            assert problem.retries == attempts and "keyword only" in (problem.error or "")
            assert reader.searchable() == (1, 0)
            assert cast(FlakyEmbedder, flaky).fails == fails - attempts
        reader.close()
