"""Vector and keyword search over the active index, filters applied inside the search."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from storage import fts, lexical, prefilter, vectors
from storage.base import HIT_CHUNK_COLS, StoreBase, chunk_record
from storage.errors import FingerprintMismatch
from storage.filters import filter_sql
from storage.models import Chunk, Fingerprint, Hit, SearchFilters
from storage.prefilter import BinaryIndex
from storage.vectors import FloatArray


class RetrievalMixin(StoreBase):
    """``vector_search`` (approximate by default, ``exact=True`` for the reference),
    ``keyword_search``, ``query_languages``, and the stored vectors of given chunks
    (``cosines``) or of one file (``file_vectors``)."""

    def vector_search(
        self,
        query: FloatArray,
        k: int,
        filters: SearchFilters | None = None,
        *,
        fingerprint: Fingerprint | None = None,
        exact: bool = False,
    ) -> list[Hit]:
        """Chunks nearest to ``query`` (cosine), filters applied inside the search.

        Default path: ``storage.prefilter`` (in-memory sign bits, adaptive depth, exact
        float rescoring of the candidates).
        ``exact=True`` scans every float vector (the reference). Raises
        FingerprintMismatch when ``fingerprint`` is given and differs from the index's.
        """
        with self.transaction("DEFERRED"):  # one snapshot, even across an index swap
            active = self._index_id("active_index")
            fp = self._index_fp(active)
            if active is None or fp is None:
                return []
            if fingerprint is not None and not fp.query_compatible(fingerprint):
                raise FingerprintMismatch(fp, fingerprint)
            q = _query_at(query, fp)
            scored = self._score_hashes(active, fp.dim, q, k, filters, exact)
            return self._hashes_to_hits(scored, k, filters)

    def _score_hashes(
        self,
        index_id: int,
        dim: int,
        q: FloatArray,
        k: int,
        filters: SearchFilters | None,
        exact: bool,
    ) -> list[tuple[str, float]]:
        if exact and (filters is None or not filters.active):
            return vectors.exact_scan(self.conn, index_id, q, 4 * k + 16, dim)
        index = self._binary(index_id, dim)
        rows = None
        if filters is not None and filters.active:
            where, params = filter_sql(filters)
            ids = self.conn.execute(
                "SELECT e.id FROM files f JOIN chunks c ON c.file_id = f.id"
                " JOIN embeddings e ON e.index_id = ? AND e.content_hash = c.content_hash"
                f" WHERE {where} UNION"
                " SELECT e.id FROM files f JOIN chunks c ON c.file_id = f.id"
                " JOIN embeddings e ON e.index_id = ? AND e.content_hash = c.lead_hash"
                f" WHERE {where}",
                [index_id, *params, index_id, *params],
            )
            rows = index.rows_for_ids(r[0] for r in ids)
        if exact:
            assert rows is not None
            return vectors.rescore_all(self.conn, q, index.ids[rows].tolist(), dim)
        return prefilter.search(self.conn, index, q, k, rows)

    def load_vector_index(self) -> int:
        """Load the active index's sign bits into memory now; returns the rows held.

        Searches load them on first use anyway; the window calls this right after launch,
        off the main thread, so the first query does not wait. Only the persisted bit
        blocks are read (~136 MB at 1M x 1024), never the float vectors.
        """
        with self.transaction("DEFERRED"):
            active = self._index_id("active_index")
            fp = self._index_fp(active)
            if active is None or fp is None:
                return 0
            return len(self._binary(active, fp.dim))

    def _binary(self, index_id: int, dim: int) -> BinaryIndex:
        if self._bin is None or self._bin.index_id != index_id:
            self._bin = BinaryIndex(index_id, dim)
        self._bin.refresh(self.conn)
        return self._bin

    def _hashes_to_hits(
        self, scored: list[tuple[str, float]], k: int, filters: SearchFilters | None
    ) -> list[Hit]:
        """Expand content hashes into the (filtered) chunks that carry them, best first.

        A hash is a chunk's own or the lead of a first chunk (``app/leads.py``); a chunk
        scores the better of the two. Hashes go in score order, in growing batches, until
        ``k`` chunks are found: later hashes score lower, so they cannot displace those
        (orphaned vectors find none).
        """
        score_of = dict(scored)
        where, params = filter_sql(filters)
        best: dict[int, float] = {}
        pos, step = 0, max(k, 16)
        while pos < len(scored) and len(best) < k:
            part = [h for h, _ in scored[pos : pos + step]]
            pos, step = pos + len(part), min(500, 2 * step)
            marks = ", ".join("?" * len(part))
            rows = self.conn.execute(
                "SELECT c.id, c.content_hash FROM chunks c JOIN files f ON f.id = c.file_id"
                f" WHERE c.content_hash IN ({marks}) AND {where} UNION ALL"
                " SELECT c.id, c.lead_hash FROM chunks c JOIN files f ON f.id = c.file_id"
                f" WHERE c.lead_hash IN ({marks}) AND {where}",
                [*part, *params, *part, *params],
            )
            for chunk_id, digest in rows:
                best[chunk_id] = max(best.get(chunk_id, -2.0), score_of[digest])
        hits = [Hit(chunk_id, score) for chunk_id, score in best.items()]
        hits.sort(key=lambda h: (-h.score, h.chunk_id))
        return hits[:k]

    def keyword_search(
        self,
        query: str,
        k: int,
        filters: SearchFilters | None = None,
        weights: fts.KeywordWeights = fts.DEFAULT_WEIGHTS,
    ) -> list[Hit]:
        """BM25 keyword hits (higher score is better); any user input is safe."""
        return fts.search(self.conn, query, k, filters, weights)

    def cosines(self, query: FloatArray, chunk_ids: Iterable[int]) -> dict[int, float]:
        """Exact cosine of ``query`` to each chunk's stored vector (chunks without one are
        left out): every candidate gets a comparable score, whichever list found it."""
        ids = list(dict.fromkeys(int(i) for i in chunk_ids))
        with self.transaction("DEFERRED"):
            active = self._index_id("active_index")
            fp = self._index_fp(active)
            if active is None or fp is None or not ids:
                return {}
            q = _query_at(query, fp)  # a rebuild may have swapped dimensions since the query
            rows = self._vector_rows(active, ids)
            if not rows:
                return {}
            mat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            scores = mat.reshape(len(rows), fp.dim) @ q
        best: dict[int, float] = {}
        for row, value in zip(rows, scores, strict=True):  # a first chunk: the better of two
            best[int(row[0])] = max(best.get(int(row[0]), -2.0), float(value))
        return best

    def _vector_rows(self, index_id: int, ids: list[int]) -> list[tuple[int, bytes]]:
        """(chunk id, float32 vector bytes) of the given chunks under one vector index:
        each chunk's own vector and, for a first chunk, its lead's."""
        rows: list[tuple[int, bytes]] = []
        for start in range(0, len(ids), 450):
            part = ids[start : start + 450]
            marks = ", ".join("?" * len(part))
            rows += self.conn.execute(
                "SELECT c.id, e.vector FROM chunks c JOIN embeddings e"
                " ON e.index_id = ? AND e.content_hash = c.content_hash"
                f" WHERE c.id IN ({marks}) UNION ALL"
                " SELECT c.id, e.vector FROM chunks c JOIN embeddings e"
                " ON e.index_id = ? AND e.content_hash = c.lead_hash"
                f" WHERE c.id IN ({marks}) AND c.lead_hash IS NOT NULL",
                [index_id, *part, index_id, *part],
            ).fetchall()
        return rows

    def file_vectors(self, path: str) -> tuple[list[Chunk], FloatArray]:
        """A file's chunks that have vectors, in order, and those vectors (one row each).

        What "more like this" searches with: stored vectors, so no model is needed.
        """
        with self.transaction("DEFERRED"):
            active = self._index_id("active_index")
            fp = self._index_fp(active)
            rows = self.conn.execute(
                f"SELECT {HIT_CHUNK_COLS}, e.vector FROM chunks c JOIN files f ON f.id = c.file_id"
                " JOIN embeddings e ON e.index_id = ? AND e.content_hash = c.content_hash"
                " WHERE f.path = ? ORDER BY c.ordinal",
                (active, path),
            ).fetchall()
        if fp is None or not rows:
            return [], np.empty((0, 0), dtype=np.float32)
        chunks = [chunk_record(r[:-1]) for r in rows]
        mat = np.frombuffer(b"".join(r[-1] for r in rows), dtype=np.float32)
        return chunks, mat.reshape(len(rows), fp.dim)

    def query_languages(self, query: str) -> list[str]:
        """Languages ``query`` plausibly is in, among those of the indexed chunks."""
        return lexical.query_languages(query, fts.index_languages(self.conn))


def _query_at(query: FloatArray, fp: Fingerprint) -> FloatArray:
    """``query`` as a flat float32 vector of the index's dimension; a vector of another
    dimension (another model, or a rebuild swapped in meanwhile) is a FingerprintMismatch."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    if q.shape[0] != fp.dim:
        raise FingerprintMismatch(fp, Fingerprint("query vector", "", q.shape[0], "?"))
    return q
