"""The Store: the one owner of Quarry's SQL (files, chunks, vectors, keywords, jobs).

One writer connection per process (``Store.open(path)``), read-only connections for
searches (``Store.open(path, readonly=True)``); WAL lets searches run during indexing.
Every write that must be all-or-nothing runs in one ``BEGIN IMMEDIATE`` transaction.

Vectors live per *vector index*, one per ``Fingerprint`` (model, revision, dim, pooling,
document instruction, chunker version, heading prefix), keyed by chunk content hash: a
moved or copied file finds its vectors already there. A model/dimension change builds a
second index beside the active one (``begin_rebuild`` ... ``finish_rebuild``) and swaps
in one transaction, so search keeps answering from the old index meanwhile.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from storage import fts, jobs, prefilter, schema, vectors
from storage.connection import connect, database_errors
from storage.errors import (
    DatabaseCorrupt,
    DatabaseLocked,
    FingerprintMismatch,
    RebuildError,
    StorageError,
)
from storage.filters import filter_sql
from storage.models import (
    FILE_STATUSES,
    Chunk,
    FileRecord,
    FileStatus,
    Fingerprint,
    Folder,
    Hit,
    Job,
    JobKind,
    NewChunk,
    ProblemFile,
    SearchFilters,
    Stats,
    file_extension,
)
from storage.prefilter import BinaryIndex
from storage.vectors import FloatArray

_FILE_COLS = "id, path, size, mtime, content_hash, status, error, retries, indexed_at, folder_id"
_CHUNK_COLS = (
    'c.id, c.file_id, f.path, c.ordinal, c.text, c.start, c."end", c.content_hash,'
    " c.token_count, c.page, c.heading, f.mtime, f.size"
)
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]")


def has_cjk(text: str) -> bool:
    """True when ``text`` holds Chinese, Japanese or Korean characters (trigram-indexed)."""
    return _CJK.search(text) is not None


def _file(row: Sequence[Any]) -> FileRecord:
    return FileRecord(
        id=row[0],
        path=row[1],
        size=row[2],
        mtime=row[3],
        content_hash=row[4],
        status=row[5],
        error=row[6],
        retries=row[7],
        indexed_at=row[8],
        folder_id=row[9],
    )


def _chunk(row: Sequence[Any]) -> Chunk:
    return Chunk(*row)


class Store:
    """Owns a connection; all SQL of Quarry goes through here (or its helper modules)."""

    def __init__(self, conn: Any, path: Path, readonly: bool) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self._bin: BinaryIndex | None = None

    # ---- lifecycle -------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, *, readonly: bool = False) -> Store:
        """Open (and for the writer, create or migrate) the database at ``path``."""
        target = Path(path)
        if readonly and not target.exists():
            raise StorageError(f"no index at {target} yet; index a folder first")
        conn = connect(target, readonly=readonly)
        try:
            if readonly:
                if schema.version(conn) < schema.SCHEMA_VERSION:
                    raise StorageError(f"{target} needs an upgrade; open it for writing once")
            else:
                schema.migrate(conn)
        except database_errors() as exc:
            conn.close()
            raise DatabaseCorrupt(f"{target} is not a usable Quarry index: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, target, readonly)

    def close(self) -> None:
        """Close the connection; the Store is unusable afterwards."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self, mode: str = "IMMEDIATE") -> Iterator[Any]:
        """One all-or-nothing transaction; driver errors become StorageError subclasses."""
        try:
            self.conn.execute(f"BEGIN {mode}")
        except database_errors() as exc:
            raise _translate(exc) from exc
        try:
            yield self.conn
        except BaseException as exc:
            self.conn.execute("ROLLBACK")
            if isinstance(exc, database_errors()):
                raise _translate(exc) from exc
            raise
        else:
            self.conn.execute("COMMIT")

    # ---- meta and fingerprints ---------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self.conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def _index_id(self, key: str) -> int | None:
        value = self._meta(key)
        return None if value is None else int(value)

    def _index_fp(self, index_id: int | None) -> Fingerprint | None:
        if index_id is None:
            return None
        row = self.conn.execute(
            "SELECT fingerprint FROM vector_indexes WHERE id = ?", (index_id,)
        ).fetchone()
        return None if row is None else Fingerprint.from_json(row[0])

    def _create_index(self, fp: Fingerprint) -> int:
        cur = self.conn.execute(
            "INSERT INTO vector_indexes(fingerprint, fp_key, dim, created_at) VALUES (?, ?, ?, ?)",
            (fp.to_json(), fp.key, fp.dim, time.time()),
        )
        return int(cur.lastrowid)

    def _bump_epoch(self) -> None:
        """Tell in-memory bit matrices (any connection) that vector rows were deleted."""
        self._set_meta("emb_epoch", str(time.time_ns()))

    def fingerprint(self) -> Fingerprint | None:
        """The active index's fingerprint; None before the first vectors are written."""
        return self._index_fp(self._index_id("active_index"))

    def _ensure_active(self, fp: Fingerprint) -> int:
        """Active index id for writes under ``fp``: set on first use, else must match exactly."""
        active = self._index_id("active_index")
        if active is None:
            active = self._create_index(fp)
            self._set_meta("active_index", str(active))
            return active
        current = self._index_fp(active)
        if current is not None and current.key != fp.key:
            raise FingerprintMismatch(current, fp)
        return active

    def ensure_fingerprint(self, fp: Fingerprint) -> None:
        """Record ``fp`` on first use; raise FingerprintMismatch if the index has another."""
        with self.transaction():
            self._ensure_active(fp)

    def check_query(self, fp: Fingerprint) -> None:
        """Refuse a query whose embedding space differs from the active index's."""
        current = self.fingerprint()
        if current is not None and not current.query_compatible(fp):
            raise FingerprintMismatch(current, fp)

    # ---- folders -----------------------------------------------------------------------

    def add_folder(self, path: str) -> Folder:
        """Register a watched folder (idempotent); existing files under it are attached."""
        path = path.rstrip("/\\") or path
        with self.transaction():
            self.conn.execute(
                "INSERT OR IGNORE INTO folders(path, added_at) VALUES (?, ?)", (path, time.time())
            )
            row = self.conn.execute(
                "SELECT id, path, added_at FROM folders WHERE path = ?", (path,)
            ).fetchone()
            self.conn.execute(
                "UPDATE files SET folder_id = ? WHERE substr(path, 1, ?) = ?",
                (row[0], len(path) + 1, path + "/"),
            )
        return Folder(*row)

    def remove_folder(self, path: str) -> int:
        """Forget a folder and every file under it; returns the number of files removed."""
        path = path.rstrip("/\\") or path
        with self.transaction():
            cur = self.conn.execute(
                "DELETE FROM files WHERE substr(path, 1, ?) = ?", (len(path) + 1, path + "/")
            )
            self.conn.execute("DELETE FROM folders WHERE path = ?", (path,))
        return int(cur.rowcount)

    def folders(self) -> list[Folder]:
        """Watched folders, by path."""
        rows = self.conn.execute("SELECT id, path, added_at FROM folders ORDER BY path")
        return [Folder(*r) for r in rows]

    def _folder_for(self, path: str) -> int | None:
        row = self.conn.execute(
            "SELECT id FROM folders WHERE substr(?, 1, length(path) + 1) = path || '/'"
            " ORDER BY length(path) DESC LIMIT 1",
            (path,),
        ).fetchone()
        return None if row is None else int(row[0])

    # ---- files -------------------------------------------------------------------------

    def get_file(self, path: str) -> FileRecord | None:
        """The record for ``path``, or None if the index has never seen it."""
        row = self.conn.execute(f"SELECT {_FILE_COLS} FROM files WHERE path = ?", (path,))
        found = row.fetchone()
        return None if found is None else _file(found)

    def files(self, status: FileStatus | None = None, under: str | None = None) -> list[FileRecord]:
        """Known files, optionally of one status and/or under a folder prefix."""
        sql = f"SELECT {_FILE_COLS} FROM files WHERE 1"
        params: list[object] = []
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        if under is not None:
            prefix = under.rstrip("/\\") + "/"
            sql += " AND substr(path, 1, ?) = ?"
            params += [len(prefix), prefix]
        return [_file(r) for r in self.conn.execute(sql + " ORDER BY path", params)]

    def files_by_content_hash(self, content_hash: str) -> list[FileRecord]:
        """Files whose bytes hash to ``content_hash`` (a move/copy source, if still there)."""
        rows = self.conn.execute(
            f"SELECT {_FILE_COLS} FROM files WHERE content_hash = ? ORDER BY path",
            (content_hash,),
        )
        return [_file(r) for r in rows]

    def missing_embeddings(self, hashes: Iterable[str]) -> set[str]:
        """Chunk content hashes with no vector under the active fingerprint yet.

        The pipeline embeds only these; everything else is reused (moves, copies, edits
        that leave most chunks unchanged).
        """
        return vectors.missing_hashes(self.conn, self._index_id("active_index"), hashes)

    def write_file(
        self,
        path: str,
        *,
        size: int,
        mtime: float,
        content_hash: str,
        chunks: Sequence[NewChunk],
        vectors_by_hash: Mapping[str, FloatArray],
        fingerprint: Fingerprint,
    ) -> FileRecord:
        """Replace ``path``'s chunks and vectors in ONE transaction; status becomes ok.

        ``vectors_by_hash`` must hold a vector for every hash ``missing_embeddings`` reported
        (extra ones are ignored). Any exception leaves the file's previous state intact.
        Raises FingerprintMismatch if the index was built under another fingerprint.
        """
        with self.transaction():
            index_id = self._ensure_active(fingerprint)
            file_id = self._upsert_file(path, size, mtime, content_hash, "ok", None, 0)
            self.conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
            self.conn.executemany(
                'INSERT INTO chunks(file_id, ordinal, text, start, "end", page, heading,'
                " token_count, content_hash, cjk) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        file_id,
                        c.ordinal,
                        c.text,
                        c.start,
                        c.end,
                        c.page,
                        c.heading,
                        c.token_count,
                        c.content_hash,
                        int(has_cjk(c.text)),
                    )
                    for c in chunks
                ],
            )
            needed = sorted(
                vectors.missing_hashes(self.conn, index_id, (c.content_hash for c in chunks))
            )
            absent = [h for h in needed if h not in vectors_by_hash]
            if absent:
                raise StorageError(f"{path}: no vector given for {len(absent)} new chunk(s)")
            if needed:
                mat = np.stack([np.asarray(vectors_by_hash[h], dtype=np.float32) for h in needed])
                vectors.insert_vectors(self.conn, index_id, needed, mat, fingerprint.dim)
        record = self.get_file(path)
        assert record is not None
        return record

    def _upsert_file(
        self,
        path: str,
        size: int,
        mtime: float,
        content_hash: str,
        status: FileStatus,
        error: str | None,
        retries: int,
    ) -> int:
        now = time.time() if status in ("ok", "skipped", "failed") else None
        self.conn.execute(
            "INSERT INTO files(path, folder_id, ext, size, mtime, content_hash, status, error,"
            " retries, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(path) DO UPDATE SET folder_id = excluded.folder_id,"
            " ext = excluded.ext, size = excluded.size, mtime = excluded.mtime,"
            " content_hash = excluded.content_hash, status = excluded.status,"
            " error = excluded.error, retries = excluded.retries,"
            " indexed_at = excluded.indexed_at",
            (
                path,
                self._folder_for(path),
                file_extension(path),
                size,
                mtime,
                content_hash,
                status,
                error,
                retries,
                now,
            ),
        )
        row = self.conn.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        return int(row[0])

    def mark_pending(self, path: str, *, size: int = 0, mtime: float = 0.0) -> FileRecord:
        """Record a file as seen but not processed (its old chunks stay searchable)."""
        with self.transaction():
            old = self.get_file(path)
            retries = old.retries if old else 0
            digest = old.content_hash if old else ""
            if old is not None and old.status == "ok":
                self.conn.execute("UPDATE files SET status = 'pending' WHERE id = ?", (old.id,))
            else:
                self._upsert_file(path, size, mtime, digest, "pending", None, retries)
        return self._require(path)

    def mark_skipped(
        self, path: str, reason: str, *, size: int = 0, mtime: float = 0.0, content_hash: str = ""
    ) -> FileRecord:
        """Record a deliberate skip (binary, too big, excluded type); drops its chunks."""
        return self._mark(path, "skipped", reason, size, mtime, content_hash, bump=False)

    def mark_failed(
        self, path: str, reason: str, *, size: int = 0, mtime: float = 0.0, content_hash: str = ""
    ) -> FileRecord:
        """Record a failure and count the attempt (``retries``); drops its chunks."""
        return self._mark(path, "failed", reason, size, mtime, content_hash, bump=True)

    def _mark(
        self,
        path: str,
        status: FileStatus,
        reason: str,
        size: int,
        mtime: float,
        content_hash: str,
        *,
        bump: bool,
    ) -> FileRecord:
        with self.transaction():
            old = self.get_file(path)
            retries = (old.retries if old else 0) + (1 if bump else 0)
            file_id = self._upsert_file(path, size, mtime, content_hash, status, reason, retries)
            self.conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
        return self._require(path)

    def _require(self, path: str) -> FileRecord:
        record = self.get_file(path)
        if record is None:  # pragma: no cover - written in the same call
            raise StorageError(f"{path} vanished from the index")
        return record

    def delete_file(self, path: str) -> bool:
        """Forget ``path`` and its chunks (vectors stay for reuse until ``vacuum``)."""
        with self.transaction():
            cur = self.conn.execute("DELETE FROM files WHERE path = ?", (path,))
        return bool(cur.rowcount)

    def delete_under(self, prefix: str) -> int:
        """Forget every file under a folder prefix; returns how many."""
        prefix = prefix.rstrip("/\\") + "/"
        with self.transaction():
            cur = self.conn.execute(
                "DELETE FROM files WHERE substr(path, 1, ?) = ?", (len(prefix), prefix)
            )
        return int(cur.rowcount)

    def move_file(self, old: str, new: str) -> bool:
        """Rename a file in place, keeping its chunks and vectors; False if ``old`` is unknown.

        An existing record at ``new`` (e.g. the target of a save-by-rename) is replaced.
        """
        with self.transaction():
            if self.get_file(old) is None:
                return False
            self.conn.execute("DELETE FROM files WHERE path = ?", (new,))
            self.conn.execute(
                "UPDATE files SET path = ?, ext = ?, folder_id = ? WHERE path = ?",
                (new, file_extension(new), self._folder_for(new), old),
            )
        return True

    def chunks(self, path: str) -> list[Chunk]:
        """A file's chunks in order."""
        rows = self.conn.execute(
            f"SELECT {_CHUNK_COLS} FROM chunks c JOIN files f ON f.id = c.file_id"
            " WHERE f.path = ? ORDER BY c.ordinal",
            (path,),
        )
        return [_chunk(r) for r in rows]

    def chunks_by_id(self, ids: Iterable[int]) -> dict[int, Chunk]:
        """Chunks (with their file's path, mtime, size) for the given ids."""
        id_list = list(dict.fromkeys(int(i) for i in ids))
        out: dict[int, Chunk] = {}
        for start in range(0, len(id_list), 900):
            part = id_list[start : start + 900]
            rows = self.conn.execute(
                f"SELECT {_CHUNK_COLS} FROM chunks c JOIN files f ON f.id = c.file_id"
                f" WHERE c.id IN ({', '.join('?' * len(part))})",
                part,
            )
            out.update((r[0], _chunk(r)) for r in rows)
        return out

    # ---- job queue ---------------------------------------------------------------------

    def enqueue(self, paths: Iterable[str], kind: JobKind = "index") -> int:
        """Persist work for ``paths``; a newer event for a queued path replaces its kind."""
        with self.transaction():
            return jobs.enqueue(self.conn, paths, kind)

    def claim_jobs(self, limit: int = 1) -> list[Job]:
        """Take up to ``limit`` queued jobs (oldest first); finish them with ``finish_jobs``."""
        with self.transaction():
            return jobs.claim(self.conn, limit)

    def finish_jobs(self, job_ids: Iterable[int]) -> None:
        """Drop done jobs (also call this after marking a file failed)."""
        with self.transaction():
            jobs.finish(self.conn, job_ids)

    def requeue_claimed(self) -> int:
        """After a crash: put claimed-but-unfinished jobs back; call once at pipeline start."""
        with self.transaction():
            return jobs.requeue_claimed(self.conn)

    def job_counts(self) -> dict[str, int]:
        """Jobs per state ('queued', 'claimed')."""
        return jobs.counts(self.conn)

    # ---- background rebuild for a new model / dimension --------------------------------

    def rebuilding(self) -> Fingerprint | None:
        """The fingerprint being built beside the active index, if any."""
        return self._index_fp(self._index_id("building_index"))

    def begin_rebuild(self, fp: Fingerprint) -> None:
        """Start (or restart under another fingerprint) a second index beside the active one.

        With no active index yet, ``fp`` simply becomes the active fingerprint.
        """
        with self.transaction():
            active = self._index_id("active_index")
            if active is None:
                self._ensure_active(fp)
                return
            current = self._index_fp(active)
            if current is not None and current.key == fp.key:
                raise RebuildError(f"the index already uses {fp.describe()}")
            building = self._index_id("building_index")
            if building is not None:
                if (self._index_fp(building) or fp).key == fp.key:
                    return  # resume after a restart
                self.conn.execute("DELETE FROM vector_indexes WHERE id = ?", (building,))
                self._bump_epoch()
            self._set_meta("building_index", str(self._create_index(fp)))

    def _building(self) -> int:
        building = self._index_id("building_index")
        if building is None:
            raise RebuildError("no rebuild in progress; call begin_rebuild first")
        return building

    def rebuild_missing(self, limit: int = 256) -> list[Chunk]:
        """Up to ``limit`` chunks (one per content hash) still lacking a new-index vector.

        The pipeline embeds each chunk's text exactly as it embeds documents (heading prefix
        included when the new fingerprint says so) and hands the results to
        ``add_rebuild_vectors``. An empty list means the new index is complete.
        """
        building = self._building()
        rows = self.conn.execute(
            f"SELECT {_CHUNK_COLS} FROM chunks c JOIN files f ON f.id = c.file_id"
            " WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.index_id = ?"
            " AND e.content_hash = c.content_hash) GROUP BY c.content_hash LIMIT ?",
            (building, limit),
        )
        return [_chunk(r) for r in rows]

    def add_rebuild_vectors(self, hashes: Sequence[str], vecs: FloatArray) -> None:
        """Store new-index vectors for content hashes (rows aligned with ``hashes``)."""
        with self.transaction():
            building = self._building()
            fp = self._index_fp(building)
            assert fp is not None
            vectors.insert_vectors(self.conn, building, hashes, vecs, fp.dim)

    def finish_rebuild(self) -> Fingerprint:
        """Atomically make the new index active and drop the old one.

        Raises RebuildError if chunks written meanwhile still lack new vectors: drive
        ``rebuild_missing`` again, then retry. Returns the now-active fingerprint.
        """
        with self.transaction():
            building = self._building()
            left = self.conn.execute(
                "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM embeddings e"
                " WHERE e.index_id = ? AND e.content_hash = c.content_hash)",
                (building,),
            ).fetchone()[0]
            if left:
                raise RebuildError(f"{left} chunk(s) still lack vectors in the new index")
            old = self._index_id("active_index")
            self._set_meta("active_index", str(building))
            self._set_meta("building_index", None)
            if old is not None:
                self.conn.execute("DELETE FROM vector_indexes WHERE id = ?", (old,))
            self._bump_epoch()
            fp = self._index_fp(building)
        assert fp is not None
        return fp

    def cancel_rebuild(self) -> None:
        """Abandon a rebuild; the active index is untouched."""
        with self.transaction():
            building = self._index_id("building_index")
            if building is not None:
                self.conn.execute("DELETE FROM vector_indexes WHERE id = ?", (building,))
                self._set_meta("building_index", None)
                self._bump_epoch()

    # ---- search ------------------------------------------------------------------------

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
            q = np.asarray(query, dtype=np.float32).reshape(-1)
            if q.shape[0] != fp.dim:
                raise FingerprintMismatch(fp, Fingerprint("query vector", "", q.shape[0], "?"))
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
                "SELECT DISTINCT e.id FROM files f JOIN chunks c ON c.file_id = f.id"
                " JOIN embeddings e ON e.index_id = ? AND e.content_hash = c.content_hash"
                f" WHERE {where}",
                [index_id, *params],
            )
            rows = index.rows_for_ids(r[0] for r in ids)
        if exact:
            assert rows is not None
            return vectors.rescore_all(self.conn, q, index.ids[rows].tolist(), dim)
        return prefilter.search(self.conn, index, q, k, rows)

    def _binary(self, index_id: int, dim: int) -> BinaryIndex:
        if self._bin is None or self._bin.index_id != index_id:
            self._bin = BinaryIndex(index_id, dim)
        self._bin.refresh(self.conn)
        return self._bin

    def _hashes_to_hits(
        self, scored: list[tuple[str, float]], k: int, filters: SearchFilters | None
    ) -> list[Hit]:
        """Expand content hashes into the (filtered) chunks that carry them, best first.

        Hashes go in score order, in growing batches, until ``k`` chunks are found: later
        hashes score lower, so they cannot displace those (orphaned vectors find none).
        """
        score_of = dict(scored)
        where, params = filter_sql(filters)
        hits: list[Hit] = []
        pos, step = 0, max(k, 16)
        while pos < len(scored) and len(hits) < k:
            part = [h for h, _ in scored[pos : pos + step]]
            pos, step = pos + len(part), min(500, 2 * step)
            rows = self.conn.execute(
                "SELECT c.id, c.content_hash FROM chunks c JOIN files f ON f.id = c.file_id"
                f" WHERE c.content_hash IN ({', '.join('?' * len(part))}) AND {where}",
                [*part, *params],
            )
            hits += [Hit(r[0], score_of[r[1]]) for r in rows]
        hits.sort(key=lambda h: (-h.score, h.chunk_id))
        return hits[:k]

    def keyword_search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[Hit]:
        """BM25 keyword hits (higher score is better); any user input is safe."""
        return fts.search(self.conn, query, k, filters)

    # ---- maintenance -------------------------------------------------------------------

    def stats(self, problem_limit: int = 200) -> Stats:
        """Counts for ``quarry status`` and the window's status bar."""
        by_status: dict[str, int] = dict.fromkeys(FILE_STATUSES, 0)
        by_status.update(self.conn.execute("SELECT status, count(*) FROM files GROUP BY status"))
        chunks = self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        active = self._index_id("active_index")
        embeddings = self.conn.execute(
            "SELECT count(*) FROM embeddings WHERE index_id = ?", (active or -1,)
        ).fetchone()[0]
        problems = [
            ProblemFile(r[0], r[1], r[2], r[3])
            for r in self.conn.execute(
                "SELECT path, status, error, retries FROM files"
                " WHERE status IN ('skipped', 'failed') ORDER BY status, path LIMIT ?",
                (problem_limit,),
            )
        ]
        return Stats(
            files=by_status,
            chunks=chunks,
            embeddings=embeddings,
            db_bytes=self._db_bytes(),
            fingerprint=self.fingerprint(),
            rebuilding=self.rebuilding(),
            queued_jobs=self.job_counts().get("queued", 0),
            problems=problems,
        )

    def _db_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += Path(str(self.path) + suffix).stat().st_size
        return total

    def integrity_check(self) -> list[str]:
        """Problems found by SQLite (and FTS on the writer); an empty list means healthy."""
        rows = [r[0] for r in self.conn.execute("PRAGMA integrity_check")]
        problems = [r for r in rows if r != "ok"]
        if not self.readonly:
            for table in ("chunks_fts", "chunks_tri"):
                try:
                    self.conn.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
                except database_errors() as exc:
                    problems.append(f"{table}: {exc}")
        return problems

    def prune_embeddings(self) -> int:
        """Drop vectors no chunk references any more (kept until now for cheap re-adds)."""
        with self.transaction():
            cur = self.conn.execute(
                "DELETE FROM embeddings WHERE NOT EXISTS"
                " (SELECT 1 FROM chunks c WHERE c.content_hash = embeddings.content_hash)"
            )
            if cur.rowcount:
                self._bump_epoch()
        return int(cur.rowcount)

    def vacuum(self) -> int:
        """Prune orphan vectors, optimise FTS, VACUUM and truncate the WAL; returns bytes saved."""
        before = self._db_bytes()
        self.prune_embeddings()
        with self.transaction():
            for table in ("chunks_fts", "chunks_tri"):
                self.conn.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
        self.conn.execute("VACUUM")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return max(0, before - self._db_bytes())


def _translate(exc: BaseException) -> StorageError:
    """Map a driver error to the storage tree (environment faults get calm messages)."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return DatabaseLocked(f"the index is busy (another Quarry is writing): {exc}")
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return DatabaseCorrupt(f"the index file is damaged ({exc}); delete it and re-index")
    return StorageError(str(exc))
