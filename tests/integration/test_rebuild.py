"""Dimension rebuild with the tiny Qwen3 model: same hashes as a fresh index, resume after a stop.

The rebuild re-embeds stored chunks with ``app.chunker.embedded_text``, the indexer's own rule,
so a rebuilt index keys its vectors exactly as a fresh index at the new dimension does and
later indexing reuses them. A stopped rebuild stays recorded in the store and the next
``Pipeline`` run finishes it; search answers from whichever index is active throughout.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.chunker import content_hash, embedded_text
from app.embedding import EmbedConfig
from app.fingerprint import rebuild_fingerprint
from app.indexer import IndexerConfig
from app.pipeline import Pipeline
from app.rebuild import RebuildProgress, run_rebuild
from app.settings import Settings
from app.watcher import normalise
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from engine.protocols import Embedder
from storage.store import Store

pytestmark = pytest.mark.torch

TOPICS = ["lighthouse", "bread", "garden", "taxes", "owls", "rivers", "trains", "violins"]


def write_corpus(folder: Path) -> Path:
    """Markdown with nested headings (so the heading prefix matters), several chunks each."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, topic in enumerate(TOPICS):
        parts = [f"# {topic.title()}\n"]
        for j in range(3):
            parts.append(f"## Part {j}\n")
            parts.append(f"The {topic} note {i}.{j} talks about {topic} at length. " * 6 + "\n")
        (folder / f"{topic}.md").write_text("\n".join(parts), encoding="utf-8")
    return folder


def settings_for(folder: Path, model: Path, dimension: int = 0) -> Settings:
    return Settings(
        folders=[str(folder)],
        embed_model=str(model),
        dimension=dimension,
        rerank_enabled=False,
        chunk_tokens=48,
        chunk_overlap=8,
    )


def embedder_at(model: Path, dimension: int) -> Embedder:
    return load_embedder(EmbedderConfig(model=str(model), dim=dimension or None))


def index(db: Path, settings: Settings, embedder: Embedder) -> None:
    with Pipeline(db, embedder, settings, config=IndexerConfig(workers=1, sandbox=False)) as pipe:
        pipe.index_once()


def hashes_by_path(db: Path) -> dict[str, list[str]]:
    with Store.open(db, readonly=True) as store:
        return {r.path: [c.content_hash for c in store.chunks(r.path)] for r in store.files("ok")}


def top_hashes(db: Path, embedder: Embedder, query: str, k: int = 5) -> list[str]:
    """Vector search as the window runs it: a read-only connection beside the writer."""
    with Store.open(db, readonly=True) as store:
        hits = store.vector_search(embedder.embed_query(query), k)
        chunks = store.chunks_by_id(h.chunk_id for h in hits)
        return [chunks[h.chunk_id].content_hash for h in hits]


@pytest.fixture(scope="module")
def full(tiny_embedding_dir: Path) -> Embedder:
    embedder = embedder_at(tiny_embedding_dir, 0)
    assert embedder.dim == 64
    return embedder


@pytest.fixture(scope="module")
def half(tiny_embedding_dir: Path) -> Embedder:
    embedder = embedder_at(tiny_embedding_dir, 32)
    assert embedder.dim == 32
    return embedder


def test_rebuilt_hashes_equal_fresh_index_and_are_reused(
    tmp_path: Path, tiny_embedding_dir: Path, full: Embedder, half: Embedder
) -> None:
    folder = write_corpus(tmp_path / "docs")
    rebuilt, fresh = tmp_path / "rebuilt.sqlite3", tmp_path / "fresh.sqlite3"
    index(rebuilt, settings_for(folder, tiny_embedding_dir), full)
    target = settings_for(folder, tiny_embedding_dir, 32)
    with Store.open(rebuilt) as store:
        assert run_rebuild(store, half, rebuild_fingerprint(half, target), batch=7)
        assert store.rebuilding() is None
        for record in store.files("ok"):
            for chunk in store.chunks(record.path):
                text = embedded_text(chunk.text, chunk.heading, True)
                assert content_hash(text) == chunk.content_hash
    index(fresh, target, half)

    assert hashes_by_path(rebuilt) == hashes_by_path(fresh)
    with Store.open(rebuilt, readonly=True) as a, Store.open(fresh, readonly=True) as b:
        fp_a, fp_b = a.fingerprint(), b.fingerprint()
        assert fp_a is not None and fp_b is not None and fp_a.key == fp_b.key
        every = {h for hs in hashes_by_path(fresh).values() for h in hs}
        assert a.missing_embeddings(every) == set()
    assert top_hashes(rebuilt, half, "garden part") == top_hashes(fresh, half, "garden part")

    # New bytes, same text: extracted and chunked again, and every vector is reused.
    (folder / "garden-copy.md").write_text((folder / "garden.md").read_text() + "\n\n")
    config = IndexerConfig(workers=1, sandbox=False)
    with Pipeline(rebuilt, half, target, config=config) as pipe:
        summary = pipe.index_once()
    assert summary.ok == 1 and summary.chunks > 0 and summary.embedded == 0


