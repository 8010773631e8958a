"""Mail documents inside files, mbox reading progress, and the OCR cache.

A mail file holds messages, and each message is its own result: a ``documents`` row
(subject, sender, recipients, date) that its chunks point at. An ``.eml`` file or a
Maildir file is one document; an mbox has one per message, keyed by the byte offset of
its "From " line. An mbox is written a batch of messages at a time (``add_messages``),
each batch in its own transaction that also records how far the file has been read and
the hash of the bytes before that point (``mailboxes``): appended mail is read alone, and
``kill -9`` mid-archive resumes at the last committed batch. A full re-read (the mail
client rewrote the file) writes a new generation of documents and drops the old ones at
the end (``finish_mailbox``); their chunks' vectors stay keyed by content, so nothing
already embedded is embedded again.

``ocr_pages`` keeps the text OCR read, keyed by the file's content hash and page: a scan
that is moved, renamed, removed and re-added, or re-extracted, is never read twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from storage import backlog
from storage.base import CHUNK_COLS, StoreBase, chunk_record
from storage.errors import StorageError
from storage.models import Chunk, DocumentInfo, Fingerprint, NewChunk, NewDocument


@dataclass(frozen=True)
class MailboxState:
    """How far an mbox has been read: resume at ``resume_at`` if the bytes before it still
    hash to ``prefix_hash``; ``gen`` numbers full passes; ``complete`` after the last one."""

    resume_at: int
    prefix_hash: str
    gen: int
    complete: bool


class DocumentsMixin(StoreBase):
    """Mail documents, mbox progress and the OCR cache (mixed into ``Store``)."""

    # ---- OCR cache ----------------------------------------------------------------------

    def ocr_cache(self, content_hash: str) -> dict[int, str]:
        """Pages of a file's content OCR has already read (page -> text)."""
        rows = self.conn.execute(
            "SELECT page, text FROM ocr_pages WHERE content_hash = ?", (content_hash,)
        )
        return {int(page): str(text) for page, text in rows}

    def save_ocr_pages(self, content_hash: str, pages: Mapping[int, str]) -> None:
        """Remember what OCR read in a file's content (its own transaction)."""
        if not content_hash or not pages:
            return
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO ocr_pages(content_hash, page, text) VALUES (?, ?, ?)",
                [(content_hash, int(page), text) for page, text in pages.items()],
            )

    def files_needing_ocr(self, under: str | None = None) -> list[str]:
        """Files with pages left unread because OCR was off (re-read when it is on)."""
        sql, params = "SELECT path FROM files WHERE needs_ocr > 0", []
        if under is not None:
            prefix = under.rstrip("/\\") + "/"
            sql += " AND substr(path, 1, ?) = ?"
            params = [len(prefix), prefix]
        return [str(r[0]) for r in self.conn.execute(sql + " ORDER BY path", params)]

    # ---- documents ----------------------------------------------------------------------

    def insert_documents(
        self, file_id: int, documents: Sequence[NewDocument], gen: int = 0
    ) -> list[int]:
        """Add a file's documents (inside the caller's transaction); their new ids in order.

        A document whose key the file already has replaces it, chunks included.
        """
        ids = []
        for doc in documents:
            self.conn.execute(
                "DELETE FROM documents WHERE file_id = ? AND key = ?", (file_id, doc.key)
            )
            cur = self.conn.execute(
                "INSERT INTO documents(file_id, key, title, sender, recipients, date, meta, gen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (file_id, doc.key, doc.title, doc.sender, doc.recipients, doc.date,
                 json.dumps(doc.meta, ensure_ascii=False), gen),
            )  # fmt: skip
            ids.append(int(cur.lastrowid))
        return ids

    def documents_by_id(self, ids: Iterable[int]) -> dict[int, DocumentInfo]:
        """Documents (messages) by id, for result rows."""
        wanted = list(dict.fromkeys(int(i) for i in ids))
        out: dict[int, DocumentInfo] = {}
        for start in range(0, len(wanted), 900):
            part = wanted[start : start + 900]
            rows = self.conn.execute(
                "SELECT id, key, title, sender, recipients, date FROM documents"
                f" WHERE id IN ({', '.join('?' * len(part))})",
                part,
            )
            out.update((int(r[0]), DocumentInfo(*r)) for r in rows)
        return out

    def document_keys(self, path: str) -> dict[str, int]:
        """The file's documents (messages): key -> id; empty for a file that has none."""
        rows = self.conn.execute(
            "SELECT d.key, d.id FROM documents d JOIN files f ON f.id = d.file_id WHERE f.path = ?",
            (path,),
        )
        return {str(key): int(doc_id) for key, doc_id in rows}

    def document_chunks(self, doc_id: int) -> list[Chunk]:
        """One document's chunks in order (a message's header block first)."""
        rows = self.conn.execute(
            f"SELECT {CHUNK_COLS} FROM chunks c JOIN files f ON f.id = c.file_id"
            " WHERE c.doc_id = ? ORDER BY c.ordinal",
            (doc_id,),
        )
        return [chunk_record(r) for r in rows]

    # ---- mboxes -------------------------------------------------------------------------

    def mailbox(self, path: str) -> MailboxState | None:
        """How far the mbox at ``path`` has been read (None: never)."""
        row = self.conn.execute(
            "SELECT m.resume_at, m.prefix_hash, m.gen, m.complete FROM mailboxes m"
            " JOIN files f ON f.id = m.file_id WHERE f.path = ?",
            (path,),
        ).fetchone()
        return None if row is None else MailboxState(int(row[0]), row[1], int(row[2]), bool(row[3]))

    def start_mailbox(self, path: str, *, gen: int, size: int, mtime: float) -> None:
        """Begin a full pass over an mbox (generation ``gen``) from its first byte."""
        with self.transaction():
            file_id = self._file_id(path)
            if file_id is None:
                file_id = self._upsert_file(path, size, mtime, "", "pending", None, 0)  # type: ignore[attr-defined]
            # Chunks from before the file was read as a mailbox (as text, say) go now.
            self.conn.execute("DELETE FROM chunks WHERE file_id = ? AND doc_id IS NULL", (file_id,))
            self.conn.execute(
                "INSERT INTO mailboxes(file_id, resume_at, prefix_hash, gen, complete)"
                " VALUES (?, 0, '', ?, 0) ON CONFLICT(file_id) DO UPDATE SET resume_at = 0,"
                " prefix_hash = '', gen = excluded.gen, complete = 0",
                (file_id, gen),
            )

    def add_messages(
        self,
        path: str,
        *,
        documents: Sequence[NewDocument],
        chunks: Sequence[NewChunk],
        resume_at: int,
        prefix_hash: str,
        fingerprint: Fingerprint,
    ) -> None:
        """Phase 1 for a batch of an mbox's messages, and the point to resume after it."""
        with self.transaction():
            index_id = self._ensure_active(fingerprint)
            file_id = self._file_id(path)
            state = self.mailbox(path)
            if file_id is None or state is None:
                raise StorageError(f"{path}: add_messages before start_mailbox")
            doc_ids = self.insert_documents(file_id, documents, state.gen)
            base = self.conn.execute(
                "SELECT coalesce(max(ordinal), -1) + 1 FROM chunks WHERE file_id = ?", (file_id,)
            ).fetchone()[0]
            shifted = [_renumber(c, base + i) for i, c in enumerate(chunks)]
            self.insert_chunks(file_id, shifted, doc_ids)  # type: ignore[attr-defined]
            self.conn.execute(
                "UPDATE mailboxes SET resume_at = ?, prefix_hash = ? WHERE file_id = ?",
                (resume_at, prefix_hash, file_id),
            )
            mtime = self.conn.execute("SELECT mtime FROM files WHERE id = ?", (file_id,))
            when = float(mtime.fetchone()[0])
            for target in (index_id, self._index_id("building_index")):
                if target is not None:
                    backlog.settle_file(self.conn, target, file_id, when, fresh=True)

    def finish_mailbox(
        self, path: str, *, size: int, mtime: float, content_hash: str, note: str | None = None
    ) -> None:
        """The pass reached the end: drop messages of older passes, mark the file ok
        (``note``: the messages it skipped, kept as the file's error text)."""
        with self.transaction():
            file_id = self._file_id(path)
            state = self.mailbox(path)
            if file_id is None or state is None:
                raise StorageError(f"{path}: finish_mailbox before start_mailbox")
            self.conn.execute(
                "DELETE FROM documents WHERE file_id = ? AND gen < ?", (file_id, state.gen)
            )
            self.conn.execute(
                "UPDATE files SET status = 'ok', error = ?, retries = 0, size = ?, mtime = ?,"
                " content_hash = ?, needs_ocr = 0 WHERE id = ?",
                (note, size, mtime, content_hash, file_id),
            )
            self.conn.execute("UPDATE mailboxes SET complete = 1 WHERE file_id = ?", (file_id,))
            for target in (self._index_id("active_index"), self._index_id("building_index")):
                if target is not None:
                    backlog.settle_file(self.conn, target, file_id, mtime, fresh=True)

    def _file_id(self, path: str) -> int | None:
        row = self.conn.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        return None if row is None else int(row[0])


def _renumber(chunk: NewChunk, ordinal: int) -> NewChunk:
    return replace(chunk, ordinal=ordinal)
