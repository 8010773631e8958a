"""Phase 1's preparation of one file (preparer threads): hash, reuse a copy, or extract + chunk.

Runs off the writer thread and never writes: each preparer thread reads the index through
its own read-only connection (to find a byte-identical copy whose chunks it can reuse),
and extraction runs in the sandboxed ``ExtractorPool`` with its per-file time limit. The
result, a ``Prepared``, goes back to the writer, which commits it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.chunker import ChunkDraft, Chunker, ChunkingCancelled, heading_label
from app.extract import ExtractorPool
from app.extract.errors import ExtractionError, NeedsOcr, Unreadable
from app.extract.files import open_regular
from app.extract.model import Document
from app.extract.registry import is_mailbox
from storage.models import Chunk, FileRecord, Job, NewChunk, NewDocument
from storage.store import Store

if TYPE_CHECKING:
    from app.mailboxes import MailboxSink


@dataclass
class Prepared:
    """A prepared file: its chunks ready to write, or why there are none."""

    job: Job
    size: int = 0
    mtime: float = 0.0
    digest: str = ""
    chunks: list[NewChunk] = field(default_factory=list)
    error: ExtractionError | None = None
    unchanged: bool = False
    vanished: bool = False
    failed_before: bool = False  # the index already had this file, same bytes, as failed
    documents: list[NewDocument] = field(default_factory=list)  # a mail message's fields
    needs_ocr: int = 0  # pages left unread because OCR is off
    ocr_new: dict[int, str] = field(default_factory=dict)  # pages OCR read now, for the cache
    mailbox: bool = False  # an mbox, written batch by batch through its sink
    failed_messages: list[str] = field(default_factory=list)  # an mbox's skipped messages
    title: str = ""  # the document's own title, indexed as a keyword field
    cancelled: bool = False  # the run stopped while it was chunked: the job stays queued


def file_digest(path: str) -> str:
    """sha256 of the file's bytes: detects real changes behind a new mtime, and copies."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:  # a FIFO or /dev/zero raises instead of blocking
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Preparer:
    """Prepares files for one indexing run; ``prepare`` is safe on several threads."""

    def __init__(
        self,
        db: Path,
        chunker: Chunker,
        extractor: ExtractorPool,
        max_file_bytes: int | None,
        ocr_enabled: bool = False,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        self.db = db
        self.chunker = chunker
        self.extractor = extractor
        self.max_file_bytes = max_file_bytes
        self.ocr_enabled = ocr_enabled
        self.cancelled = cancelled  # the run's stop flag, polled while a big text is chunked
        self._local = threading.local()

    def _reader(self) -> Store:
        """A read-only connection per preparer thread, for copy detection."""
        reader: Store | None = getattr(self._local, "store", None)
        if reader is None:
            reader = Store.open(self.db, readonly=True)
            self._local.store = reader
        return reader

    def prepare(
        self, job: Job, record: FileRecord | None, sink: MailboxSink | None = None
    ) -> Prepared:
        """Hash, then reuse or extract + chunk; never raises for a bad file.

        An mbox given a ``sink`` is streamed into it in batches (``app.mailboxes``).
        """
        work = Prepared(job)
        try:
            info = os.stat(job.path)
            work.size, work.mtime = info.st_size, info.st_mtime
            if sink is not None and is_mailbox(Path(job.path)):
                return self._prepare_mailbox(work, record, sink)
            if self.max_file_bytes is None or info.st_size <= self.max_file_bytes:
                work.digest = file_digest(job.path)
        except FileNotFoundError:
            work.vanished = True
            return work
        except OSError:
            pass  # the extractor reports it with a proper reason
        if record is not None and record.status == "failed":
            work.failed_before = record.content_hash == work.digest
        if record is not None and record.status == "ok" and record.content_hash == work.digest:
            # Unchanged, unless OCR was off when it was read and is on now.
            work.unchanged = not (self.ocr_enabled and record.needs_ocr)
            if work.unchanged:
                return work
        if work.digest and self._reuse_copy(work):
            return work
        cached = self._reader().ocr_cache(work.digest) if work.digest else {}
        try:
            document = self.extractor.extract(Path(job.path), cached)
        except NeedsOcr as exc:
            work.error, work.needs_ocr = exc, 1
            return work
        except ExtractionError as exc:
            work.error = exc
            return work
        self._fill(work, document)
        return work

    def _prepare_mailbox(
        self, work: Prepared, record: FileRecord | None, sink: MailboxSink
    ) -> Prepared:
        from app import mailboxes

        work.mailbox = True
        path = work.job.path
        state = self._reader().mailbox(path)
        if state is not None and state.complete and record is not None and record.status == "ok":
            # Same size and time as when it was read to the end: nothing was appended.
            work.unchanged = (record.size, record.mtime) == (work.size, work.mtime)
            if work.unchanged:
                return work
        try:
            work.digest = mailboxes.stream(path, state, work.size, work.mtime, self.extractor,
                                           self.chunker, sink, work.failed_messages)  # fmt: skip
        except ExtractionError as exc:
            work.error = exc
        except OSError as exc:
            work.error = Unreadable(f"cannot read: {exc.strerror or exc}")
        return work

    def _fill(self, work: Prepared, document: Document) -> None:
        """Chunks (and, for a mail message, its document) from an extracted file."""
        if document.ocr is not None:
            work.needs_ocr = document.ocr.unread
            work.ocr_new = document.ocr.new_pages
        work.title = document.title
        work.documents = [mail_document(document, "")] if is_mail(document) else []
        doc = 0 if work.documents else None
        try:
            drafts = self.chunker.chunk(document, self.cancelled)
        except ChunkingCancelled:
            work.cancelled = True
            return
        work.chunks = [new_chunk(chunk, doc) for chunk in drafts]

    def _lead_of(self, chunk: Chunk) -> tuple[int | None, str | None]:
        """A copied chunk's lead, worked out again (the stored chunk does not carry it)."""
        if chunk.ordinal != 0:
            return None, None
        return self.chunker.lead(chunk.text, chunk.heading) or (0, None)

    def _reuse_copy(self, work: Prepared) -> bool:
        """A byte-identical file already indexed: copy its chunks, skip extraction.

        Mail files are extracted again (their messages are documents of their own), and so
        is a copy read while OCR was off when it is on now.
        """
        reader = self._reader()
        for other in reader.files_by_content_hash(work.digest):
            if other.status == "ok" and other.path != work.job.path:
                if other.needs_ocr and self.ocr_enabled:
                    return False
                stored = reader.chunks(other.path)
                if any(c.doc_id is not None for c in stored):
                    return False
                work.title = other.title
                work.chunks = [
                    NewChunk(
                        c.ordinal, c.text, c.start, c.end, c.content_hash, c.token_count,
                        c.page, c.heading, c.ocr, None, *self._lead_of(c),
                    )
                    for c in stored
                ]  # fmt: skip
                work.needs_ocr = other.needs_ocr
                return bool(work.chunks)
        return False


def is_mail(document: Document) -> bool:
    """A mail message (its fields become a document row: subject, sender, date)."""
    return document.format in ("eml", "mbox")


def mail_document(document: Document, key: str) -> NewDocument:
    """The stored fields of one mail message."""
    meta = document.metadata
    recipients = ", ".join(v for v in (meta.get("to", ""), meta.get("cc", "")) if v)
    return NewDocument(key, document.title, meta.get("from", ""), recipients,
                       meta.get("date", ""), dict(meta))  # fmt: skip


def new_chunk(chunk: ChunkDraft, doc: int | None) -> NewChunk:
    """The store's form of a chunk (heading path joined into its label)."""
    heading = heading_label(chunk.heading_path) or None
    return NewChunk(
        chunk.ordinal, chunk.text, chunk.start, chunk.end, chunk.content_hash,
        chunk.token_count, chunk.page, heading, chunk.ocr, doc, chunk.lead_end, chunk.lead_hash,
    )  # fmt: skip


__all__ = ["Prepared", "Preparer", "file_digest", "is_mail", "mail_document", "new_chunk"]
