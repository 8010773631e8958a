"""The Store: the one owner of Quarry's SQL (files, chunks, vectors, keywords, jobs).

One writer connection per process (``Store.open(path)``), read-only connections for
searches (``Store.open(path, readonly=True)``); WAL lets searches run during indexing.
Every write that must be all-or-nothing runs in one ``BEGIN IMMEDIATE`` transaction.

Indexing has two phases: ``write_file`` stores a file's chunks and keywords (searchable at
once), and phase 2 (``storage.backlog``) adds their vectors later, in priority order.
Vectors live per *vector index*, one per ``Fingerprint`` (model, revision, dim, pooling,
document instruction, chunker version, heading prefix), keyed by chunk content hash: a
moved or copied file finds its vectors already there. A model/dimension change builds a
second index beside the active one (``begin_rebuild`` ... ``finish_rebuild``) and swaps
in one transaction, so search keeps answering from the old index meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from storage import backlog, jobs, lexical, schema, vectors
from storage.backlog import BacklogMixin
from storage.base import (
    CHUNK_COLS,
    FILE_COLS,
    HIT_CHUNK_COLS,
    WINDOW_CHUNK_COLS,
    chunk_record,
    file_record,
    has_cjk,
)
from storage.connection import connect, database_errors
from storage.documents import DocumentsMixin
from storage.errors import DatabaseCorrupt, StorageError, known_error
from storage.leads import LeadsMixin
from storage.maintenance import MaintenanceMixin
from storage.models import (
    Chunk,
    FileRecord,
    FileStatus,
    Fingerprint,
    Folder,
    Job,
    JobKind,
    NewChunk,
    NewDocument,
    Stamps,
    file_extension,
)
from storage.rebuild import RebuildMixin
from storage.retrieval import RetrievalMixin
from storage.vectors import FloatArray

__all__ = ["Store", "has_cjk"]


def _check_analysis() -> None:
    """Keyword analysis runs inside chunk inserts: a missing piece must fail at open, clearly."""
    try:
        lexical.ensure_ready()
    except (ImportError, OSError, ValueError) as exc:
        raise StorageError(
            f"keyword analysis is unavailable ({exc}); reinstall Quarry's py3langid and PyStemmer"
        ) from exc


class Store(
    RetrievalMixin, BacklogMixin, LeadsMixin, RebuildMixin, MaintenanceMixin, DocumentsMixin
):
    """The public storage API: files, chunks, jobs here; search, phase 2, leads, rebuild,
    maintenance, mail documents and the OCR cache in their mixins (``storage.retrieval``,
    ``storage.backlog``, ``storage.leads``, ``storage.rebuild``, ``storage.maintenance``,
    ``storage.documents``)."""

    # ---- lifecycle -------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, *, readonly: bool = False) -> Store:
        """Open (and for the writer, create or migrate) the database at ``path``."""
        target = Path(path)
        if readonly and not target.exists():
            raise StorageError(f"no index at {target} yet; index a folder first")
        if not readonly:
            _check_analysis()
        conn = connect(target, readonly=readonly)
        try:
            if readonly:
                if schema.version(conn) < schema.SCHEMA_VERSION:
                    raise StorageError(f"{target} needs an upgrade; open it for writing once")
            else:
                schema.migrate(conn)
        except database_errors() as exc:
            conn.close()
            known = known_error(exc)
            if known is not None and not isinstance(known, DatabaseCorrupt):
                raise known from exc  # the environment's fault (busy, disk), not a damaged file
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
            # Only rows not yet attached: every start-up reconcile calls this, and
            # rewriting 100,000 unchanged rows each time cost a second of writes.
            self.conn.execute(
                "UPDATE files SET folder_id = ? WHERE path >= ? AND path < ?"
                " AND folder_id IS NOT ?",
                (row[0], path + "/", path + "0", row[0]),  # "0" follows "/"
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
        row = self.conn.execute(f"SELECT {FILE_COLS} FROM files WHERE path = ?", (path,))
        found = row.fetchone()
        return None if found is None else file_record(found)

    def files(self, status: FileStatus | None = None, under: str | None = None) -> list[FileRecord]:
        """Known files, optionally of one status and/or under a folder prefix."""
        sql = f"SELECT {FILE_COLS} FROM files WHERE 1"
        params: list[object] = []
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        if under is not None:
            prefix = under.rstrip("/\\") + "/"
            sql += " AND substr(path, 1, ?) = ?"
            params += [len(prefix), prefix]
        return [file_record(r) for r in self.conn.execute(sql + " ORDER BY path", params)]

    def file_stamps(self, under: str, max_retries: int) -> Stamps:
        """For reconcile: the recorded (size, mtime) of the files under a folder, the paths
        worth another try (pending, or failed fewer than ``max_retries`` times), the files
        skipped as "permission denied" (a chmod changes neither size nor mtime), and which
        files are settled as skipped or failed.

        Plain tuples from one range scan of the path index: 100,000 files in well under a
        second, where building FileRecords would take several.
        """
        prefix = under.rstrip("/\\") + "/"
        rows = self.conn.execute(
            "SELECT path, size, mtime, status, retries, error FROM files"
            " WHERE path >= ? AND path < ? ORDER BY path",
            (prefix, prefix[:-1] + "0"),  # "0" is the character after "/"
        )
        stamps = Stamps({}, [], [], set(), set())
        for path, size, mtime, status, retries, error in rows:
            stamps.known[path] = (size, mtime)
            if status == "pending" or (status == "failed" and retries < max_retries):
                stamps.retry.append(path)
            elif status == "failed":
                stamps.failed.add(path)
            elif status == "skipped":
                stamps.skipped.add(path)
                if "permission denied" in (error or "").lower():
                    stamps.denied.append(path)
        return stamps

    def files_by_content_hash(self, content_hash: str) -> list[FileRecord]:
        """Files whose bytes hash to ``content_hash`` (a move/copy source, if still there)."""
        rows = self.conn.execute(
            f"SELECT {FILE_COLS} FROM files WHERE content_hash = ? ORDER BY path",
            (content_hash,),
        )
        return [file_record(r) for r in rows]

    def missing_embeddings(self, hashes: Iterable[str]) -> set[str]:
        """Chunk content hashes with no vector under the active fingerprint yet.

        Phase 2 embeds only these; everything else is reused (moves, copies, edits that
        leave most chunks unchanged).
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
        fingerprint: Fingerprint,
        vectors_by_hash: Mapping[str, FloatArray] | None = None,
        title: str = "",
        documents: Sequence[NewDocument] = (),
        needs_ocr: int = 0,
    ) -> FileRecord:
        """Phase 1: replace ``path``'s chunks (and keywords) in ONE transaction; status ok.

        The file is keyword-searchable once this returns. Vectors given in
        ``vectors_by_hash`` are stored with it; chunks whose hash still has no vector put
        the file in phase 2's backlog (``storage.backlog``), for the active index and for
        one being rebuilt beside it. Any exception leaves the file's previous state intact.
        ``title`` (the document's own, e.g. HTML ``<title>``) is indexed as a keyword field.
        Raises FingerprintMismatch if the index was built under another fingerprint.
        ``documents``: the messages of a mail file (chunks point at them by ``NewChunk.doc``);
        ``needs_ocr``: pages left unread because OCR is off.
        """
        with self.transaction():
            index_id = self._ensure_active(fingerprint)
            file_id = self._upsert_file(path, size, mtime, content_hash, "ok", None, 0, title)
            self.conn.execute("UPDATE files SET needs_ocr = ? WHERE id = ?", (needs_ocr, file_id))
            self.conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
            self.conn.execute("DELETE FROM documents WHERE file_id = ?", (file_id,))
            self.conn.execute("DELETE FROM mailboxes WHERE file_id = ?", (file_id,))
            self.insert_chunks(file_id, chunks, self.insert_documents(file_id, documents))
            given = [
                h
                for c in chunks
                for h in (c.content_hash, c.lead_hash)
                if h is not None and h in (vectors_by_hash or {})
            ]
            if given and vectors_by_hash is not None:
                mat = np.stack([np.asarray(vectors_by_hash[h], dtype=np.float32) for h in given])
                vectors.insert_vectors(self.conn, index_id, given, mat, fingerprint.dim)
            for target in (index_id, self._index_id("building_index")):
                if target is not None:
                    backlog.settle_file(self.conn, target, file_id, mtime, fresh=True)
        record = self.get_file(path)
        assert record is not None
        return record

    def insert_chunks(
        self, file_id: int, chunks: Sequence[NewChunk], doc_ids: Sequence[int] = ()
    ) -> None:
        """Add chunks to a file (inside the caller's transaction); ``doc_ids[c.doc]`` is
        the stored id of each chunk's document."""
        self.conn.executemany(
            'INSERT INTO chunks(file_id, ordinal, text, start, "end", page, heading,'
            " token_count, content_hash, cjk, ocr, doc_id, lead_end, lead_hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    file_id, c.ordinal, c.text, c.start, c.end, c.page, c.heading,
                    c.token_count, c.content_hash, int(has_cjk(c.text)), int(c.ocr),
                    None if c.doc is None else doc_ids[c.doc], c.lead_end, c.lead_hash,
                )
                for c in chunks
            ],
        )  # fmt: skip

    def _upsert_file(
        self,
        path: str,
        size: int,
        mtime: float,
        content_hash: str,
        status: FileStatus,
        error: str | None,
        retries: int,
        title: str = "",
    ) -> int:
        now = time.time() if status in ("ok", "skipped", "failed") else None
        self.conn.execute(
            "INSERT INTO files(path, folder_id, ext, size, mtime, content_hash, status, error,"
            " retries, indexed_at, title) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(path) DO UPDATE SET folder_id = excluded.folder_id,"
            " ext = excluded.ext, size = excluded.size, mtime = excluded.mtime,"
            " content_hash = excluded.content_hash, status = excluded.status,"
            " error = excluded.error, retries = excluded.retries,"
            " indexed_at = excluded.indexed_at, title = excluded.title",
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
                title,
            ),
        )
        row = self.conn.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        return int(row[0])

    def mark_skipped(
        self,
        path: str,
        reason: str,
        *,
        size: int = 0,
        mtime: float = 0.0,
        content_hash: str = "",
        needs_ocr: int = 0,
    ) -> FileRecord:
        """Record a deliberate skip (binary, too big, excluded type); drops its chunks.

        ``needs_ocr``: the file is a scan or photo skipped because OCR is off.
        """
        record = self._mark(path, "skipped", reason, size, mtime, content_hash, bump=False)
        if needs_ocr:
            with self.transaction():
                self.conn.execute(
                    "UPDATE files SET needs_ocr = ? WHERE path = ?", (needs_ocr, path)
                )
            record = self._require(path)
        return record

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
            self.conn.execute("UPDATE files SET needs_ocr = 0 WHERE id = ?", (file_id,))
            self.conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
            self.conn.execute("DELETE FROM documents WHERE file_id = ?", (file_id,))
            self.conn.execute("DELETE FROM mailboxes WHERE file_id = ?", (file_id,))  # read afresh
            self.conn.execute("DELETE FROM embed_queue WHERE file_id = ?", (file_id,))
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
            f"SELECT {CHUNK_COLS} FROM chunks c JOIN files f ON f.id = c.file_id"
            " WHERE f.path = ? ORDER BY c.ordinal",
            (path,),
        )
        return [chunk_record(r) for r in rows]

    def chunks_between(self, path: str, start: int, end: int) -> list[Chunk]:
        """A file's chunks that overlap the characters ``[start, end)``, in order.

        What a preview of a big file loads: the text around a passage, not the whole book.
        A chunk longer than ``HIT_TEXT_CHARS`` (an index from before chunks had a length cap:
        one 95 MB line) comes cut to the window in SQL, its ``start``/``end`` with it, so the
        text is still exactly the file's ``[start, end)``.
        """
        rows = self.conn.execute(
            f"SELECT {WINDOW_CHUNK_COLS} FROM chunks c JOIN files f ON f.id = c.file_id"
            ' WHERE f.path = :path AND c."end" > :lo AND c.start < :hi ORDER BY c.ordinal',
            {"path": path, "lo": start, "hi": end},
        )
        return [chunk_record(r) for r in rows]

    def text_length(self, path: str) -> int:
        """Where a file's last chunk ends (0 for a file without chunks)."""
        row = self.conn.execute(
            'SELECT max(c."end") FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path = ?',
            (path,),
        ).fetchone()
        return int(row[0] or 0)

    def chunks_by_id(self, ids: Iterable[int]) -> dict[int, Chunk]:
        """Chunks (with their file's path, mtime, size) for the given ids: search hits, so
        each text is at most ``HIT_TEXT_CHARS`` long (a prefix; offsets stay exact)."""
        id_list = list(dict.fromkeys(int(i) for i in ids))
        out: dict[int, Chunk] = {}
        for start in range(0, len(id_list), 900):
            part = id_list[start : start + 900]
            rows = self.conn.execute(
                f"SELECT {HIT_CHUNK_COLS} FROM chunks c JOIN files f ON f.id = c.file_id"
                f" WHERE c.id IN ({', '.join('?' * len(part))})",
                part,
            )
            out.update((r[0], chunk_record(r)) for r in rows)
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
        """Jobs per state ('queued', 'claimed'); counts them, so not for every loop turn."""
        return jobs.counts(self.conn)

    def has_queued_jobs(self) -> bool:
        """True when a job waits; cheap at any queue length."""
        return jobs.any_queued(self.conn)
