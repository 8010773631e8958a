"""Phase 2's work list: files whose chunks still lack vectors in an index, in priority order.

Phase 1 (``Store.write_file``) writes chunks and keywords and, in the same transaction,
records here how many of the file's chunks still need a vector in each index being filled
(the active one, and the one being rebuilt beside it). Phase 2 asks ``embedding_work`` for
a batch, embeds it, and hands the vectors to ``add_vectors``, which commits them and
settles the files in one transaction: a file leaves the backlog, and so becomes searchable
by meaning, the moment its last vector commits. ``kill -9`` at any point leaves either the
old or the new state, and the next run picks up where the last commit left off.

Order: ``band`` (opened from the results > matched a search > the rest), then ``turns``
(slices already taken: a big file is embedded a slice at a time and yields to the files
that have had none), then the most recently modified first.

Counts for progress come from ``embed_totals``, which triggers keep in step with every
insert, update and delete here (cascades included): reading them costs one row, however
large the backlog.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from storage import vectors
from storage.base import StoreBase
from storage.errors import FingerprintMismatch
from storage.models import Backlog, EmbedWork, Fingerprint, PendingChunk
from storage.vectors import FloatArray


def _missing(column: str) -> str:
    """SQL: chunk ``c``'s ``column`` hash has no vector in the index bound to ``?``."""
    return (
        "NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.index_id = ?"
        f" AND e.content_hash = c.{column})"
    )


#: A lead's tokens, estimated from its share of its chunk's characters (not stored).
LEAD_TOKENS = "(c.token_count * c.lead_end) / max(length(c.text), 1)"

#: Every text of one file that still needs a vector in an index (bound: file, index, file,
#: index): its chunks, and the leads of its first chunks (``app/leads.py``).
_WANTED = (
    "SELECT c.ordinal AS ordinal, 0 AS lead, c.content_hash AS hash, c.text AS text,"
    " c.heading AS heading, c.token_count AS tokens, NULL AS lead_end FROM chunks c"
    f" WHERE c.file_id = ? AND {_missing('content_hash')}"
    " UNION ALL"
    f" SELECT c.ordinal, 1, c.lead_hash, c.text, c.heading, {LEAD_TOKENS}, c.lead_end"
    f" FROM chunks c WHERE c.file_id = ? AND c.lead_hash IS NOT NULL AND {_missing('lead_hash')}"
)


def remaining(conn: Any, index_id: int, file_id: int) -> tuple[int, int]:
    """(texts, tokens) of a file that still lack a vector in an index (chunks and leads)."""
    row = conn.execute(
        f"SELECT count(*), coalesce(sum(tokens), 0) FROM ({_WANTED})",
        (file_id, index_id, file_id, index_id),
    ).fetchone()
    return int(row[0]), int(row[1])


def settle_file(conn: Any, index_id: int, file_id: int, mtime: float, *, fresh: bool) -> bool:
    """Bring one file's backlog row in step with its chunks; True when nothing is left.

    ``fresh`` (phase 1 rewrote the file) resets turns and failures; otherwise the file has
    just had a turn, so it yields to files that have had fewer.
    """
    chunks, tokens = remaining(conn, index_id, file_id)
    if not chunks:
        conn.execute(
            "DELETE FROM embed_queue WHERE index_id = ? AND file_id = ?", (index_id, file_id)
        )
        return True
    if fresh:
        conn.execute(
            "INSERT INTO embed_queue(index_id, file_id, mtime, chunks, tokens)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(index_id, file_id) DO UPDATE SET"
            " mtime = excluded.mtime, chunks = excluded.chunks, tokens = excluded.tokens,"
            " turns = 0, failures = 0, error = NULL",
            (index_id, file_id, mtime, chunks, tokens),
        )
    else:
        conn.execute(
            "UPDATE embed_queue SET chunks = ?, tokens = ?, turns = turns + 1"
            " WHERE index_id = ? AND file_id = ?",
            (chunks, tokens, index_id, file_id),
        )
    return False


