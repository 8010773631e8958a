"""The single writer: persisted jobs -> extract -> chunk -> embed -> one transaction per file.

Stages and threads:

* the **writer** (the thread calling ``run``/``serve``) owns the Store: it claims jobs,
  handles deletes and moves, groups prepared files into embedding batches and writes each
  file in its own ``BEGIN IMMEDIATE`` transaction, in claim order;
* **preparers** (a thread pool) hash each file, reuse a byte-identical indexed copy's chunks,
  or extract it in a sandboxed worker process (per-file time limit) and chunk it;
* the **embedder** runs on its own thread, one large length-sorted batch (chunks of many
  files, deduplicated by content hash) at a time, while the next batch is being prepared.

Resilience: a job is finished only after its file's transaction commits, so ``kill -9``
loses at most the files in flight; ``requeue_claimed`` puts them back on restart. A job
claimed ``max_attempts`` times without finishing (it kills the process) is marked failed.
Every file ends ok, skipped (reason) or failed (reason, retry count). In watch mode
(``serve``) a failure that may pass (a timeout, a model error) is retried with exponential
backoff until the file has failed ``max_attempts`` times; the others wait for the file to
change (the watcher sees that) or for the next start's reconcile.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.chunker import Chunker, heading_label
from app.extract import ExtractorPool
from app.extract.errors import SKIPPED, ExtractionError
from app.extract.files import open_regular
from app.watcher import Change
from engine.protocols import Embedder
from storage.models import FileRecord, Fingerprint, Job, NewChunk
from storage.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexerConfig:
    """Knobs of a run; defaults suit a laptop."""

    workers: int = 2  # preparer threads == extraction worker processes
    extract_timeout_s: float = 120.0
    max_file_bytes: int | None = 100 * 1024 * 1024
    batch_chunks: int = 256  # chunks per embedding call once the embedder is busy
    max_attempts: int = 3  # claims of one job before it is declared failed
    sandbox: bool = True  # False extracts in-thread (tests; no time limit)
    retry_backoff_s: float = 30.0  # watch mode: first retry of a retryable failure; doubles


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress bars; Qt-free (the window turns it into a signal)."""

    state: str  # "running" | "paused" | "idle" | "cancelled" | "done"
    files_done: int
    files_total: int
    ok: int
    skipped: int
    failed: int
    chunks: int  # chunks written this run
    embedded: int  # chunks that needed a new vector (the rest were reused)
    tokens_per_s: float
    eta_s: float | None
    current: str = ""


@dataclass
class Summary:
    """Counts of a finished run, for the CLI's last line."""

    ok: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    failed_again: int = 0  # of ``failed``: files that had already failed, same bytes
    deleted: int = 0
    chunks: int = 0
    embedded: int = 0
    tokens: int = 0
    seconds: float = 0.0
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # path, status, reason

    @property
    def new_failures(self) -> int:
        """Files that failed in this run and had not failed the same way before."""
        return self.failed - self.failed_again


@dataclass
class _Prepared:
    """A file ready to write: chunks plus which texts (by hash) it contributes."""

    job: Job
    size: int = 0
    mtime: float = 0.0
    digest: str = ""
    chunks: list[NewChunk] = field(default_factory=list)
    texts: dict[str, tuple[str, int]] = field(default_factory=dict)  # hash -> (text, tokens)
    error: ExtractionError | None = None
    unchanged: bool = False
    vanished: bool = False
    failed_before: bool = False  # the index already had this file, same bytes, as failed
    title: str = ""  # the document's own title, indexed as a keyword field


@dataclass
class _Group:
    """Files embedded together; written in order once ``future`` resolves."""

    files: list[_Prepared]
    hashes: list[str]
    future: Future[Any] | None


