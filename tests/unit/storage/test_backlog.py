"""Phase 2's backlog on real SQLite files: keyword-first writes, counters, priority, failures."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from storage.models import BAND_OPENED, BAND_SEARCHED, Backlog, NewChunk
from storage.store import Store
from tests.fixtures.store import FP, unit


def phase1(store: Store, path: str, texts: list[str], mtime: float = 1000.0) -> None:
    """Write a file as phase 1 does: chunks and keywords, no vectors."""
    chunks = [
        NewChunk(i, t, i * 100, i * 100 + len(t), f"h:{t}", token_count=len(t.split()))
        for i, t in enumerate(texts)
    ]
    store.write_file(
        path, size=len(texts), mtime=mtime, content_hash=f"file:{texts}", chunks=chunks,
        fingerprint=FP,
    )  # fmt: skip


def embed_next(store: Store, **limits: int) -> tuple[list[str], list[str]]:
    """One phase-2 batch with deterministic vectors: (hashes embedded, paths completed)."""
    work = store.embedding_work(FP, **limits)
    hashes = [c.content_hash for c in work.chunks]
    vecs = np.stack([unit(h) for h in hashes]) if hashes else np.zeros((0, FP.dim))
    return hashes, store.add_vectors(FP, hashes, vecs, work.file_ids, tokens_per_s=100.0)


def recount(store: Store) -> Backlog:
    """The backlog counted the slow way, to check the trigger-kept totals."""
    row = store.conn.execute(
        "SELECT count(*), coalesce(sum(chunks), 0), coalesce(sum(tokens), 0) FROM embed_queue"
        " WHERE index_id = (SELECT value FROM meta WHERE key = 'active_index')"
    ).fetchone()
    truth = store.conn.execute(
        "SELECT count(DISTINCT c.file_id), count(*), coalesce(sum(c.token_count), 0)"
        " FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.content_hash ="
        " c.content_hash AND e.index_id = (SELECT value FROM meta WHERE key = 'active_index'))"
    ).fetchone()
    assert tuple(row) == tuple(truth), "the queue must list exactly the chunks lacking vectors"
    return Backlog(*row)


def test_phase_one_is_keyword_searchable_and_vectors_follow(store: Store) -> None:
    phase1(store, "/d/owls.txt", ["owls hunt at night", "they fly silently"])
    assert store.keyword_search("owls", 5), "keywords need no vector"
    assert store.vector_search(unit("h:owls hunt at night"), 5) == []
    assert store.backlog() == Backlog(1, 2, 7) and store.searchable() == (1, 0)
    hashes, done = embed_next(store)
    assert sorted(hashes) == ["h:owls hunt at night", "h:they fly silently"]
    assert done == ["/d/owls.txt"] and store.searchable() == (1, 1)
    assert store.backlog() == Backlog() and store.stats().embed_tokens_per_s == 100.0
    hits = store.vector_search(unit("h:owls hunt at night"), 1)
    assert store.chunks_by_id([hits[0].chunk_id])[hits[0].chunk_id].text == "owls hunt at night"
    assert embed_next(store) == ([], [])


def test_shared_chunks_are_embedded_once_and_settle_every_file(store: Store) -> None:
    phase1(store, "/d/a.txt", ["shared text", "only in a"], mtime=2.0)
    phase1(store, "/d/b.txt", ["shared text"], mtime=1.0)
    hashes, done = embed_next(store, slice_chunks=10)
    assert sorted(hashes) == ["h:only in a", "h:shared text"]
    assert sorted(done) == ["/d/a.txt", "/d/b.txt"]
    phase1(store, "/d/copy.txt", ["shared text"])  # every vector exists: no backlog at all
    assert store.backlog() == Backlog() and store.searchable() == (3, 3)


def test_counters_stay_exact_through_every_kind_of_change(store: Store) -> None:
    rng = random.Random(5)
    store.add_folder("/d")
    words = ["alpha", "beta", "gamma", "delta", "eps"]
    for step in range(120):
        path = f"/d/f{rng.randrange(12)}.txt"
        action = rng.choice(["write", "write", "embed", "delete", "skip", "move", "promote"])
        if action == "write":
            texts = [" ".join(rng.choices(words, k=3)) for _ in range(rng.randint(1, 4))]
            phase1(store, path, texts, mtime=float(step))
        elif action == "embed":
            embed_next(store, max_chunks=rng.randint(1, 5), slice_chunks=2)
        elif action == "delete":
            store.delete_file(path)
        elif action == "skip":
            store.mark_failed(path, "boom")
        elif action == "move":
            store.move_file(path, f"/d/f{rng.randrange(12)}.txt")
        else:
            store.promote([path], rng.choice([BAND_SEARCHED, BAND_OPENED]))
        assert store.backlog() == recount(store), (step, action)
    store.remove_folder("/d")
    assert store.backlog() == Backlog() == recount(store)


def test_priority_opened_then_searched_then_newest(store: Store) -> None:
    for i in range(6):
        phase1(store, f"/d/f{i}.txt", [f"text {i}"], mtime=float(i))
    store.promote(["/d/f1.txt"], BAND_SEARCHED)
    store.promote(["/d/f0.txt"], BAND_OPENED)
    store.promote(["/d/f0.txt"], BAND_SEARCHED)  # never lowers a band
    order = [embed_next(store, max_chunks=1)[1][0] for _ in range(6)]
    assert order == ["/d/f0.txt", "/d/f1.txt", "/d/f5.txt", "/d/f4.txt", "/d/f3.txt", "/d/f2.txt"]


def test_a_big_file_is_embedded_in_slices_and_yields(store: Store) -> None:
    phase1(store, "/d/big.txt", [f"big part {i}" for i in range(10)], mtime=9.0)  # newest
    for i in range(3):
        phase1(store, f"/d/small{i}.txt", [f"small {i}"], mtime=float(i))
    first, done = embed_next(store, max_chunks=4, slice_chunks=4)
    assert len(first) == 4 and all(h.startswith("h:big") for h in first) and done == []
    assert store.backlog().chunks == 9  # 6 of big + 3 small
    _, done = embed_next(store, max_chunks=4, slice_chunks=4)
    assert sorted(done) == ["/d/small0.txt", "/d/small1.txt", "/d/small2.txt"]
    while embed_next(store, max_chunks=4, slice_chunks=4)[0]:
        pass
    assert store.searchable() == (4, 4)


def test_failures_yield_then_stop_at_the_limit_and_are_listed(store: Store) -> None:
    phase1(store, "/d/bad.txt", ["poison"], mtime=5.0)  # newest: first in line
    phase1(store, "/d/good.txt", ["fine"], mtime=1.0)
    bad = store.get_file("/d/bad.txt").id  # type: ignore[union-attr]
    for attempt in (1, 2, 3):
        work = store.embedding_work(FP, max_chunks=1, max_failures=3)
        assert work.file_ids == [bad]
        assert store.embedding_failed(FP, work.file_ids, "model error") == [("/d/bad.txt", attempt)]
        if attempt == 1:  # the failed file yields to one that has had no turn
            assert embed_next(store, max_chunks=1, max_failures=3)[1] == ["/d/good.txt"]
    assert store.embedding_work(FP, max_failures=3).file_ids == []
    problem = next(p for p in store.stats().problems if p.path == "/d/bad.txt")
    assert problem.retries == 3 and "keyword only: model error" in (problem.error or "")
    assert store.searchable() == (2, 1) and store.keyword_search("poison", 5)
    phase1(store, "/d/bad.txt", ["poison fixed"], mtime=6.0)  # a new version starts afresh
    assert store.embedding_work(FP, max_failures=3).file_ids


def test_pending_work_survives_reopen(db: Path) -> None:
    with Store.open(db) as store:
        phase1(store, "/d/a.txt", ["one", "two", "three"])
        embed_next(store, max_chunks=1)
    with Store.open(db) as store:
        assert store.backlog().chunks == 2
        while embed_next(store, max_chunks=1)[0]:
            pass
        assert store.searchable() == (1, 1) and store.integrity_check() == []


def test_mismatched_fingerprint_is_refused(store: Store) -> None:
    from storage.errors import FingerprintMismatch
    from storage.models import Fingerprint

    phase1(store, "/d/a.txt", ["one"])
    with pytest.raises(FingerprintMismatch):
        store.embedding_work(Fingerprint("other/model", "", FP.dim, "mean"))


def test_rebuild_fills_in_the_same_order_beside_the_old_index(store: Store) -> None:
    from storage.models import Fingerprint

    for i in range(4):
        phase1(store, f"/d/f{i}.txt", [f"text {i}"], mtime=float(i))
    while embed_next(store)[0]:
        pass
    new = Fingerprint("new/model", "r2", 32, "last", chunker_version="c1")
    store.begin_rebuild(new)
    store.promote(["/d/f1.txt"], BAND_OPENED)
    order = []
    while work := store.embedding_work(new, max_chunks=1):
        if not work.chunks:
            break
        vecs = np.stack([unit(c.content_hash, 32) for c in work.chunks])
        order += store.add_vectors(new, [c.content_hash for c in work.chunks], vecs, work.file_ids)
        assert store.vector_search(unit("h:text 0"), 1, fingerprint=FP)  # the old index serves
    assert order == ["/d/f1.txt", "/d/f3.txt", "/d/f2.txt", "/d/f0.txt"]
    assert store.finish_rebuild() == new and store.backlog() == Backlog()
