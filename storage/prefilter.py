"""Approximate vector search: in-memory sign bits pick candidates, float32 rows rescore them.

Stages, all vectorised (no Python loop over rows):
1. Hamming distance between the query's sign bits and every stored vector's sign bits
   (word-major packed uint64, ``np.bitwise_count``). At 1M x 1024 the bit matrix is 128 MB
   where float32 would need 4 GB: this is what keeps a laptop usable.
2. The ``widen * count`` nearest by Hamming are chosen with a histogram threshold (distances
   are small integers, so ``bincount`` + ``cumsum`` beats ``argpartition``), then scored
   asymmetrically (float query . candidate signs, through a flat per-byte lookup table);
   the best ``count`` survive.
3. Those rows' float32 vectors are read from SQLite in one ``IN (...)`` query per 900 ids
   and rescored exactly.

Adaptive depth: the rescored candidates give (Hamming, asymmetric, exact) triples, so a
least-squares line predicts the exact score at each stage's cut-off. When the best row
left out could still plausibly (prediction + 2 sigma) beat the k-th exact score found, the
candidate set doubles (up to ``MAX_GROWTH`` x). Clustered data (real embeddings) almost
never needs it; near-uniform random vectors do, and pay for it in latency.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from storage import bits
from storage.vectors import FloatArray, fetch_vectors, sign_bits

WIDEN = 8  # Hamming candidates per asymmetric survivor
MAX_GROWTH = 4  # adaptive depth: at most this many times the starting candidate count
CONFIDENCE_Z = 2.0  # how many residual sigmas an excluded row may sit above the cut-off

_SIGNS = (np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1) * 2.0 - 1.0).astype(
    np.float32
)  # (256, 8), most significant bit first, as np.packbits writes them


def candidate_count(n: int, k: int) -> int:
    """Starting number of rows to rescore in float (grown adaptively when unsure)."""
    return min(n, max(160, 8 * k))


class BinaryIndex:
    """In-memory sign-bit matrix of one vector index, kept in step with the table.

    Bits are stored word-major (``words x rows``): XOR + popcount then run over long
    contiguous rows. Scratch buffers are kept between queries; not thread-safe (one per
    Store, and a Store is used by one thread at a time).
    """

    def __init__(self, index_id: int, dim: int) -> None:
        self.index_id = index_id
        self.dim = dim
        self._words = (dim + 63) // 64
        self._ids = np.empty(0, dtype=np.int64)
        self._bits = np.empty((self._words, 0), dtype=np.uint64)
        self._size = 0
        self._max_id = 0
        self._epoch: str | None = None
        self._tail = (0, 0)  # (block number, rows) of the last block loaded
        self._xor = np.empty(0, dtype=np.uint64)
        self._cnt = np.empty(0, dtype=np.uint8)
        self._dist = np.empty(0, dtype=np.uint16)
        self._offsets = (np.arange(self._words * 8) * 256).astype(np.intp)

    def __len__(self) -> int:
        return self._size

    @property
    def ids(self) -> NDArray[np.int64]:
        """Embedding rowids, ascending (rows are appended in rowid order)."""
        return self._ids[: self._size]

    def refresh(self, conn: Any) -> None:
        """Load rows added since the last call; reload everything after deletions.

        Reads the persisted bit blocks (``storage.bits``), never the float vectors: only
        blocks from the last one loaded onwards are fetched, and only when their row count
        moved, so a search on an unchanged index costs one tiny query here.
        """
        row = conn.execute("SELECT value FROM meta WHERE key = 'emb_epoch'").fetchone()
        epoch = row[0] if row else "0"
        if epoch != self._epoch:
            self._size, self._max_id, self._epoch = 0, 0, epoch
            self._tail = (0, 0)
        stored = bits.sizes(conn, self.index_id, self._tail[0])
        if not stored or stored == [self._tail]:
            return
        self._reserve(self._size + sum(rows for _, rows in stored))  # exact: no doubling
        for block in bits.load(conn, self.index_id, self._words, self._tail[0]):
            fresh = block.ids > self._max_id
            if fresh.any():
                self._append(block.ids[fresh], block.bits[fresh])
            self._tail = (block.number, len(block.ids))

    def _reserve(self, need: int) -> None:
        """Room for ``need`` rows: exact on a first load, +25% steps while phase 2 adds rows
        (doubling would let a 1M-row matrix sit in 256 MB for a few new vectors)."""
        if need <= len(self._ids):
            return
        cap = need if not self._size else max(need, len(self._ids) + len(self._ids) // 4, 1024)
        ids = np.empty(cap, dtype=np.int64)
        grown = np.empty((self._words, cap), dtype=np.uint64)
        ids[: self._size] = self._ids[: self._size]
        grown[:, : self._size] = self._bits[:, : self._size]
        self._ids, self._bits = ids, grown

    def _append(self, new_ids: NDArray[np.int64], new_bits: NDArray[np.uint64]) -> None:
        need = self._size + len(new_ids)
        self._reserve(need)
        self._ids[self._size : need] = new_ids
        self._bits[:, self._size : need] = new_bits.T
        self._size = need
        self._max_id = int(new_ids[-1])

    def rows_for_ids(self, ids: Iterable[int]) -> NDArray[np.int64]:
        """Row positions of the given embedding rowids (unknown ids are dropped)."""
        wanted = np.fromiter(ids, dtype=np.int64)
        if not self._size or not len(wanted):
            return np.empty(0, dtype=np.int64)
        pos = np.searchsorted(self.ids, wanted)
        ok = (pos < self._size) & (self.ids[np.minimum(pos, self._size - 1)] == wanted)
        return pos[ok]

    def hamming(self, qbits: NDArray[np.uint64], rows: NDArray[np.int64] | None) -> Any:
        """Hamming distance from ``qbits`` to every row (or to ``rows``), as uint16."""
        bits = self._bits[:, : self._size] if rows is None else self._bits[:, rows]
        n = bits.shape[1]
        if len(self._dist) < n:
            self._xor = np.empty(n, dtype=np.uint64)
            self._cnt = np.empty(n, dtype=np.uint8)
            self._dist = np.empty(n, dtype=np.uint16)
        buf, cnt, dist = self._xor[:n], self._cnt[:n], self._dist[:n]
        dist[:] = 0
        for word in range(self._words):  # words x rows: long contiguous ufunc passes
            np.bitwise_xor(bits[word], qbits[word], out=buf)
            np.bitwise_count(buf, out=cnt)
            np.add(dist, cnt, out=dist)
        return dist

    def asymmetric(self, table: FloatArray, rows: NDArray[np.int64]) -> FloatArray:
        """q . sign(x) for ``rows`` through a flat (bytes x 256) lookup table."""
        codes = np.ascontiguousarray(self._bits[:, rows].T).view(np.uint8)
        return np.take(table, codes + self._offsets).sum(axis=1, dtype=np.float32)


class Prefilter:
    """One query's pass over a BinaryIndex: Hamming once, candidate sets on demand."""

    def __init__(self, index: BinaryIndex, query: FloatArray, rows: NDArray[np.int64] | None):
        self.index = index
        self.rows: NDArray[np.int64] | None = None if rows is None else np.sort(rows)
        self.size = len(index) if rows is None else len(rows)
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        self.dist = index.hamming(sign_bits(q)[0], self.rows)
        self.cum = np.cumsum(np.bincount(self.dist, minlength=index.dim + 1))
        qpad = np.zeros(index._words * 64, dtype=np.float32)
        qpad[: q.shape[0]] = q
        self.table = (qpad.reshape(-1, 8) @ _SIGNS.T).ravel()

    def __len__(self) -> int:
        return self.size

    def _positions(self, local: NDArray[np.int64]) -> NDArray[np.int64]:
        return local if self.rows is None else self.rows[local]

    def select(self, count: int, wide: int) -> Selection:
        """The best ``count`` rows by asymmetric score among the ``wide`` nearest by Hamming."""
        n = len(self)
        if wide >= n:
            local, ham_cut = np.arange(n), np.inf
        else:
            t = int(np.searchsorted(self.cum, wide))  # smallest distance reaching ``wide``
            local = np.flatnonzero(self.dist <= t)
            if len(local) > 2 * wide:  # many ties (e.g. duplicate vectors): trim
                local = local[np.argpartition(self.dist[local], wide - 1)[:wide]]
            ham_cut = float(t + 1)
        asym = self.index.asymmetric(self.table, self._positions(local))
        asym_cut = np.inf
        if count < len(local):
            part = np.argpartition(-asym, count)
            asym_cut = float(asym[part[count]])
            local, asym = local[part[:count]], asym[part[:count]]
        ids = self.index.ids[self._positions(local)]
        return Selection(ids, self.dist[local].astype(np.float64), asym, ham_cut, asym_cut)


