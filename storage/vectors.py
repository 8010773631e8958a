"""Vector rows in SQLite: one float32 vector per (index, content hash), sign bits beside.

Writing, reuse checks, batched reads by rowid, and the exact reference scan. The sign bits
are kept in blocks (``storage.bits``); the fast approximate search over them lives in
``storage.prefilter``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from storage import bits

FloatArray = NDArray[np.float32]


def words_for(dim: int) -> int:
    """uint64 words needed for ``dim`` sign bits."""
    return (dim + 63) // 64


def sign_bits(vectors: FloatArray) -> NDArray[np.uint64]:
    """Pack ``vectors > 0`` into uint64 words, rows padded to whole words."""
    mat = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    packed = np.packbits(mat > 0, axis=1)
    pad = words_for(mat.shape[1]) * 8 - packed.shape[1]
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


def insert_vectors(
    conn: Any, index_id: int, hashes: Sequence[str], vectors: FloatArray, dim: int
) -> int:
    """Store vectors for content hashes under an index; hashes already there are left alone.

    The float rows go to ``embeddings``; their sign bits are appended to the index's
    ``vector_bits`` blocks in the same transaction (the caller's). Returns rows added.
    """
    if not len(hashes):
        return 0
    mat = np.asarray(vectors, dtype=np.float32).reshape(len(hashes), -1)
    if mat.shape[1] != dim:
        raise ValueError(f"vectors have {mat.shape[1]} dimensions, the index {dim}")
    fresh = missing_hashes(conn, index_id, hashes)
    order = [i for i, h in enumerate(hashes) if h in fresh]
    order = list({hashes[i]: i for i in order}.values())  # one row per hash
    if not order:
        return 0
    conn.executemany(
        "INSERT INTO embeddings(index_id, content_hash, vector, bits) VALUES (?, ?, ?, x'')",
        [(index_id, hashes[i], np.ascontiguousarray(mat[i]).tobytes()) for i in order],
    )
    position = {hashes[i]: i for i in order}
    rows = _ids_of(conn, index_id, list(position))
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    picked = mat[[position[r[1]] for r in rows]]
    bits.append(conn, index_id, ids, sign_bits(picked))
    return len(order)


def _ids_of(conn: Any, index_id: int, hashes: Sequence[str]) -> list[tuple[int, str]]:
    """(rowid, hash) of the given hashes under an index, by rowid."""
    found: list[tuple[int, str]] = []
    for start in range(0, len(hashes), 500):
        part = hashes[start : start + 500]
        found += conn.execute(
            "SELECT id, content_hash FROM embeddings WHERE index_id = ? AND content_hash IN"
            f" ({', '.join('?' * len(part))})",
            [index_id, *part],
        ).fetchall()
    return sorted(found)


def missing_hashes(conn: Any, index_id: int | None, hashes: Iterable[str]) -> set[str]:
    """Which of ``hashes`` have no vector under ``index_id`` (all of them when no index)."""
    wanted = set(hashes)
    if index_id is None or not wanted:
        return wanted
    have: set[str] = set()
    ordered = sorted(wanted)
    for start in range(0, len(ordered), 500):
        part = ordered[start : start + 500]
        sql = (
            "SELECT content_hash FROM embeddings WHERE index_id = ? AND content_hash IN"
            f" ({', '.join('?' * len(part))})"
        )
        have.update(row[0] for row in conn.execute(sql, [index_id, *part]))
    return wanted - have


def fetch_vectors(
    conn: Any, ids: Sequence[int], dim: int
) -> tuple[list[int], list[str], FloatArray]:
    """(rowids, content hashes, float vectors) of embedding rows, in rowid order.

    One ``IN (...)`` query per 900 ids, rows asked for in rowid order so SQLite walks the
    table b-tree forwards; the blobs become one matrix with a single copy.
    """
    id_list = sorted({int(i) for i in ids})
    rows: list[tuple[int, str, bytes]] = []
    for start in range(0, len(id_list), 900):
        part = id_list[start : start + 900]
        rows += conn.execute(
            "SELECT id, content_hash, vector FROM embeddings"
            f" WHERE id IN ({', '.join('?' * len(part))}) ORDER BY id",
            part,
        ).fetchall()
    mat = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), dim)
    return [r[0] for r in rows], [r[1] for r in rows], mat


def exact_scan(
    conn: Any, index_id: int, query: FloatArray, k: int, dim: int
) -> list[tuple[str, float]]:
    """Reference exact search over every float vector (slow; tests and checks only)."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    hashes: list[str] = []
    scores = np.empty(0, dtype=np.float32)
    cur = conn.execute(
        "SELECT content_hash, vector FROM embeddings WHERE index_id = ?", (index_id,)
    )
    while batch := cur.fetchmany(20_000):
        mat = np.frombuffer(b"".join(r[1] for r in batch), dtype=np.float32).reshape(-1, dim)
        hashes += [r[0] for r in batch]
        scores = np.concatenate([scores, mat @ q])
        if len(scores) > 4 * k:  # keep the running best k only
            keep = np.argpartition(-scores, k)[:k]
            hashes, scores = [hashes[i] for i in keep], scores[keep]
    order = np.argsort(-scores, kind="stable")[:k]
    return [(hashes[i], float(scores[i])) for i in order]


def rescore_all(
    conn: Any, query: FloatArray, ids: Sequence[int], dim: int
) -> list[tuple[str, float]]:
    """Exact cosine (dot of unit vectors) for every given rowid, best first (filtered exact)."""
    _, hashes, mat = fetch_vectors(conn, ids, dim)
    scores = mat @ np.asarray(query, dtype=np.float32).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    return [(hashes[i], float(scores[i])) for i in order]