def file_digest(path: str) -> str:
    """sha256 of the file's bytes: detects real changes behind a new mtime, and copies."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:  # a FIFO or /dev/zero raises instead of blocking
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stat(path: str) -> tuple[int, float]:
    """(size, mtime) of a file; zeros when it cannot be read."""
    try:
        info = os.stat(path)
    except OSError:
        return 0, 0.0
    return info.st_size, info.st_mtime


def make_fingerprint(embedder: Embedder, chunker: Chunker) -> Fingerprint:
    """The index identity for this model + chunking configuration."""
    info = embedder.info
    return Fingerprint(
        model_id=info.model_id,
        revision=info.revision,
        dim=embedder.dim,
        pooling=info.pooling,
        doc_instruction="",
        chunker_version=chunker.config.fingerprint(),
        heading_prefix=chunker.config.heading_prefix,
    )


class Indexer:
    """Drains the store's job queue; thread-safe controls: submit, pause, resume, cancel."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        chunker: Chunker,
        config: IndexerConfig | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.config = config or IndexerConfig()
        self.fingerprint = make_fingerprint(embedder, chunker)
        self._on_progress = on_progress
        self._inbox: queue.Queue[Change] = queue.Queue()
        self._wake = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._cancel = threading.Event()
        self._local = threading.local()
        self._summary = Summary()
        self._started = time.monotonic()
        self._last_emit = 0.0
        self._embed_seconds = 0.0
        self._extractor = ExtractorPool(0)
        self._serving = False
        self._retry_at: dict[str, float] = {}  # watch mode: path -> monotonic retry time

    # ---- controls (any thread) ------------------------------------------------------------

    def submit(self, changes: Iterable[Change]) -> None:
        """Hand over watcher changes; the writer persists them on its next turn."""
        for change in changes:
            self._inbox.put(change)
        self._wake.set()

    def pause(self) -> None:
        """Stop claiming and embedding new work; files already embedded are still written."""
        self._resume.clear()
        self._emit("paused", force=True)

    def resume(self) -> None:
        """Continue after ``pause``."""
        self._resume.set()
        self._wake.set()

    def cancel(self) -> None:
        """Stop soon; unfinished jobs stay queued in the database for the next start."""
        self._cancel.set()
        self._resume.set()
        self._wake.set()

    @property
    def paused(self) -> bool:
        """True between ``pause`` and ``resume``."""
        return not self._resume.is_set()

    # ---- main loops (writer thread) ---------------------------------------------------

    def run(self) -> Summary:
        """Process queued jobs until none are left (one-shot indexing)."""
        return self._loop(until_idle=True)

    def serve(self) -> Summary:
        """Process jobs as they come until ``cancel`` (watch mode)."""
        return self._loop(until_idle=False)

    def _loop(self, *, until_idle: bool) -> Summary:
        self._cancel.clear()
        self._serving = not until_idle
        self._retry_at.clear()
        self._summary = Summary()
        self._started = time.monotonic()
        self.store.requeue_claimed()
        self.store.ensure_fingerprint(self.fingerprint)
        extractor = ExtractorPool(
            self.config.workers if self.config.sandbox else 0,
            self.config.extract_timeout_s,
            self.config.max_file_bytes,
        )
        self._extractor = extractor
        preparers = ThreadPoolExecutor(self.config.workers, thread_name_prefix="prepare")
        embed_thread = ThreadPoolExecutor(1, thread_name_prefix="embed")
        preparing: dict[Future[_Prepared], Job] = {}
        ready: deque[_Prepared] = deque()
        groups: deque[_Group] = deque()
        try:
            while not self._cancel.is_set():
                self._drain_inbox()
                self._queue_due_retries()
                if self._resume.is_set():
                    self._claim(preparers, preparing)
                self._collect(preparing, ready)
                self._launch(embed_thread, ready, groups, extracting=bool(preparing))
                self._write_done(groups)
                idle = not (preparing or ready or groups) and self._inbox.empty()
                if idle and self.store.job_counts().get("queued", 0) == 0:
                    self._emit("idle", force=True)
                    if until_idle:
                        break
                self._wait(preparing, groups, idle)
        finally:
            for fut in preparing:
                fut.cancel()
            extractor.close()  # first: kills busy workers, so the preparers return at once
            preparers.shutdown(wait=True, cancel_futures=True)
            embed_thread.shutdown(wait=True, cancel_futures=True)
            self.store.requeue_claimed()
        self._summary.seconds = time.monotonic() - self._started
        self._emit("cancelled" if self._cancel.is_set() else "done", force=True)
        return self._summary

    def _wait(
        self, preparing: dict[Future[_Prepared], Job], groups: deque[_Group], idle: bool
    ) -> None:
        """Sleep until a stage finishes, new changes arrive, or a short poll interval."""
        pending: list[Future[Any]] = list(preparing)
        pending += [g.future for g in groups if g.future is not None]
        if pending and self._resume.is_set():
            wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
        else:
            self._wake.wait(timeout=0.5 if idle else 0.05)
            self._wake.clear()

    # ---- stage 0: changes and jobs ----------------------------------------------------

    def _drain_inbox(self) -> None:
        """Persist watcher changes: moves keep their vectors, the rest become jobs."""
        index: list[str] = []
        delete: list[str] = []
        while True:
            try:
                change = self._inbox.get_nowait()
            except queue.Empty:
                break
            if change.kind == "move" and change.src is not None:
                self.store.move_file(change.src, change.path)
                index.append(change.path)  # a no-op when the bytes are unchanged
            elif change.kind == "delete":
                delete.append(change.path)
            else:
                index.append(change.path)
        if delete:
            self.store.enqueue(delete, "delete")
        if index:
            self.store.enqueue(index, "index")

    def _queue_due_retries(self) -> None:
        """Watch mode: queue the failed files whose backoff has run out."""
        if not self._retry_at:
            return
        now = time.monotonic()
        due = sorted(p for p, at in self._retry_at.items() if at <= now)
        for path in due:
            del self._retry_at[path]
        if due:
            self.store.enqueue(due, "index")

    def _schedule_retry(self, record: FileRecord) -> None:
        """Watch mode: try a retryable failure again later, backing off, up to the limit."""
        if not self._serving or record.retries >= self.config.max_attempts:
            return
        delay = self.config.retry_backoff_s * 2 ** max(0, record.retries - 1)
        self._retry_at[record.path] = time.monotonic() + delay

    def _claim(
        self, preparers: ThreadPoolExecutor, preparing: dict[Future[_Prepared], Job]
    ) -> None:
        """Keep the preparers fed, a few files ahead of the embedder."""
        room = 4 * self.config.workers + 4 - len(preparing)
        if room <= 0:
            return
        for job in self.store.claim_jobs(room):
            if job.kind == "delete":
                self._delete(job)
            elif job.attempts > self.config.max_attempts:
                old = self.store.get_file(job.path)
                size, mtime = _stat(job.path)  # so the next reconcile sees it as unchanged
                reason = f"gave up after {job.attempts - 1} attempts"
                self.store.mark_failed(job.path, reason, size=size, mtime=mtime)
                self.store.finish_jobs([job.id])
                again = old is not None and old.status == "failed"
                self._count("failed", job.path, "gave up after repeated crashes", again=again)
            else:
                record = self.store.get_file(job.path)
                preparing[preparers.submit(self._prepare, job, record)] = job

    def _delete(self, job: Job) -> None:
        removed = self.store.delete_file(job.path)
        removed = self.store.delete_under(job.path) > 0 or removed
        self.store.finish_jobs([job.id])
        self._summary.deleted += int(removed)

    # ---- stage 1: prepare (preparer threads) ------------------------------------------

    def _reader(self) -> Store:
        """A read-only connection per preparer thread, for copy detection."""
        reader: Store | None = getattr(self._local, "store", None)
        if reader is None:
            reader = Store.open(self.store.path, readonly=True)
            self._local.store = reader
        return reader

    def _prepare(self, job: Job, record: FileRecord | None) -> _Prepared:
        """Hash, then reuse or extract + chunk; never raises for a bad file."""
        work = _Prepared(job)
        try:
            info = os.stat(job.path)
            work.size, work.mtime = info.st_size, info.st_mtime
            if self.config.max_file_bytes is None or info.st_size <= self.config.max_file_bytes:
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
            document = self._extractor.extract(Path(job.path))
        except ExtractionError as exc:
            work.error = exc
            return work
        work.title = document.title
        for chunk in self.chunker.chunk(document):
            heading = heading_label(chunk.heading_path) or None
            work.chunks.append(
                NewChunk(
                    chunk.ordinal, chunk.text, chunk.start, chunk.end, chunk.content_hash,
                    chunk.token_count, chunk.page, heading,
                )
            )  # fmt: skip
            work.texts[chunk.content_hash] = (chunk.embed_text, chunk.token_count)
        return work

    def _reuse_copy(self, work: _Prepared) -> bool:
        """A byte-identical file already indexed: copy its chunks, skip extraction."""
        reader = self._reader()
        for other in reader.files_by_content_hash(work.digest):
            if other.status == "ok" and other.path != work.job.path:
                work.title = other.title
                work.chunks = [
                    NewChunk(
                        c.ordinal, c.text, c.start, c.end, c.content_hash, c.token_count,
                        c.page, c.heading,
                    )
                    for c in reader.chunks(other.path)
                ]  # fmt: skip
                return bool(work.chunks)
        return False

    def _collect(self, preparing: dict[Future[_Prepared], Job], ready: deque[_Prepared]) -> None:
        """Move finished preparations along; outcomes needing no embedding are written now."""
        for future in [f for f in preparing if f.done()]:
            job = preparing.pop(future)
            try:
                work = future.result()
            except Exception as exc:  # a bug in our code: fail the file, keep going
                log.exception("preparing %s failed", job.path)
                work = _Prepared(job, error=_Bug(f"internal error: {type(exc).__name__}: {exc}"))
            if work.vanished:
                self._delete(job)
            elif work.error is not None:
                self._record_error(work)
            elif work.unchanged:
                self.store.finish_jobs([job.id])
                self._summary.unchanged += 1
                self._count(None, job.path)
            elif not work.chunks:
                self.store.mark_skipped(job.path, "no text", size=work.size, mtime=work.mtime,
                                        content_hash=work.digest)  # fmt: skip
                self.store.finish_jobs([job.id])
                self._count("skipped", job.path, "no text")
            else:
                ready.append(work)

    def _record_error(self, work: _Prepared) -> None:
        assert work.error is not None
        err, path = work.error, work.job.path
        mark = self.store.mark_skipped if err.status == SKIPPED else self.store.mark_failed
        record = mark(path, err.reason, size=work.size, mtime=work.mtime, content_hash=work.digest)
        self.store.finish_jobs([work.job.id])
        if err.status != SKIPPED and err.retryable:
            self._schedule_retry(record)
        self._count(err.status, path, err.reason, again=work.failed_before)

    # ---- stage 2: embed (embedder thread) ---------------------------------------------

    def _launch(
        self,
        embed_thread: ThreadPoolExecutor,
        ready: deque[_Prepared],
        groups: deque[_Group],
        *,
        extracting: bool,
    ) -> None:
        """Start an embedding batch when the embedder would otherwise idle, or one is full."""
        if not ready or not self._resume.is_set():
            return
        busy = [g for g in groups if g.future is not None and not g.future.done()]
        if len(busy) >= 2:
            return
        in_flight = {h for g in groups for h in g.hashes}
        files: list[_Prepared] = []
        wanted: dict[str, tuple[str, int]] = {}
        while ready and len(wanted) < self.config.batch_chunks:
            work = ready.popleft()
            files.append(work)
            missing = self.store.missing_embeddings(work.texts) - in_flight
            wanted.update((h, work.texts[h]) for h in missing)
        if busy and len(wanted) < self.config.batch_chunks and extracting:
            ready.extendleft(reversed(files))  # wait for a fuller batch
            return
        hashes = sorted(wanted, key=lambda h: wanted[h][1], reverse=True)  # length-sorted
        texts = [wanted[h][0] for h in hashes]
        future = embed_thread.submit(self._embed, texts) if texts else None
        groups.append(_Group(files, hashes, future))
        self._summary.embedded += len(hashes)
        self._summary.tokens += sum(wanted[h][1] for h in hashes)

    def _embed(self, texts: list[str]) -> np.ndarray[Any, Any]:
        started = time.monotonic()
        vectors = self.embedder.embed_documents(texts)
        self._embed_seconds += time.monotonic() - started
        return vectors

    # ---- stage 3: write (writer thread) -----------------------------------------------

    def _write_done(self, groups: deque[_Group]) -> None:
        """Write finished groups in order, one transaction per file."""
        while groups and (groups[0].future is None or groups[0].future.done()):
            group = groups.popleft()
            vectors: dict[str, Any] = {}
            if group.future is not None:
                try:
                    matrix = group.future.result()
                except Exception as exc:  # model failure: fail these files, keep the run
                    log.exception("embedding failed")
                    for work in group.files:
                        work.error = _EmbedFailed(f"embedding failed: {exc}")
                        self._record_error(work)
                    continue
                vectors = dict(zip(group.hashes, matrix, strict=True))
            for work in group.files:
                self._write(work, vectors)

    def _write(self, work: _Prepared, vectors: dict[str, Any]) -> None:
        self.store.write_file(
            work.job.path,
            size=work.size,
            mtime=work.mtime,
            content_hash=work.digest,
            chunks=work.chunks,
            vectors_by_hash=vectors,
            fingerprint=self.fingerprint,
            title=work.title,
        )
        self.store.finish_jobs([work.job.id])
        self._summary.chunks += len(work.chunks)
        self._count("ok", work.job.path)

    # ---- progress -----------------------------------------------------------------------

    def _count(
        self, status: str | None, path: str, reason: str = "", *, again: bool = False
    ) -> None:
        summary = self._summary
        if status == "ok":
            summary.ok += 1
        elif status == "skipped":
            summary.skipped += 1
        elif status == "failed":
            summary.failed += 1
            summary.failed_again += int(again)
        if status in ("skipped", "failed"):
            summary.problems.append((path, status, reason))
        self._emit("paused" if self.paused else "running", current=path)

    def _emit(self, state: str, *, current: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if self._on_progress is None or (not force and now - self._last_emit < 0.1):
            return
        self._last_emit = now
        s = self._summary
        done = s.ok + s.unchanged + s.skipped + s.failed
        queued = sum(self.store.job_counts().values())
        elapsed = max(now - self._started, 1e-6)
        eta = queued * elapsed / done if done and state == "running" else None
        rate = s.tokens / self._embed_seconds if self._embed_seconds else 0.0
        self._on_progress(
            Progress(
                state,
                done,
                done + queued,
                s.ok,
                s.skipped,
                s.failed,
                s.chunks,
                s.embedded,
                rate,
                eta,
                current,
            )
        )


class _Bug(ExtractionError):
    """An unexpected exception while preparing a file (our bug), recorded as failed."""

    status = "failed"


class _EmbedFailed(ExtractionError):
    """The model raised while embedding this file's batch."""

    status = "failed"
    retryable = True


__all__ = ["Indexer", "IndexerConfig", "Progress", "Summary", "file_digest", "make_fingerprint"]
