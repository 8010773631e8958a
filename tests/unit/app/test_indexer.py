"""Indexer + Pipeline on real files, a real SQLite store and the real starter model."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from app.indexer import IndexerConfig, Progress
from app.pipeline import Pipeline
from app.settings import Settings
from app.watcher import Change, normalise
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from engine.protocols import Embedder
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


def test_pause_resume_cancel(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(30):
        (folder / f"f{i}.txt").write_text(f"Document number {i} about topic {i % 5}. " * 20)
    with _pipeline(tmp_path, embedder, folder) as pipe:
        pipe.pause()
        pipe.start(watch=False)
        assert not pipe.wait(0.5)
        assert sum(1 for r in pipe.store.files() if r.status == "ok") == 0
        pipe.resume()
        pipe.cancel()
        assert pipe.wait(30)
        done = sum(1 for r in pipe.store.files() if r.status == "ok")
        assert done < 30
        summary = pipe.index_once()  # restart resumes the persisted queue
        assert summary.ok == 30 - done
        assert sum(1 for r in pipe.store.files() if r.status == "ok") == 30


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
def test_watch_retries_failures_with_backoff_up_to_the_limit(
    tmp_path: Path, embedder: Embedder, fails: int
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Owls hunt at night. " * 10)
    path = normalise(folder / "a.txt")
    flaky = cast(Embedder, FlakyEmbedder(embedder, fails))
    with _pipeline(tmp_path, flaky, folder, retry_backoff_s=0.2) as pipe:
        pipe.start(watch=True)
        if fails < pipe.config.max_attempts:  # fails twice, the third attempt succeeds
            assert _until(lambda: getattr(pipe.store.get_file(path), "status", "") == "ok")
        else:  # gives up after max_attempts failures; the next start's reconcile decides
            attempts = pipe.config.max_attempts

            def gave_up() -> bool:
                record = pipe.store.get_file(path)
                return record is not None and record.retries == attempts

            assert _until(gave_up)
            time.sleep(1.0)  # backoff 0.2, 0.4: a further retry would have come by now
            record = pipe.store.get_file(path)
            assert record is not None and record.status == "failed"
            assert record.retries == attempts and pipe.store.job_counts().get("queued", 0) == 0