def enqueue_all(conn: Any, index_id: int) -> None:
    """Put every indexed file in an index's backlog (a rebuild starts from nothing)."""
    conn.execute(
        "INSERT OR IGNORE INTO embed_queue(index_id, file_id, mtime, chunks, tokens)"
        " SELECT ?, f.id, f.mtime, count(*) + count(c.lead_hash),"
        f" coalesce(sum(c.token_count), 0) + coalesce(sum({LEAD_TOKENS}), 0)"
        " FROM files f JOIN chunks c ON c.file_id = f.id WHERE f.status = 'ok' GROUP BY f.id",
        (index_id,),
    )


def totals(conn: Any, index_id: int | None) -> Backlog:
    """The trigger-kept totals of an index's backlog (one row read)."""
    if index_id is None:
        return Backlog()
    row = conn.execute(
        "SELECT files, chunks, tokens FROM embed_totals WHERE index_id = ?", (index_id,)
    ).fetchone()
    return Backlog() if row is None else Backlog(int(row[0]), int(row[1]), int(row[2]))


def _pending(conn: Any, index_id: int, file_id: int, limit: int) -> list[PendingChunk]:
    """A file's texts still without a vector, in reading order; a lead right after its
    chunk, carrying only the lead's text."""
    rows = conn.execute(
        f"SELECT hash, text, heading, tokens, lead_end FROM ({_WANTED})"
        " ORDER BY ordinal, lead LIMIT ?",
        (file_id, index_id, file_id, index_id, limit),
    )
    return [
        PendingChunk(file_id, r[0], r[1] if r[4] is None else r[1][: r[4]], r[2], int(r[3]))
        for r in rows
    ]


def next_work(
    conn: Any,
    index_id: int,
    *,
    max_tokens: int,
    max_chunks: int,
    slice_chunks: int,
    max_failures: int,
) -> EmbedWork:
    """The next batch in priority order: at most ``slice_chunks`` chunks from any one file.

    Stops at ``max_tokens`` or ``max_chunks`` (always at least one chunk when there is
    one). Files found with nothing left are listed too, so the commit drops them.
    """
    chunks: list[PendingChunk] = []
    taken: set[str] = set()
    file_ids: list[int] = []
    tokens = 0
    cur = conn.execute(
        "SELECT file_id FROM embed_queue WHERE index_id = ? AND failures < ?"
        " ORDER BY band DESC, turns, mtime DESC",
        (index_id, max_failures),
    )
    while (tokens < max_tokens and len(chunks) < max_chunks) and (rows := cur.fetchmany(64)):
        for (file_id,) in rows:
            if tokens >= max_tokens or len(chunks) >= max_chunks or len(file_ids) >= 4096:
                break
            file_ids.append(int(file_id))
            room = min(slice_chunks, max_chunks - len(chunks))
            for chunk in _pending(conn, index_id, int(file_id), room):
                if chunk.content_hash in taken:
                    continue
                if chunks and tokens + chunk.token_count > max_tokens:
                    break
                taken.add(chunk.content_hash)
                chunks.append(chunk)
                tokens += chunk.token_count
    cur.close()
    return EmbedWork(chunks, file_ids)


def promote(conn: Any, paths: Sequence[str], band: int) -> int:
    """Raise the files' backlog rows (every index) to at least ``band``; returns rows moved."""
    moved = 0
    for start in range(0, len(paths), 500):
        part = list(paths[start : start + 500])
        cur = conn.execute(
            "UPDATE embed_queue SET band = ? WHERE band < ? AND file_id IN"
            f" (SELECT id FROM files WHERE path IN ({', '.join('?' * len(part))}))",
            [band, band, *part],
        )
        moved += int(cur.rowcount)
    return moved


