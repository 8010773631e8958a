"""Watcher -> pipeline -> store -> search on real folders with real models.

Each change on disk (create, edit, delete, rename, move between watched folders, atomic
save by rename) must become visible to a search within a few seconds: to keyword search
first (phase 1), then to vector search (phase 2).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.indexer import IndexerConfig
from app.pipeline import Pipeline
from app.settings import Settings
from app.watcher import normalise
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from storage.store import Store

TIMEOUT_S = 20.0


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not visible within {TIMEOUT_S}s: {what}")


class Searcher:
    """Read-only searches, as the window does them, during indexing."""

    def __init__(self, db: Path, pipeline: Pipeline) -> None:
        self.db = db
        self.embedder = pipeline.indexer.embedder

    def keyword_paths(self, word: str) -> set[str]:
        with Store.open(self.db, readonly=True) as store:
            hits = store.keyword_search(word, 20)
            return {c.path for c in store.chunks_by_id(h.chunk_id for h in hits).values()}

    def vector_top(self, query: str) -> str | None:
        with Store.open(self.db, readonly=True) as store:
            hits = store.vector_search(self.embedder.embed_query(query), 1)
            found = store.chunks_by_id(h.chunk_id for h in hits)
            return next(iter(found.values())).path if found else None


@pytest.fixture(params=["starter", "tiny_qwen3"])
def model_dir(request: pytest.FixtureRequest) -> Path:
    name = "starter_model_dir" if request.param == "starter" else "tiny_embedding_dir"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def live(tmp_path: Path, model_dir: Path) -> Iterator[tuple[Path, Path, Searcher]]:
    a, b = tmp_path / "A", tmp_path / "B"
    a.mkdir()
    b.mkdir()
    (a / "seed.txt").write_text("The lighthouse keeper logs every passing ship.")
    embedder = load_embedder(EmbedderConfig(model=str(model_dir)))
    settings = Settings(folders=[str(a), str(b)], chunk_tokens=128, chunk_overlap=16)
    db = tmp_path / "index.sqlite3"
    pipeline = Pipeline(db, embedder, settings, config=IndexerConfig(workers=1))
    pipeline.start(watch=True)
    searcher = Searcher(db, pipeline)
    try:
        _until(lambda: bool(searcher.keyword_paths("lighthouse")), "initial scan")
        yield a, b, searcher
    finally:
        pipeline.stop()


def test_changes_become_searchable(live: tuple[Path, Path, Searcher]) -> None:
    a, b, search = live
    doc = a / "zebra.md"
    doc.write_text("# Savanna\n\nZebras graze near the quagmire at dawn.\n")
    _until(lambda: normalise(doc) in search.keyword_paths("quagmire"), "create")
    # phase 2 follows phase 1: the vectors arrive shortly after the keywords
    _until(lambda: search.vector_top("Zebras graze near the quagmire") == normalise(doc), "meaning")

    doc.write_text("# Savanna\n\nZebras now drink from the xylophone river.\n")
    _until(lambda: normalise(doc) in search.keyword_paths("xylophone"), "edit")
    _until(lambda: not search.keyword_paths("quagmire"), "edit drops old text")

    renamed = a / "stripes.md"
    doc.rename(renamed)
    _until(lambda: search.keyword_paths("xylophone") == {normalise(renamed)}, "rename")

    moved = b / "stripes.md"
    renamed.rename(moved)
    _until(lambda: search.keyword_paths("xylophone") == {normalise(moved)}, "move between folders")

    # editor-style atomic save: write a temp file, rename it over the target
    tmp = b / ".stripes.md.tmp"
    tmp.write_text("# Savanna\n\nZebras sleep standing beside the juniper.\n")
    os.replace(tmp, moved)
    _until(lambda: search.keyword_paths("juniper") == {normalise(moved)}, "atomic save")
    _until(lambda: not search.keyword_paths("xylophone"), "atomic save drops old text")

    moved.unlink()
    _until(lambda: not search.keyword_paths("juniper"), "delete")


def test_a_folder_of_many_files_moved_in_is_indexed(
    tmp_path: Path, starter_model_dir: Path
) -> None:
    """One move event for 200 files: the walk happens off the observer thread, and every
    file reaches the index."""
    watched, outside = tmp_path / "watched", tmp_path / "outside" / "archive"
    watched.mkdir()
    (watched / "seed.txt").write_text("The lighthouse keeper logs every passing ship.")
    for sub in range(4):
        (outside / f"year{sub}").mkdir(parents=True)
        for i in range(50):
            (outside / f"year{sub}" / f"memo{i}.txt").write_text(f"Memo {i} of year {sub}: quokka.")
    embedder = load_embedder(EmbedderConfig(model=str(starter_model_dir)))
    settings = Settings(folders=[str(watched)], chunk_tokens=128, chunk_overlap=16)
    db = tmp_path / "index.sqlite3"
    pipeline = Pipeline(db, embedder, settings, config=IndexerConfig(workers=1, sandbox=False))
    pipeline.start(watch=True)
    try:
        searcher = Searcher(db, pipeline)
        _until(lambda: bool(searcher.keyword_paths("lighthouse")), "initial scan")
        os.rename(outside, watched / "archive")

        def all_indexed() -> bool:
            with Store.open(db, readonly=True) as store:
                return len(store.files("ok", under=normalise(watched / "archive"))) == 200

        _until(all_indexed, "200 files moved in")
        assert len(searcher.keyword_paths("quokka")) == 20  # the keyword search's k
    finally:
        pipeline.stop()
        embedder.close()
