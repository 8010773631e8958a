"""Phase 1 for mbox files: messages streamed in batches, each its own result, appends alone.

An mbox is not prepared in one piece like other files: a preparer thread streams its
messages from an extraction worker (``ExtractorPool.mailbox``), chunks each one, and hands
batches of ``BATCH_MESSAGES`` to the writer through a small bounded queue (``MailboxSink``).
The writer commits each batch in its own transaction (``Store.add_messages``), so memory
stays flat however large the archive, and messages become searchable as they are read.

Each batch records where to resume: the offset of its last message (read again next time,
in case a mail client was still writing it) and the sha256 of every byte before it. When
the file changes, a prefix that still hashes the same means mail was only appended:
reading resumes there, and only the new messages are read, chunked and embedded. Any
other change (a client compacted the file) starts a new full pass, whose older messages
are dropped when it ends; their chunks keep their vectors by content, so nothing is
embedded twice either way.

One message cannot fail the archive: a message the parser chokes on arrives without a
document and with a reason, and one whose extraction runs past the time limit or kills
its worker is skipped, reading going on just after it in a fresh worker. The file is then
ok, with a note naming the skipped messages by offset (``MessageBatch.failed``).
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from app.chunker import Chunker
from app.extract import ExtractorPool
from app.extract.errors import Corrupt, ExtractionTimeout, TooMuchMemory
from app.extract.files import open_regular
from app.extract.mbox import MailItem, split
from app.prepare import mail_document, new_chunk
from storage.documents import MailboxState
from storage.models import Fingerprint, NewChunk, NewDocument
from storage.store import Store

#: Messages per transaction: large enough to amortise a commit, small enough for memory.
BATCH_MESSAGES = 100
#: Batches waiting for the writer; the preparer (and so the worker) waits beyond this.
QUEUE_BATCHES = 2
#: Messages skipped for a failed extraction in one pass before the file itself fails.
MAX_FAILED_MESSAGES = 10
#: What one message can cause: its parse raised in the worker, ran too long, took too much.
MESSAGE_ERRORS = (Corrupt, ExtractionTimeout, TooMuchMemory)


@dataclass(frozen=True)
class StartPass:
    """A full pass over the mbox begins (generation ``gen``); older messages go at its end."""

    gen: int
    size: int
    mtime: float


@dataclass
class MessageBatch:
    """Messages to write, and where reading resumes after them."""

    documents: list[NewDocument] = field(default_factory=list)
    chunks: list[NewChunk] = field(default_factory=list)  # NewChunk.doc indexes documents
    resume_at: int = 0
    prefix_hash: str = ""
    skipped: int = 0  # messages without text
    failed: list[str] = field(default_factory=list)  # "at byte N: reason", per skipped message


class SinkClosed(Exception):
    """The run is stopping: the writer takes no more batches (the mbox resumes next run)."""


class MailboxSink:
    """The bounded hand-over from a preparer thread to the writer thread."""

    def __init__(self) -> None:
        self._items: queue.Queue[StartPass | MessageBatch] = queue.Queue(QUEUE_BATCHES)
        self._closed = threading.Event()

    def put(self, item: StartPass | MessageBatch) -> None:
        """Hand over (waits while the writer is ``QUEUE_BATCHES`` behind); raises
        ``SinkClosed`` once the writer has stopped, so a preparer never waits forever."""
        while not self._closed.is_set():
            try:
                self._items.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise SinkClosed

    def close(self) -> None:
        """The writer stops taking batches (run cancelled or over)."""
        self._closed.set()

    def drain(self) -> list[StartPass | MessageBatch]:
        """Everything waiting, without blocking (writer thread)."""
        out: list[StartPass | MessageBatch] = []
        while True:
            try:
                out.append(self._items.get_nowait())
            except queue.Empty:
                return out


class PrefixHash:
    """sha256 of a file's first N bytes, advanced as reading goes on (one pass in all)."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.pos = 0
        self._hash = hashlib.sha256()

    def advance(self, to: int) -> str:
        """Hash up to offset ``to``; the hex digest of bytes [0, to)."""
        self.fh.seek(self.pos)
        while self.pos < to:
            block = self.fh.read(min(1 << 20, to - self.pos))
            if not block:
                break
            self._hash.update(block)
            self.pos += len(block)
        return self._hash.copy().hexdigest()

    def rest(self) -> str:
        """Hash to the end of the file: the digest of the whole content."""
        self.fh.seek(self.pos)
        for block in iter(lambda: self.fh.read(1 << 20), b""):
            self._hash.update(block)
            self.pos += len(block)
        return self._hash.hexdigest()


