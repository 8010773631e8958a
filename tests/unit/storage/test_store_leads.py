"""Leads on real SQLite files: a first chunk's second vector, in phase 2, search,
pruning, rebuilds, and the backfill of an index written before leads (schema v7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from storage import schema
from storage.connection import connect
from storage.errors import RebuildError
from storage.models import Backlog, Fingerprint, NewChunk, SearchFilters
from storage.store import Store
from tests.fixtures.store import FP, unit

BODY = "Owls: silent hunters of the night. " + "Pellets hold the bones of their prey. " * 8
LEAD_END = 34  # "Owls: silent hunters of the night."


def write_owls(store: Store, path: str = "/d/owls.txt") -> None:
    """A file of two chunks; the first has a lead (its opening sentence)."""
    chunks = [
        NewChunk(0, BODY, 0, len(BODY), "h:body", 80, lead_end=LEAD_END, lead_hash="h:lead"),
        NewChunk(1, "Barn owls nest in old barns.", 400, 428, "h:barns", 7),
    ]
    store.write_file(
        path, size=428, mtime=1000.0, content_hash=f"file:{path}", chunks=chunks, fingerprint=FP
    )


def embed_all(store: Store, fp: Fingerprint = FP) -> list[str]:
    """Run phase 2 to the end with deterministic vectors; the texts it was handed."""
    texts: list[str] = []
    while (work := store.embedding_work(fp)).file_ids:
        hashes = [c.content_hash for c in work.chunks]
        texts += [c.text for c in work.chunks]
        vecs = np.stack([unit(h) for h in hashes]) if hashes else np.zeros((0, fp.dim))
        store.add_vectors(fp, hashes, vecs, work.file_ids)
    return texts


def test_phase_two_embeds_the_lead_text_after_its_chunk(store: Store) -> None:
    write_owls(store)
    assert store.backlog().chunks == 3, "two chunks and one lead wait for vectors"
    work = store.embedding_work(FP)
    assert [(c.content_hash, c.text) for c in work.chunks] == [
        ("h:body", BODY),
        ("h:lead", BODY[:LEAD_END]),
        ("h:barns", "Barn owls nest in old barns."),
    ]
    assert work.chunks[1].token_count < 80, "a lead costs its share of the chunk's tokens"
    assert embed_all(store) and store.backlog() == Backlog() and store.searchable() == (1, 1)


def test_a_first_chunk_scores_the_better_of_its_two_vectors(store: Store) -> None:
    write_owls(store)
    write_owls(store, "/e/other.txt")
    embed_all(store)
    body, barns = (c.id for c in store.chunks("/d/owls.txt"))
    query = unit("h:lead")
    hits = store.vector_search(query, 3)
    assert hits[0].score == pytest.approx(1.0), "found through its lead vector"
    assert {h.chunk_id for h in hits[:2]} == {body, body + 2}, "both files' first chunks"
    assert len({h.chunk_id for h in hits}) == len(hits), "one hit per chunk"
    exact = store.vector_search(query, 3, exact=True)
    assert [h.chunk_id for h in exact] == [h.chunk_id for h in hits]
    only_d = store.vector_search(query, 3, SearchFilters(folders=["/d"]))
    assert only_d[0].chunk_id == body and only_d[0].score == pytest.approx(1.0)
    cos = store.cosines(query, [body, barns])
    assert cos[body] == pytest.approx(1.0), "the lead's cosine, not the chunk's"
    assert cos[barns] == pytest.approx(float(unit("h:barns") @ query))
    body_only = store.cosines(unit("h:body"), [body])[body]
    assert body_only == pytest.approx(1.0), "and the chunk's own when that is better"


def test_pruning_keeps_lead_vectors_until_their_chunk_goes(store: Store) -> None:
    write_owls(store)
    embed_all(store)
    assert store.prune_embeddings() == 0
    assert store.vector_search(unit("h:lead"), 1)[0].score == pytest.approx(1.0)
    store.delete_file("/d/owls.txt")
    assert store.prune_embeddings() == 3
    assert store.integrity_check() == []


def test_a_rebuild_is_not_finished_while_a_lead_lacks_its_vector(store: Store) -> None:
    write_owls(store)
    embed_all(store)
    new = Fingerprint("test/other", "rev1", FP.dim, "last", chunker_version="c1")
    store.begin_rebuild(new)
    work = store.embedding_work(new)
    keep = [i for i, c in enumerate(work.chunks) if c.content_hash != "h:lead"]
    hashes = [work.chunks[i].content_hash for i in keep]
    store.add_vectors(new, hashes, np.stack([unit(h) for h in hashes]), work.file_ids)
    with pytest.raises(RebuildError):
        store.finish_rebuild()
    embed_all(store, new)
    assert store.finish_rebuild() == new


def _v6_index(db: Path) -> None:
    """A database as the release before leads left it: a file, a two-message mailbox."""
    conn = connect(db)
    schema.migrate(conn, target=6)
    conn.execute("INSERT INTO files(path, status, mtime) VALUES ('/d/a.txt', 'ok', 5.0)")
    conn.execute("INSERT INTO files(path, status, mtime) VALUES ('/d/m.mbox', 'ok', 6.0)")
    conn.execute("INSERT INTO documents(file_id, key) VALUES (2, '0'), (2, '900')")
    rows = [
        (1, 0, BODY, None), (1, 1, "second chunk", None),
        (2, 0, "first message " + BODY, 1), (2, 1, "its second chunk", 1),
        (2, 2, "second message " + BODY, 2),
    ]  # fmt: skip
    conn.executemany(
        'INSERT INTO chunks(file_id, ordinal, text, start, "end", content_hash, doc_id)'
        " VALUES (?, ?, ?, 0, 1, 'h' || ?, ?)",
        [(f, o, t, f"{f}.{o}", d) for f, o, t, d in rows],
    )
    conn.close()


def test_upgrade_lists_the_old_first_chunks_and_queues_their_leads(db: Path) -> None:
    _v6_index(db)
    with Store.open(db) as s:
        assert schema.version(s.conn) == schema.SCHEMA_VERSION == 7
        assert (
            s.conn.execute("SELECT lead_end, lead_hash FROM chunks").fetchall()
            == [(None, None)] * 5
        )
        s.ensure_fingerprint(FP)
        hashes = [r[0] for r in s.conn.execute("SELECT content_hash FROM chunks")]
        s.add_vectors(FP, hashes, np.stack([unit(h) for h in hashes]), [])
        firsts = s.chunks_needing_leads(2)
        assert [t[:14] for _, t, _ in firsts] == [BODY[:14], "first message "]
        s.set_leads([(firsts[0][0], LEAD_END, "h:lead"), (firsts[1][0], 0, None)])
        assert s.backlog().chunks == 1, "the file with a new lead waits for its vector"
        rest = s.chunks_needing_leads(2)
        assert [t[:15] for _, t, _ in rest] == ["second message "], "each message's first"
        s.set_leads([(rest[0][0], 0, None)])
        assert s.chunks_needing_leads() == []
        assert s.conn.execute("SELECT value FROM meta WHERE key = 'lead_backfill'").fetchone()
        s.set_leads([])
        assert (
            s.conn.execute("SELECT value FROM meta WHERE key = 'lead_backfill'").fetchone() is None
        )
        assert embed_all(s) == [BODY[:LEAD_END]]
        assert s.integrity_check() == []


def test_a_fresh_index_has_no_backfill(store: Store) -> None:
    write_owls(store)
    assert store.chunks_needing_leads() == []