def test_stopped_rebuild_resumes_at_next_start(
    tmp_path: Path, tiny_embedding_dir: Path, full: Embedder, half: Embedder
) -> None:
    folder = write_corpus(tmp_path / "docs")
    db = tmp_path / "index.sqlite3"
    index(db, settings_for(folder, tiny_embedding_dir), full)
    total = sum(len(h) for h in hashes_by_path(db).values())
    target = settings_for(folder, tiny_embedding_dir, 32)
    fingerprint = rebuild_fingerprint(half, target)
    seen: list[RebuildProgress] = []

    def searching(progress: RebuildProgress) -> None:
        seen.append(progress)
        assert top_hashes(db, full, "lighthouse"), "search must answer during the rebuild"

    with Store.open(db) as store:
        finished = run_rebuild(
            store, half, fingerprint, on_progress=searching, cancelled=lambda: bool(seen), batch=5
        )
        assert not finished and len(seen) == 1 and seen[0].done == 5 < total
        building, active = store.rebuilding(), store.fingerprint()
        assert building is not None and building.key == fingerprint.key
        assert active is not None and active.dim == 64
    assert top_hashes(db, full, "lighthouse"), "the old index still answers after the stop"

    # Next start: a pipeline at the new dimension finishes the rebuild, then indexes.
    (folder / "zebra.md").write_text("# Savanna\n\nZebras graze near the quagmire at dawn.\n")
    resumed: list[RebuildProgress] = []

    def still_searching(progress: RebuildProgress) -> None:
        resumed.append(progress)
        assert top_hashes(db, full, "lighthouse"), "search must answer while resuming"

    config = IndexerConfig(workers=1, sandbox=False)
    with Pipeline(db, half, target, on_rebuild=still_searching, config=config) as pipe:
        summary = pipe.index_once()
        assert pipe.store.rebuilding() is None
        active = pipe.store.fingerprint()
        assert active is not None and active.key == fingerprint.key and active.dim == 32
    assert resumed and sum(p.done for p in resumed[-1:]) <= total - 5
    assert summary.ok == 1  # only the new file: the others were already indexed
    zebra = normalise(folder / "zebra.md")
    with Store.open(db, readonly=True) as store:
        zebra_hashes = {c.content_hash for c in store.chunks(zebra)}
    assert set(top_hashes(db, half, "Zebras graze near the quagmire", k=3)) & zebra_hashes
    assert top_hashes(db, half, "lighthouse")


def test_pipeline_leaves_another_rebuild_alone(
    tmp_path: Path, tiny_embedding_dir: Path, full: Embedder, half: Embedder
) -> None:
    folder = write_corpus(tmp_path / "docs")
    db = tmp_path / "index.sqlite3"
    source = settings_for(folder, tiny_embedding_dir)
    index(db, source, full)
    fingerprint = rebuild_fingerprint(half, settings_for(folder, tiny_embedding_dir, 32))
    with Store.open(db) as store:
        assert not run_rebuild(store, half, fingerprint, cancelled=lambda: True)
    # A pipeline still at the old dimension (the window drives the rebuild on its own
    # thread) indexes under the active index and neither resumes nor drops the rebuild.
    config = IndexerConfig(workers=1, sandbox=False)
    with Pipeline(db, full, source, config=config) as pipe:
        assert not pipe.resume_rebuild()
        pipe.index_once()
        building = pipe.store.rebuilding()
        assert building is not None and building.key == fingerprint.key