class BacklogMixin(StoreBase):
    """Phase 2 over the store: ``embedding_work``, ``add_vectors``, ``embedding_failed``,
    ``promote``, ``backlog`` and ``searchable``."""

    def _target(self, fp: Fingerprint) -> int:
        """The index ``fp`` fills: the active one, or the one being rebuilt beside it."""
        for key in ("active_index", "building_index"):
            index_id = self._index_id(key)
            found = self._index_fp(index_id)
            if index_id is not None and found is not None and found.key == fp.key:
                return index_id
        active = self.fingerprint()
        raise FingerprintMismatch(active or fp, fp)

    def embedding_work(
        self,
        fp: Fingerprint,
        *,
        max_tokens: int = 8192,
        max_chunks: int = 256,
        slice_chunks: int = 32,
        max_failures: int = 3,
    ) -> EmbedWork:
        """The next phase-2 batch for the index of ``fp`` (empty: nothing left to do)."""
        with self.transaction("DEFERRED"):
            if self._index_id("active_index") is None:  # nothing written yet
                return EmbedWork([], [])
            return next_work(
                self.conn,
                self._target(fp),
                max_tokens=max_tokens,
                max_chunks=max_chunks,
                slice_chunks=slice_chunks,
                max_failures=max_failures,
            )

    def add_vectors(
        self,
        fp: Fingerprint,
        hashes: Sequence[str],
        vecs: FloatArray,
        file_ids: Iterable[int],
        *,
        tokens_per_s: float | None = None,
    ) -> list[str]:
        """Commit vectors and settle the batch's files in ONE transaction.

        Returns the paths that became searchable by meaning with this commit.
        ``tokens_per_s`` (the embedder's measured speed) is kept for ``quarry status``.
        """
        done: list[str] = []
        file_ids = list(dict.fromkeys(file_ids))
        if not hashes and not file_ids:
            return done
        with self.transaction():
            index_id = self._target(fp)
            vectors.insert_vectors(self.conn, index_id, hashes, vecs, fp.dim)
            for file_id in file_ids:
                if settle_file(self.conn, index_id, file_id, 0.0, fresh=False):
                    row = self.conn.execute("SELECT path FROM files WHERE id = ?", (file_id,))
                    done += [r[0] for r in row]
            if tokens_per_s:
                self._set_meta("embed_rate", f"{tokens_per_s:.3f}")
        return done

    def embedding_failed(
        self, fp: Fingerprint, file_ids: Iterable[int], reason: str
    ) -> list[tuple[str, int]]:
        """Count a failed attempt for these files (they yield); returns (path, failures)."""
        ids = [int(f) for f in dict.fromkeys(file_ids)]
        with self.transaction():
            index_id = self._target(fp)
            self.conn.executemany(
                "UPDATE embed_queue SET failures = failures + 1, turns = turns + 1, error = ?"
                " WHERE index_id = ? AND file_id = ?",
                [(reason[:500], index_id, f) for f in ids],
            )
            out: list[tuple[str, int]] = []
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                out += self.conn.execute(
                    "SELECT f.path, q.failures FROM embed_queue q JOIN files f ON f.id = q.file_id"
                    f" WHERE q.index_id = ? AND q.file_id IN ({', '.join('?' * len(part))})",
                    [index_id, *part],
                ).fetchall()
        return [(str(path), int(n)) for path, n in out]

    def promote(self, paths: Sequence[str], band: int) -> int:
        """Embed these files sooner (opened from results, matching a search)."""
        with self.transaction():
            return promote(self.conn, list(paths), band)

    def backlog(self, fp: Fingerprint | None = None) -> Backlog:
        """Files/chunks/tokens still waiting for vectors (the active index by default)."""
        index_id = self._index_id("active_index") if fp is None else self._target(fp)
        return totals(self.conn, index_id)

    def searchable(self) -> tuple[int, int]:
        """(files searchable by keyword, files searchable by meaning) in the active index."""
        with self.transaction("DEFERRED"):
            row = self.conn.execute("SELECT count(*) FROM files WHERE status = 'ok'").fetchone()
            waiting = totals(self.conn, self._index_id("active_index")).files
        return int(row[0]), max(0, int(row[0]) - waiting)
