"""Sign bits of every vector, persisted in blocks of ``BLOCK_ROWS`` rows per SQLite blob.

Why blocks: the float32 vector (4 KB at 1024 dims) sits in the same ``embeddings`` row as
anything stored beside it, and SQLite reaches a column behind a large blob only by walking
that row's overflow pages. Reading 1M per-row sign bits that way reads the whole 4 GB of
vectors. Here the bits of 1,024 rows share one blob (128 KB at 1024 dims) next to their
embedding rowids, so loading the in-memory index at 1M x 1024 reads ~136 MB in ~1,000 rows.

Blocks hold rowids in ascending order per index: rows are appended in insertion order and
new rowids are always larger than every existing one (no AUTOINCREMENT gap reuse can go
below the current maximum). The last block of an index is the only one that is rewritten
(append); ``rewrite`` rebuilds all blocks after rows were deleted (``prune_embeddings``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

BLOCK_ROWS = 1024

IdArray = NDArray[np.int64]
BitArray = NDArray[np.uint64]


@dataclass(frozen=True)
class Block:
    """One stored block: ``ids`` (ascending rowids) and their bits, ``(rows, words)``."""

    number: int
    ids: IdArray
    bits: BitArray


def _decode(number: int, nrows: int, ids: bytes, bits: bytes, words: int) -> Block:
    id_array = np.frombuffer(ids, dtype=np.int64, count=nrows)
    bit_array = np.frombuffer(bits, dtype=np.uint64, count=nrows * words).reshape(nrows, words)
    return Block(number, id_array, bit_array)


def _words(conn: Any, index_id: int) -> int:
    row = conn.execute("SELECT dim FROM vector_indexes WHERE id = ?", (index_id,)).fetchone()
    return (int(row[0]) + 63) // 64 if row else 0


def _put(conn: Any, index_id: int, number: int, ids: IdArray, bits: BitArray) -> None:
    conn.execute(
        "INSERT INTO vector_bits(index_id, block, nrows, ids, bits) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(index_id, block) DO UPDATE SET nrows = excluded.nrows,"
        " ids = excluded.ids, bits = excluded.bits",
        (
            index_id,
            number,
            len(ids),
            np.ascontiguousarray(ids, dtype=np.int64).tobytes(),
            np.ascontiguousarray(bits, dtype=np.uint64).tobytes(),
        ),
    )


def append(conn: Any, index_id: int, ids: IdArray, bits: BitArray) -> None:
    """Add rows (ids larger than any stored) to the index's blocks, filling the last first."""
    if not len(ids):
        return
    words = bits.shape[1]
    tail = conn.execute(
        "SELECT block, nrows, ids, bits FROM vector_bits WHERE index_id = ?"
        " ORDER BY block DESC LIMIT 1",
        (index_id,),
    ).fetchone()
    number = 0
    if tail is not None:
        last = _decode(int(tail[0]), int(tail[1]), tail[2], tail[3], words)
        number = last.number
        if len(last.ids) < BLOCK_ROWS:
            ids = np.concatenate([last.ids, ids])
            bits = np.concatenate([last.bits, bits])
        else:
            number += 1
    for start in range(0, len(ids), BLOCK_ROWS):
        _put(
            conn,
            index_id,
            number,
            ids[start : start + BLOCK_ROWS],
            bits[start : start + BLOCK_ROWS],
        )
        number += 1


def sizes(conn: Any, index_id: int, first_block: int = 0) -> list[tuple[int, int]]:
    """(block number, rows) of the index's blocks from ``first_block`` on; blobs unread."""
    rows = conn.execute(
        "SELECT block, nrows FROM vector_bits WHERE index_id = ? AND block >= ? ORDER BY block",
        (index_id, first_block),
    )
    return [(int(r[0]), int(r[1])) for r in rows]


def load(conn: Any, index_id: int, words: int, first_block: int = 0) -> Iterator[Block]:
    """The index's blocks from ``first_block`` on, in order."""
    cur = conn.execute(
        "SELECT block, nrows, ids, bits FROM vector_bits WHERE index_id = ? AND block >= ?"
        " ORDER BY block",
        (index_id, first_block),
    )
    for row in cur:
        yield _decode(int(row[0]), int(row[1]), row[2], row[3], words)


def stored_ids(conn: Any, index_id: int) -> IdArray:
    """Every rowid the blocks of an index hold (for consistency checks)."""
    words = _words(conn, index_id)
    parts = [block.ids for block in load(conn, index_id, words)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def rewrite(conn: Any, index_id: int) -> None:
    """Drop the ids that no longer exist in ``embeddings`` and re-pack the blocks."""
    words = _words(conn, index_id)
    blocks = list(load(conn, index_id, words))
    if not blocks:
        return
    ids = np.concatenate([b.ids for b in blocks])
    bits = np.concatenate([b.bits for b in blocks])
    alive = np.fromiter(
        (r[0] for r in conn.execute("SELECT id FROM embeddings WHERE index_id = ?", (index_id,))),
        dtype=np.int64,
    )
    keep = np.isin(ids, alive)
    conn.execute("DELETE FROM vector_bits WHERE index_id = ?", (index_id,))
    append(conn, index_id, ids[keep], bits[keep])


def build_from_rows(conn: Any, index_id: int) -> None:
    """Fill the blocks from the per-row ``bits`` column (the v2 layout; a one-off upgrade)."""
    words = _words(conn, index_id)
    cur = conn.execute(
        "SELECT id, bits FROM embeddings WHERE index_id = ? ORDER BY id", (index_id,)
    )
    while batch := cur.fetchmany(BLOCK_ROWS * 16):
        ids = np.fromiter((r[0] for r in batch), dtype=np.int64, count=len(batch))
        raw = b"".join(r[1] for r in batch)
        append(conn, index_id, ids, np.frombuffer(raw, dtype=np.uint64).reshape(-1, words))
