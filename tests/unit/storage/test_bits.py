"""Persisted sign-bit blocks: loaded without reading float vectors, kept in step, upgraded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from storage import bits, schema
from storage.connection import connect, driver
from storage.models import NewChunk
from storage.prefilter import BinaryIndex
from storage.store import Store
from storage.vectors import sign_bits
from tests.fixtures.store import DIM, FP, unit, write


def write_many(store: Store, count: int, prefix: str = "v") -> list[str]:
    """``count`` chunks with vectors, 100 per file, through the public write path."""
    hashes = [f"{prefix}{i}" for i in range(count)]
    for start in range(0, count, 100):
        part = hashes[start : start + 100]
        store.write_file(
            f"/d/{prefix}{start}.txt", size=1, mtime=1.0, content_hash=f"{prefix}{start}",
            chunks=[NewChunk(i, h, 0, 1, h) for i, h in enumerate(part)],
            vectors_by_hash={h: unit(h) for h in part}, fingerprint=FP,
        )  # fmt: skip
    return hashes


def columns_read(conn: Any, action: Any) -> set[tuple[str, str]]:
    """(table, column) pairs SQLite reads while ``action`` runs (its authorizer reports them)."""
    seen: set[tuple[str, str]] = set()
    mod = driver()

    def record(code: int, table: str | None, column: str | None, *_: object) -> int:
        if code == mod.SQLITE_READ and table and column:
            seen.add((table, column))
        return int(mod.SQLITE_OK)

    conn.set_authorizer(record)
    try:
        action()
    finally:
        conn.set_authorizer(None)
    return seen


def test_index_loads_from_blocks_without_touching_float_vectors(db: Path) -> None:
    with Store.open(db) as writer:
        write_many(writer, 2500)
    with Store.open(db, readonly=True) as reader:
        active = reader._index_id("active_index")
        assert active is not None
        index = BinaryIndex(active, DIM)
        read = columns_read(reader.conn, lambda: index.refresh(reader.conn))
        assert len(index) == 2500
        assert ("vector_bits", "bits") in read
        assert not {c for t, c in read if t == "embeddings"}, read  # no 4 KB rows walked
        ids = [r[0] for r in reader.conn.execute("SELECT id FROM embeddings ORDER BY id")]
        assert index.ids.tolist() == ids
        expected = sign_bits(np.stack([unit(f"v{i}") for i in range(2500)]))
        assert np.array_equal(index._bits[:, : len(index)].T, expected)
        unchanged = columns_read(reader.conn, lambda: index.refresh(reader.conn))
        assert ("vector_bits", "bits") not in unchanged  # nothing new: sizes only


def test_reader_picks_up_new_blocks_and_deletions(db: Path) -> None:
    with Store.open(db) as writer, Store.open(db, readonly=True) as reader:
        write_many(writer, 1500)
        query = unit("v7")
        top = reader.vector_search(query, 1)
        assert reader.chunks_by_id([top[0].chunk_id])[top[0].chunk_id].text == "v7"
        write_many(writer, 700, prefix="w")  # fills the tail block, then a new one
        assert len(bits.sizes(writer.conn, 1)) == 3
        top = reader.vector_search(unit("w650"), 1)
        assert reader.chunks_by_id([top[0].chunk_id])[top[0].chunk_id].text == "w650"
        for start in range(0, 1500, 200):
            writer.delete_file(f"/d/v{start}.txt")
        assert writer.prune_embeddings() == 800
        assert writer.integrity_check() == []
        assert reader._bin is not None
        reader.vector_search(query, 1)
        assert len(reader._bin) == 1400 == len(bits.stored_ids(reader.conn, 1))


def test_integrity_check_notices_bits_out_of_step(store: Store) -> None:
    write(store, "/d/a.txt", ["alpha", "beta"])
    store.conn.execute("DELETE FROM vector_bits")
    assert any("sign bits" in p for p in store.integrity_check())


def test_upgrade_from_v2_moves_bits_into_blocks(db: Path) -> None:
    conn = connect(db)
    schema.migrate(conn, target=2)
    conn.execute("INSERT INTO meta VALUES ('active_index', '1')")
    conn.execute(
        "INSERT INTO vector_indexes VALUES (1, ?, ?, ?, 0)", (FP.to_json(), FP.key, FP.dim)
    )
    conn.execute("INSERT INTO files(id, path, status) VALUES (1, '/d/a.txt', 'ok')")
    for i in range(3):
        vec = unit(f"h{i}")
        conn.execute(
            'INSERT INTO chunks(file_id, ordinal, text, start, "end", content_hash)'
            " VALUES (1, ?, ?, 0, 1, ?)",
            (i, f"text {i}", f"h{i}"),
        )
        conn.execute(
            "INSERT INTO embeddings(index_id, content_hash, vector, bits) VALUES (1, ?, ?, ?)",
            (f"h{i}", vec.tobytes(), sign_bits(vec)[0].tobytes()),
        )
    conn.close()
    with Store.open(db) as store:
        assert schema.version(store.conn) == schema.SCHEMA_VERSION
        assert store.integrity_check() == []
        assert store.backlog().files == 0 and store.searchable() == (1, 1)
        top = store.vector_search(unit("h2"), 1)
        assert store.chunks_by_id([top[0].chunk_id])[top[0].chunk_id].text == "text 2"