class WriterCount:
    """Counts write connections opened while it is armed (``Store.open`` without readonly)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.armed = False
        self.writers: list[str] = []
        real = Store.open.__func__  # type: ignore[attr-defined]

        def counting(cls: type[Store], path: Path, readonly: bool = False) -> Store:
            if self.armed and not readonly:
                self.writers.append(threading.current_thread().name)
            return real(cls, path, readonly=readonly)  # type: ignore[no-any-return]

        monkeypatch.setattr(Store, "open", classmethod(counting))


def no_model_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second model for the rebuild would be loaded through one of these: refuse it."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a second model was loaded")

    monkeypatch.setattr("engine.factory.load_embedder", refuse)
    monkeypatch.setattr("app.loaders.make_embedder", refuse)


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout_s}s: {what}"
        time.sleep(0.05)


def test_running_pipeline_rebuilds_through_its_own_writer_and_model(
    tmp_path: Path, tiny_embedding_dir: Path, full: Embedder, half: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    folder = write_corpus(tmp_path / "docs")
    db = tmp_path / "index.sqlite3"
    source = settings_for(folder, tiny_embedding_dir)
    index(db, source, full)
    distinct = len({h for hs in hashes_by_path(db).values() for h in hs})
    config = IndexerConfig(workers=1, sandbox=False, embed=EmbedConfig(max_chunks=5))
    count = WriterCount(monkeypatch)
    with Pipeline(db, full, source, config=config) as pipe:
        pipe.start(watch=True)
        wait_for(lambda: pipe.indexer.embedding.settled and pipe.watcher is not None, "idle")
        count.armed = True
        no_model_loads(monkeypatch)
        zebra = folder / "zebra.md"
        seen: list[RebuildProgress] = []

        def searching(progress: RebuildProgress) -> None:
            if not seen:  # a file written mid-rebuild goes into both indexes
                zebra.write_text("# Savanna\n\nZebras graze near the quagmire at dawn.\n")
            seen.append(progress)
            assert top_hashes(db, full, "lighthouse"), "search must answer during the rebuild"

        assert pipe.rebuild(32, searching)
        assert len(seen) > 1 and seen[-1].done >= distinct  # several batches, all of it
        assert pipe.store.rebuilding() is None
        active = pipe.store.fingerprint()
        assert active is not None and active.dim == 32
        assert (
            active.key
            == rebuild_fingerprint(half, settings_for(folder, tiny_embedding_dir, 32)).key
        )
        # The writer went on at the new dimension: the new file is found by meaning.
        with Store.open(db, readonly=True) as store:
            wait_for(lambda: bool(store.chunks(normalise(zebra))), "zebra written")
        zebra_hashes = {
            c.content_hash for c in Store.open(db, readonly=True).chunks(normalise(zebra))
        }
        wait_for(lambda: bool(set(top_hashes(db, half, "Zebras graze near the quagmire", k=3))
                              & zebra_hashes), "zebra searchable at 32")  # fmt: skip
        assert pipe.indexer.embedder.dim == 32
    assert count.writers == [], "the rebuild opened a second write connection"


def test_retry_goes_through_the_running_writer(
    tmp_path: Path, tiny_embedding_dir: Path, full: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_corpus(tmp_path / "docs")
    blob = folder / "notes.txt"
    blob.write_bytes(b"\x00\x01binary\x00" * 50)
    db = tmp_path / "index.sqlite3"
    settings = settings_for(folder, tiny_embedding_dir)
    index(db, settings, full)
    with Store.open(db, readonly=True) as store:
        record = store.get_file(normalise(blob))
        assert record is not None and record.status == "skipped"
    # Fixed behind the index's back: same size and time, so a start does not look again.
    stamp = blob.stat()
    text = b"Owls hunt voles in the orchard after dusk, silent on soft wings. "
    blob.write_bytes((text * 10)[: stamp.st_size])
    os.utime(blob, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    count = WriterCount(monkeypatch)
    config = IndexerConfig(workers=1, sandbox=False)
    with Pipeline(db, full, settings, config=config) as pipe:
        pipe.start(watch=True)
        wait_for(lambda: pipe.indexer.embedding.settled and pipe.watcher is not None, "idle")
        count.armed = True
        assert pipe.retry([str(blob)]).result(timeout=30) == 1

        def indexed() -> bool:
            with Store.open(db, readonly=True) as store:
                found = store.get_file(normalise(blob))
                return found is not None and found.status == "ok"

        wait_for(indexed, "the retried file indexed")
    assert count.writers == []
