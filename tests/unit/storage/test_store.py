"""Store behaviour on real SQLite files: schema, fingerprints, reuse, atomicity, jobs, swap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from storage import schema
from storage.connection import connect
from storage.errors import FingerprintMismatch, RebuildError, StorageError
from storage.models import Backlog, Fingerprint, NewChunk, SearchFilters
from storage.store import Store
from tests.fixtures.store import DIM, FP, unit, write


def test_fresh_db_is_at_latest_version(store: Store) -> None:
    assert schema.version(store.conn) == schema.SCHEMA_VERSION
    assert store.integrity_check() == []


def test_upgrade_from_v1_keeps_data(db: Path) -> None:
    conn = connect(db)
    schema.migrate(conn, target=1)
    conn.execute("INSERT INTO folders(path, added_at) VALUES ('/docs', 1)")
    conn.close()
    with Store.open(db) as s:
        assert schema.version(s.conn) == schema.SCHEMA_VERSION
        assert [f.path for f in s.folders()] == ["/docs"]
        s.enqueue(["/docs/a.txt"])
        assert s.job_counts() == {"queued": 1}


def test_upgrade_from_v5_adds_ocr_and_mail(db: Path) -> None:
    """A database made by the release before OCR and mail (v5: keyword fields) upgrades
    in place: its chunks stay found, the new columns start empty, mail can be stored."""
    conn = connect(db)
    schema.migrate(conn, target=5)
    conn.execute("INSERT INTO files(path, status, title) VALUES ('/d/a.txt', 'ok', 'Harbour')")
    conn.execute(
        'INSERT INTO chunks(file_id, ordinal, text, start, "end", content_hash)'
        " VALUES (1, 0, 'berth fees for the harbour', 0, 26, 'h0')"
    )
    conn.close()
    with Store.open(db) as s:
        assert schema.version(s.conn) == schema.SCHEMA_VERSION == 7
        assert [h.chunk_id for h in s.keyword_search("berth", 5)] == [1]
        record = s.get_file("/d/a.txt")
        assert record is not None and record.title == "Harbour" and record.needs_ocr == 0
        assert s.conn.execute("SELECT ocr, doc_id FROM chunks").fetchall() == [(0, None)]
        assert s.conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 0
        assert s.integrity_check() == []


def test_upgrade_from_v2_backfills_stems_bigrams_and_languages(db: Path) -> None:
    conn = connect(db)
    schema.migrate(conn, target=2)
    conn.execute("INSERT INTO files(path, status) VALUES ('/d/a.txt', 'ok')")
    texts = [
        "Das Programm beendet einen Prozess, indem es ihm ein Signal sendet.",
        "终止进程需要发送信号。",
    ]
    for i, text in enumerate(texts):
        conn.execute(
            'INSERT INTO chunks(file_id, ordinal, text, start, "end", content_hash, cjk)'
            " VALUES (1, ?, ?, 0, 1, ?, ?)",
            (i, text, f"h{i}", int(i == 1)),
        )
    conn.close()
    with Store.open(db) as s:
        assert schema.version(s.conn) == schema.SCHEMA_VERSION
        s.conn.execute("UPDATE chunks SET cjk = 0")  # no LIKE fallback: bigrams must match
        assert [h.chunk_id for h in s.keyword_search("Prozesse beenden", 5)] == [1]
        assert [h.chunk_id for h in s.keyword_search("进程", 5)] == [2]
        assert dict(s.conn.execute("SELECT lang, n FROM chunk_langs")) == {"de": 1, "zh": 1}
        assert s.integrity_check() == []
        s.delete_file("/d/a.txt")
        assert s.conn.execute("SELECT sum(n) FROM chunk_langs").fetchone()[0] == 0


def test_fingerprint_set_on_first_use_and_refused_after(store: Store) -> None:
    write(store, "/d/a.txt", ["alpha"])
    assert store.fingerprint() == FP
    other = Fingerprint("other/model", "r", DIM, "mean")
    with pytest.raises(FingerprintMismatch, match="other/model"):
        store.vector_search(unit(1), 5, fingerprint=other)
    with pytest.raises(FingerprintMismatch):
        write(store, "/d/b.txt", ["beta"], fp=other)


def test_moved_and_copied_files_need_no_new_embeddings(store: Store) -> None:
    write(store, "/d/a.txt", ["one", "two"])
    hashes = [c.content_hash for c in store.chunks("/d/a.txt")]
    assert store.missing_embeddings(hashes) == set()  # a copy costs nothing
    assert store.move_file("/d/a.txt", "/e/a.md")
    assert store.get_file("/d/a.txt") is None
    assert [c.text for c in store.chunks("/e/a.md")] == ["one", "two"]
    assert store.get_file("/e/a.md").extension == "md"  # type: ignore[union-attr]
    assert store.files_by_content_hash(store.get_file("/e/a.md").content_hash)  # type: ignore[union-attr]


def test_write_is_atomic(store: Store) -> None:
    write(store, "/d/a.txt", ["old text"])
    bad = [NewChunk(0, "new text", 0, 8, "h:new")]
    with pytest.raises(ValueError, match="dimensions"):  # fails after the chunks went in
        store.write_file(
            "/d/a.txt",
            size=1,
            mtime=2.0,
            content_hash="x",
            chunks=bad,
            vectors_by_hash={"h:new": np.ones(DIM // 2, dtype=np.float32)},
            fingerprint=FP,
        )
    assert [c.text for c in store.chunks("/d/a.txt")] == ["old text"]
    assert store.keyword_search("old", 5) and not store.keyword_search("new", 5)
    assert store.backlog() == Backlog()


def test_mark_failed_counts_retries_and_reports(store: Store) -> None:
    write(store, "/d/a.txt", ["text"])
    store.mark_failed("/d/a.txt", "boom")
    rec = store.mark_failed("/d/a.txt", "boom again")
    assert (rec.status, rec.retries, rec.error) == ("failed", 2, "boom again")
    store.mark_skipped("/d/b.bin", "binary")
    stats = store.stats()
    assert stats.files["failed"] == 1 and stats.files["skipped"] == 1 and stats.chunks == 0
    assert {p.path for p in stats.problems} == {"/d/a.txt", "/d/b.bin"}


def test_job_queue_survives_reopen(db: Path) -> None:
    with Store.open(db) as s:
        s.enqueue(["/a", "/b", "/c"])
        s.enqueue(["/a"], kind="delete")  # coalesced with the queued one
        claimed = s.claim_jobs(2)
        s.finish_jobs([claimed[0].id])
    with Store.open(db) as s:
        assert s.requeue_claimed() == 1
        jobs = s.claim_jobs(10)
        assert sorted(j.path for j in jobs) == ["/b", "/c"]


def test_filter_excluding_all_top_neighbours_still_returns_matches(store: Store) -> None:
    for i in range(30):
        write(store, f"/d/near{i}.txt", [f"near {i}"])
    write(store, "/other/far.pdf", ["far away"])
    query = unit("h:near 0")
    top = store.vector_search(query, 5)
    assert all(store.chunks_by_id([h.chunk_id])[h.chunk_id].path.startswith("/d/") for h in top)
    hits = store.vector_search(query, 5, SearchFilters(extensions=("pdf",)))
    assert [store.chunks_by_id([h.chunk_id])[h.chunk_id].path for h in hits] == ["/other/far.pdf"]
    assert store.vector_search(query, 5, SearchFilters(folders=("/other",)))
    assert not store.vector_search(query, 5, SearchFilters(modified_after=5000.0))


def test_recall_of_default_path_against_exact(store: Store) -> None:
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((40, DIM)).astype(np.float32)
    hashes = [f"v{i}" for i in range(3000)]
    pts = centres[rng.integers(0, 40, 3000)] + 0.7 * rng.standard_normal((3000, DIM)).astype(
        np.float32
    )
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    for f in range(0, 3000, 300):
        chunks = [NewChunk(i, h, 0, 1, h) for i, h in enumerate(hashes[f : f + 300])]
        store.write_file(
            f"/r/{f}.txt",
            size=1,
            mtime=1.0,
            content_hash=str(f),
            chunks=chunks,
            vectors_by_hash=dict(zip(hashes[f : f + 300], pts[f : f + 300], strict=True)),
            fingerprint=FP,
        )
    recalls = []
    for q in range(30):
        query = centres[q] + 0.7 * rng.standard_normal(DIM).astype(np.float32)
        query /= np.linalg.norm(query)
        exact = {h.chunk_id for h in store.vector_search(query, 10, exact=True)}
        fast = {h.chunk_id for h in store.vector_search(query, 10)}
        recalls.append(len(exact & fast) / 10)
    assert np.mean(recalls) >= 0.98


def _fill(writer: Store, fp: Fingerprint, max_chunks: int) -> int:
    """Drive phase 2 for ``fp`` one batch; returns the chunks embedded."""
    work = writer.embedding_work(fp, max_chunks=max_chunks)
    hashes = [c.content_hash for c in work.chunks]
    vecs = np.stack([unit(h, fp.dim) for h in hashes]) if hashes else np.zeros((0, fp.dim))
    writer.add_vectors(fp, hashes, vecs, work.file_ids)
    return len(hashes)


def test_rebuild_swaps_atomically_while_search_keeps_answering(db: Path) -> None:
    new_fp = Fingerprint("new/model", "r2", 32, "last", chunker_version="c1")
    with Store.open(db) as writer:
        write(writer, "/d/a.txt", ["alpha", "beta"])
        reader = Store.open(db, readonly=True)
        writer.begin_rebuild(new_fp)
        assert writer.backlog(new_fp) == Backlog(1, 2, 0)
        with pytest.raises(RebuildError):
            writer.finish_rebuild()
        assert _fill(writer, new_fp, 1) == 1
        assert reader.vector_search(unit("h:alpha"), 2, fingerprint=FP)  # old index still serves
        write(writer, "/d/b.txt", ["gamma"])  # indexing goes on during the rebuild
        assert writer.backlog(new_fp).files == 2 and writer.backlog().files == 0
        while _fill(writer, new_fp, 10):
            pass
        assert writer.backlog(new_fp) == Backlog()
        assert writer.finish_rebuild() == new_fp
        hits = reader.vector_search(unit("h:gamma", 32), 1, fingerprint=new_fp)
        assert reader.chunks_by_id([hits[0].chunk_id])[hits[0].chunk_id].text == "gamma"
        with pytest.raises(FingerprintMismatch):
            reader.vector_search(unit(1), 2, fingerprint=FP)
        assert writer.stats().embeddings == 3
        assert writer.integrity_check() == []
        reader.close()


def test_vacuum_and_integrity(store: Store) -> None:
    write(store, "/d/a.txt", ["alpha"])
    store.delete_file("/d/a.txt")
    store.vacuum()
    assert store.stats().embeddings == 0 and store.integrity_check() == []


def test_readonly_open_of_missing_db_is_a_calm_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no index"):
        Store.open(tmp_path / "nope.sqlite3", readonly=True)


def test_add_folder_attaches_files_once(store: Store) -> None:
    write(store, "/docs/a.txt", ["alpha"])
    write(store, "/docs/sub/b.txt", ["beta"])
    write(store, "/docsx/c.txt", ["gamma"])  # a sibling whose name starts the same
    docs = store.add_folder("/docs")
    assert store.get_file("/docs/a.txt").folder_id == docs.id  # type: ignore[union-attr]
    assert store.get_file("/docsx/c.txt").folder_id is None  # type: ignore[union-attr]
    changes = store.conn.total_changes
    assert store.add_folder("/docs") == docs
    assert store.conn.total_changes - changes <= 1, "an unchanged folder rewrites no file row"
    sub = store.add_folder("/docs/sub")
    assert store.get_file("/docs/sub/b.txt").folder_id == sub.id  # type: ignore[union-attr]


def test_a_mail_file_is_pending_from_its_first_read_until_it_finishes(store: Store) -> None:
    """``pending`` is written for an mbox being read; reconcile retries it until ``ok``."""
    store.add_folder("/mail")
    store.start_mailbox("/mail/inbox.mbox", gen=1, size=10, mtime=5.0)
    record = store.get_file("/mail/inbox.mbox")
    assert record is not None and record.status == "pending"
    assert store.file_stamps("/mail", max_retries=3).retry == ["/mail/inbox.mbox"]
    store.finish_mailbox("/mail/inbox.mbox", size=10, mtime=5.0, content_hash="c")
    record = store.get_file("/mail/inbox.mbox")
    assert record is not None and record.status == "ok"
    assert store.file_stamps("/mail", max_retries=3).retry == []


def test_cosines_for_a_query_of_another_dimension_is_a_mismatch(store: Store) -> None:
    """A rebuild can swap in another dimension between a search's vector stage and its exact
    rescoring: that must read as FingerprintMismatch (the window then follows the new
    index), never as a numpy shape error."""
    write(store, "/d/a.txt", ["alpha", "beta"])
    ids = [c.id for c in store.chunks("/d/a.txt")]
    assert len(store.cosines(unit("q"), ids)) == 2
    with pytest.raises(FingerprintMismatch):
        store.cosines(unit("q", DIM // 2), ids)