@dataclass(frozen=True)
class Selection:
    """Chosen embedding rowids with their stage scores, and the best score left out."""

    ids: NDArray[np.int64]
    hamming: NDArray[np.float64]
    asym: FloatArray
    ham_cut: float  # smallest Hamming distance not taken (inf: all taken)
    asym_cut: float  # best asymmetric score not taken (inf: all taken)


def search(
    conn: Any, index: BinaryIndex, query: FloatArray, k: int, rows: NDArray[np.int64] | None
) -> list[tuple[str, float]]:
    """(content hash, cosine) of likely nearest rows, best first, depth chosen adaptively."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    pre = Prefilter(index, q, rows)
    if not len(pre):
        return []
    start = candidate_count(len(pre), k)
    count = start
    scored: dict[int, tuple[str, float]] = {}
    while True:
        sel = pre.select(count, WIDEN * count)
        new = [i for i in sel.ids.tolist() if i not in scored]
        ids, hashes, mat = fetch_vectors(conn, new, index.dim)
        scored.update(zip(ids, zip(hashes, (mat @ q).tolist(), strict=True), strict=True))
        if count >= len(pre) or 2 * count > MAX_GROWTH * start or _confident(sel, scored, k):
            break
        count = min(len(pre), 2 * count)
    return sorted(scored.values(), key=lambda item: -item[1])


def _confident(sel: Selection, scored: dict[int, tuple[str, float]], k: int) -> bool:
    """True unless a row left out could plausibly beat the k-th exact score found.

    Exact scores of the chosen rows are regressed on their Hamming distance and on their
    asymmetric score; each line is evaluated at its stage's cut-off.
    """
    found = np.array([i in scored for i in sel.ids.tolist()])
    if found.sum() <= max(k, 8):
        return True
    exact = np.array([scored[i][1] for i in sel.ids[found].tolist()])
    kth = float(np.partition(exact, len(exact) - k)[len(exact) - k])
    for x, cut in ((sel.hamming[found], sel.ham_cut), (sel.asym[found], sel.asym_cut)):
        if not np.isfinite(cut) or np.ptp(x) == 0:
            continue
        slope, icept = np.polyfit(x.astype(np.float64), exact, 1)
        sigma = float(np.std(exact - (slope * x + icept)))
        if slope * cut + icept + CONFIDENCE_Z * sigma >= kth:
            return False
    return True