def _add(batch: MessageBatch, item: MailItem, chunker: Chunker) -> None:
    """One message's document and chunks into the batch."""
    if item.document is None:
        batch.skipped += 1
        if item.reason:
            batch.failed.append(f"at byte {item.start}: {item.reason}")
        return
    doc = len(batch.documents)
    batch.documents.append(mail_document(item.document, str(item.start)))
    base = len(batch.chunks)
    for i, chunk in enumerate(chunker.chunk(item.document)):
        batch.chunks.append(replace(new_chunk(chunk, doc), ordinal=base + i))


def _bounds(path: str, at: int) -> tuple[int, int] | None:
    """Where the message at or after offset ``at`` starts and ends (None: no message)."""
    with open_regular(path) as fh:
        for raw in split(fh, at):
            return raw.start, raw.end
    return None


def messages(path: str, start: int, extractor: ExtractorPool) -> Iterator[MailItem]:
    """The mbox's messages from ``start``; one whose extraction fails (worker error, time
    limit, memory) comes without a document and with the reason, and reading goes on after
    it. A stopping pool, or too many such messages, fails the file as before."""
    at, failures = start, 0
    while True:
        try:
            for item in extractor.mailbox(Path(path), at):
                at = item.end
                yield item
            return
        except MESSAGE_ERRORS as exc:
            bounds = _bounds(path, at)
            failures += 1
            if extractor.closed or bounds is None or failures > MAX_FAILED_MESSAGES:
                raise
            yield MailItem(bounds[0], bounds[1], None, exc.reason)
            at = bounds[1]


def stream(
    path: str,
    state: MailboxState | None,
    size: int,
    mtime: float,
    extractor: ExtractorPool,
    chunker: Chunker,
    sink: MailboxSink,
    failed: list[str] | None = None,
) -> str:
    """Read the mbox from where it can resume, handing batches to ``sink``; returns the
    sha256 of the whole file (preparer thread; extraction errors of the file propagate).
    Messages skipped with a reason are added to ``failed`` ("at byte N: reason")."""
    with open_regular(path) as fh:
        hasher, start = PrefixHash(fh), 0
        if (
            state is not None
            and state.resume_at
            and state.prefix_hash == hasher.advance(state.resume_at)
        ):
            start = state.resume_at
        else:
            hasher = PrefixHash(fh)
            sink.put(StartPass(state.gen + 1 if state is not None else 1, size, mtime))
        batch, last = MessageBatch(resume_at=start), start
        for item in messages(path, start, extractor):
            _add(batch, item, chunker)
            last = item.start
            if len(batch.documents) + batch.skipped >= BATCH_MESSAGES:
                batch.resume_at, batch.prefix_hash = last, hasher.advance(last)
                _hand_over(sink, batch, failed)
                batch = MessageBatch()
        batch.resume_at, batch.prefix_hash = last, hasher.advance(last)
        _hand_over(sink, batch, failed)
        return hasher.rest()


def _hand_over(sink: MailboxSink, batch: MessageBatch, failed: list[str] | None) -> None:
    if failed is not None:
        failed += batch.failed
    sink.put(batch)


def failure_note(failed: list[str]) -> str | None:
    """What an ok mbox's record says about the messages it skipped (None: none)."""
    if not failed:
        return None
    shown = "; ".join(failed[:5]) + ("; …" if len(failed) > 5 else "")
    return f"{len(failed)} message(s) not read: {shown}"


def write(store: Store, path: str, items: list[StartPass | MessageBatch], fp: Fingerprint) -> int:
    """Commit handed-over batches (writer thread), each in its own transaction; the number
    of chunks written."""
    chunks = 0
    for item in items:
        if isinstance(item, StartPass):
            store.start_mailbox(path, gen=item.gen, size=item.size, mtime=item.mtime)
            continue
        store.add_messages(path, documents=item.documents, chunks=item.chunks,
                           resume_at=item.resume_at, prefix_hash=item.prefix_hash,
                           fingerprint=fp)  # fmt: skip
        chunks += len(item.chunks)
    return chunks


__all__ = [
    "BATCH_MESSAGES",
    "MailboxSink",
    "MessageBatch",
    "PrefixHash",
    "SinkClosed",
    "StartPass",
    "failure_note",
    "messages",
    "stream",
    "write",
]
