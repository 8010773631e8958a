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
from dataclasses import dataclass, field
from pathlib import Path

from app.chunker import Chunker, heading_label
from app.extract import ExtractorPool
from app.extract.errors import ExtractionError
from app.extract.files import open_regular
from storage.models import FileRecord, Job, NewChunk
from storage.store import Store


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
        self, db: Path, chunker: Chunker, extractor: ExtractorPool, max_file_bytes: int | None
    ) -> None:
        self.db = db
        self.chunker = chunker
        self.extractor = extractor
        self.max_file_bytes = max_file_bytes
        self._local = threading.local()

    def _reader(self) -> Store:
        """A read-only connection per preparer thread, for copy detection."""
        reader: Store | None = getattr(self._local, "store", None)
        if reader is None:
            reader = Store.open(self.db, readonly=True)
            self._local.store = reader
        return reader

    def prepare(self, job: Job, record: FileRecord | None) -> Prepared:
        """Hash, then reuse or extract + chunk; never raises for a bad file."""
        work = Prepared(job)
        try:
            info = os.stat(job.path)
            work.size, work.mtime = info.st_size, info.st_mtime
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
            work.unchanged = True
            return work
        if work.digest and self._reuse_copy(work):
            return work
        try:
            document = self.extractor.extract(Path(job.path))
        except ExtractionError as exc:
            work.error = exc
            return work
        for chunk in self.chunker.chunk(document):
            heading = heading_label(chunk.heading_path) or None
            work.chunks.append(
                NewChunk(
                    chunk.ordinal, chunk.text, chunk.start, chunk.end, chunk.content_hash,
                    chunk.token_count, chunk.page, heading,
                )
            )  # fmt: skip
        return work

    def _reuse_copy(self, work: Prepared) -> bool:
        """A byte-identical file already indexed: copy its chunks, skip extraction."""
        reader = self._reader()
        for other in reader.files_by_content_hash(work.digest):
            if other.status == "ok" and other.path != work.job.path:
                work.chunks = [
                    NewChunk(
                        c.ordinal, c.text, c.start, c.end, c.content_hash, c.token_count,
                        c.page, c.heading,
                    )
                    for c in reader.chunks(other.path)
                ]  # fmt: skip
                return bool(work.chunks)
        return False


__all__ = ["Prepared", "Preparer", "file_digest"]
