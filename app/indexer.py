"""The single writer: persisted jobs -> extract -> chunk -> write (phase 1) -> embed (phase 2).

Indexing has two phases, both driven from the writer thread (the thread calling
``run``/``serve``), which owns the Store and makes every write:

* **phase 1** makes files findable by keyword fast: it claims jobs, handles deletes and
  moves, and writes each file's chunks and keywords in its own ``BEGIN IMMEDIATE``
  transaction the moment its preparation finishes (a big file never holds back small
  ones). **Preparers** (a thread pool, ``app.prepare``) hash each file, reuse a
  byte-identical indexed copy's chunks, or extract it in a sandboxed worker process
  (per-file time limit) and chunk it.
* **phase 2** (``app.embedding``) fills the vectors in the store's priority order, one
  batch at a time on the embed thread, and commits them with the files they complete:
  a file becomes searchable by meaning the moment its last vector commits. It runs while
  phase 1 has no queue of files waiting, and can be paused on its own (the user, or
  battery power) while phase 1 goes on.

Resilience: a job is finished only after its file's transaction commits, so ``kill -9``
loses at most the files in flight; ``requeue_claimed`` puts them back on restart. Phase 2's
work list lives in the store, so it resumes where the last commit left it. A job claimed
``max_attempts`` times without finishing (it kills the process) is marked failed. Every
file ends ok, skipped (reason) or failed (reason, retry count). In watch mode (``serve``)
a failure that may pass (a timeout) is retried with exponential backoff until the file has
failed ``max_attempts`` times; the others wait for the file to change (the watcher sees
that) or for the next start's reconcile.

Errors: a file's own fault (``ExtractionError``) fails or skips that file. The index's
environment is never the file's fault: a full disk (``DiskFull``) ends a one-shot run with
that error and pauses watch mode until it retries; nothing is marked failed and the claimed
jobs are requeued. Any other exception (another ``StorageError``, a bug) ends the run and
goes up to the caller (``Pipeline`` hands it to whoever waits).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app import leads, mailboxes
from app.chunker import Chunker
from app.embedding import EmbedConfig, Embedding
from app.extract import ExtractorPool
from app.extract.errors import SKIPPED
from app.extract.ocr.engines import memory_needed
from app.extract.ocr.reader import OcrOptions
from app.extract.sandbox import DEFAULT_MEMORY_LIMIT
from app.fingerprint import make_fingerprint
from app.mailboxes import MailboxSink
from app.phases import EmbedState, Progress, RunState, Summary
from app.power import PowerProbe, never
from app.prepare import Prepared, Preparer
from app.rebuild import LiveRebuild, RebuildCallback
from app.watcher import Change
from app.writer import WriteQueue
from engine.protocols import Embedder
from storage.errors import DiskFull
from storage.models import FileRecord, Job
from storage.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class IndexerConfig:
    """Knobs of a run; defaults suit a laptop."""

    workers: int = 2  # preparer threads == extraction worker processes
    extract_timeout_s: float = 120.0
    max_file_bytes: int | None = 100 * 1024 * 1024
    max_attempts: int = 3  # claims of one job before it is declared failed
    sandbox: bool = True  # False extracts in-thread (tests; no time limit)
    retry_backoff_s: float = 30.0  # watch mode: first retry of a retryable failure; doubles
    disk_full_retry_s: float = 60.0  # watch mode: a full disk pauses indexing this long
    embed: EmbedConfig = field(default_factory=EmbedConfig)  # phase 2
    ocr: OcrOptions = field(default_factory=OcrOptions)  # off unless the user switched it on


def _stat(path: str) -> tuple[int, float]:
    """(size, mtime) of a file; zeros when it cannot be read."""
    try:
        info = os.stat(path)
    except OSError:
        return 0, 0.0
    return info.st_size, info.st_mtime


class Indexer:
    """Drains the store's job queue (phase 1) and its embedding backlog (phase 2).

    Thread-safe controls: submit, promote, pause/resume (phase 2 only), cancel.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        chunker: Chunker,
        config: IndexerConfig | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_battery: PowerProbe = never,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.config = config or IndexerConfig()
        self.fingerprint = make_fingerprint(embedder, chunker)
        self.embedding = Embedding(
            store, embedder, self.fingerprint, self.config.embed, on_battery=on_battery
        )
        self._on_progress = on_progress
        self._on_battery = on_battery
        self._writes = WriteQueue()  # other threads' writes, run on the writer thread
        self.rebuild: LiveRebuild | None = None  # a new index filled beside the active one
        self._inbox: queue.Queue[Change] = queue.Queue()
        self._promotions: queue.Queue[tuple[list[str], int]] = queue.Queue()
        self._wake = threading.Event()
        self._cancel = threading.Event()
        self._summary = Summary()
        self._started = time.monotonic()
        self._last_emit = 0.0
        self._preparer = Preparer(store.path, chunker, ExtractorPool(0), None)
        self._serving = False
        self._queued = False  # phase-1 jobs waiting in the store, refreshed each turn
        self._embed_shown: tuple[EmbedState, str] = ("idle", "")  # phase 2 as last reported
        self._counted: tuple[float, int, int, int] = (-1e9, 0, 0, 0)  # time, jobs, keyword, meaning
        self._retry_at: dict[str, float] = {}  # watch mode: path -> monotonic retry time
        self._ocr_lock = threading.Lock()
        self._ocr_first: float | None = None  # monotonic start of the run's first OCR page
        self._sinks: dict[int, MailboxSink] = {}  # job id -> an mbox's batches on their way
        self._fault = ""  # why the environment paused indexing (disk full), while it lasts
        self._leads_left = True  # old first chunks may still need their leads (app/leads.py)

    # ---- controls (any thread) ------------------------------------------------------------

    def submit(self, changes: Iterable[Change]) -> None:
        """Hand over watcher changes; the writer persists them on its next turn."""
        for change in changes:
            self._inbox.put(change)
        self._wake.set()

    def call(self, write: Callable[[Store], T]) -> Future[T]:
        """Run ``write(store)`` on the writer thread at its next turn (the one way another
        thread changes the index); its answer or exception arrives in the future. Writes
        still queued when the run ends are cancelled."""
        future = self._writes.put(write)
        self._wake.set()
        return future

    def start_rebuild(
        self, embedder: Embedder, on_progress: RebuildCallback | None = None
    ) -> Future[bool]:
        """Fill an index for ``embedder`` (same model and chunking, another dimension)
        beside the active one, then swap it in; True in the future once it is active."""
        fingerprint = make_fingerprint(embedder, self.chunker)
        rebuild = LiveRebuild(self.store, embedder, fingerprint, self.config.embed,
                              on_progress, self._on_battery)  # fmt: skip

        def begin(store: Store) -> None:
            if self.rebuild is not None:  # the newest request wins; the store keeps one
                self._end_rebuild()
            if rebuild.begin(self.embedding.pool):
                rebuild.close(swapped=True)
            else:
                self.rebuild = rebuild
                self._emit("running", force=True)

        self.call(begin).add_done_callback(lambda f: _forward_failure(f, rebuild.result))
        return rebuild.result

    def promote(self, paths: Iterable[str], band: int) -> None:
        """Embed these files sooner (``storage.models.BAND_*``); applied on the next turn."""
        self._promotions.put((list(paths), band))
        self._wake.set()

    def pause(self) -> None:
        """Pause phase 2 (embedding); phase 1 keeps every file searchable by keyword."""
        self.embedding.pause()
        self._wake.set()

    def resume(self) -> None:
        """Continue embedding after ``pause``."""
        self.embedding.resume()
        self._wake.set()

    def cancel(self) -> None:
        """Stop soon; unfinished work stays queued in the database for the next start."""
        self._cancel.set()
        self._wake.set()

    @property
    def paused(self) -> bool:
        """True while phase 2 is paused by the user."""
        return self.embedding.paused

    # ---- main loops (writer thread) ---------------------------------------------------

    def run(self) -> Summary:
        """Process queued jobs and the embedding backlog until neither has work left
        (one-shot indexing; a paused or battery-paused phase 2 ends the run after phase 1).
        A full disk ends the run with ``DiskFull``; its files stay queued, none fails."""
        try:
            return self._loop(until_idle=True)
        except DiskFull as exc:
            self._pause_for(exc)
            raise

    def serve(self) -> Summary:
        """Process jobs and embed as work comes until ``cancel`` (watch mode). A full disk
        pauses everything (its files stay queued) and the work resumes after
        ``disk_full_retry_s``, or stops when cancelled meanwhile."""
        while True:
            try:
                return self._loop(until_idle=False)
            except DiskFull as exc:
                self._pause_for(exc)
                if self._cancel.wait(self.config.disk_full_retry_s):
                    return self._summary

    def _pause_for(self, exc: DiskFull) -> None:
        """Say why indexing stopped; the next run's first report clears it."""
        log.warning("indexing paused: %s", exc)
        self._fault = str(exc)
        self._emit("paused", force=True)
        self._fault = ""

    def _loop(self, *, until_idle: bool) -> Summary:
        self._cancel.clear()
        self._serving = not until_idle
        self._retry_at.clear()
        self._summary = Summary()
        self._started = time.monotonic()
        self.store.requeue_claimed()
        self.store.ensure_fingerprint(self.fingerprint)
        self._leads_left = True
        ocr = self.config.ocr
        extractor = ExtractorPool(
            self.config.workers if self.config.sandbox else 0,
            self.config.extract_timeout_s,
            self.config.max_file_bytes,
            DEFAULT_MEMORY_LIMIT + (memory_needed(ocr.engine, ocr.languages) if ocr.enabled else 0),
            ocr=ocr,
            on_page=self._ocr_page,
        )
        self._ocr_first = None
        # The preparers stop chunking on a cancel, or when this loop ends on an exception
        # (Ctrl-C, a full disk): a flag of their own, since watch mode retries after a full
        # disk and must not read that as the user's cancel.
        aborted = threading.Event()
        self._preparer = Preparer(
            self.store.path, self.chunker, extractor, self.config.max_file_bytes, ocr.enabled,
            lambda: self._cancel.is_set() or aborted.is_set(),
        )  # fmt: skip
        preparers = ThreadPoolExecutor(self.config.workers, thread_name_prefix="prepare")
        preparing: dict[Future[Prepared], Job] = {}
        self.embedding.backoff = self._serving
        self.embedding.open()
        try:
            while not self._cancel.is_set():
                self._turn(preparers, preparing)
                idle = not (preparing or self._queued or self._leads_left) and self._inbox.empty()
                if idle and self.embedding.settled and self._rebuild_settled():
                    self._emit("idle", force=True)
                    if until_idle:
                        break
                self._wait(preparing, idle)
        except BaseException:  # Ctrl-C in a one-shot run, a full disk: preparers stop too
            aborted.set()
            raise
        finally:
            for fut in preparing:
                fut.cancel()
            extractor.close()  # first: kills busy workers, so the preparers return at once
            for sink in self._sinks.values():
                sink.close()  # an mbox's preparer waiting to hand over a batch stops
            self._sinks.clear()
            preparers.shutdown(wait=True, cancel_futures=True)
            self._writes.cancel()
            self._end_rebuild()  # before phase 2 closes: it shares phase 2's embed thread
            try:
                self.embedding.close()
            finally:
                with contextlib.suppress(DiskFull):  # the next start requeues them too
                    self.store.requeue_claimed()
        self._finish_summary()
        self._emit("cancelled" if self._cancel.is_set() else "done", force=True)
        return self._summary

    def _turn(self, preparers: ThreadPoolExecutor, preparing: dict[Future[Prepared], Job]) -> None:
        """One pass: changes in, phase 1 claims and writes, phase 2 commits and launches."""
        self._writes.run(self.store)
        self._drain_inbox()
        self._queue_due_retries()
        self._claim(preparers, preparing)
        self._write_messages(preparing)
        self._collect(preparing)
        self._queued = self.store.has_queued_jobs()
        if self._leads_left and not self._queued:  # phase 1 first, as phase 2 does
            self._leads_left = leads.backfill(self.store, self.chunker)
        before = self.embedding.chunks
        self.embedding.step(phase1_waiting=self._queued)
        self._step_rebuild()
        shown = (self.embedding.state(self._queued), self.embedding.error)
        if self.embedding.chunks != before or shown != self._embed_shown:  # fresh counts
            self._embed_shown = shown
            self._emit("running" if preparing or self._queued else "idle", force=True)

    def _finish_summary(self) -> None:
        summary = self._summary
        summary.seconds = time.monotonic() - self._started
        summary.embedded, summary.tokens = self.embedding.chunks, self.embedding.tokens
        summary.keyword_only = len(self.embedding.given_up)
        summary.waiting = self.store.backlog(self.fingerprint).files
        summary.problems += [(p, "failed", f"searchable by keyword only: {r}")
                             for p, r in self.embedding.given_up]  # fmt: skip
        self.embedding.given_up = []

    def _wait(self, preparing: dict[Future[Prepared], Job], idle: bool) -> None:
        """Sleep until a stage finishes, new changes arrive, or a short poll interval."""
        pending: list[Future[Any]] = list(preparing)
        rebuilding = self.rebuild.in_flight if self.rebuild is not None else None
        for batch in (self.embedding.in_flight, rebuilding):
            if batch is not None:
                pending.append(batch)
        if pending:
            wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
        else:
            self._wake.wait(timeout=0.5 if idle else 0.05)
            self._wake.clear()

    # ---- a rebuild beside the active index ---------------------------------------------

    def _step_rebuild(self) -> None:
        """Fill the new index one batch at a time; swap once nothing is left for it."""
        rebuild = self.rebuild
        if rebuild is None:
            return
        try:
            swapped = rebuild.step(self._queued, may_swap=self.embedding.in_flight is None)
        except Exception as exc:  # the rebuild stops (the store keeps it); indexing goes on
            log.warning("rebuild towards %s stopped: %s", rebuild.describe(), exc)
            self._end_rebuild(error=exc)
            return
        if swapped:
            log.info("rebuilt the index for %s", rebuild.describe())
            self.embedder, self.fingerprint = rebuild.embedder, rebuild.fingerprint
            self.embedding.retarget(rebuild.embedder, rebuild.fingerprint)
            self._end_rebuild(swapped=True)

    def _rebuild_settled(self) -> bool:
        return self.rebuild is None or self.rebuild.embedding.settled

    def _end_rebuild(self, swapped: bool = False, error: Exception | None = None) -> None:
        rebuild, self.rebuild = self.rebuild, None
        if rebuild is not None:
            rebuild.close(swapped, error)

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
        while True:
            try:
                paths, band = self._promotions.get_nowait()
            except queue.Empty:
                break
            if self.store.promote(paths, band):
                self.embedding.poke()

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

    def _claim(self, preparers: ThreadPoolExecutor, preparing: dict[Future[Prepared], Job]) -> None:
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
                sink = self._sinks[job.id] = MailboxSink()  # used if it is an mbox
                preparing[preparers.submit(self._preparer.prepare, job, record, sink)] = job

    def _delete(self, job: Job) -> None:
        removed = self.store.delete_file(job.path)
        removed = self.store.delete_under(job.path) > 0 or removed
        self.store.finish_jobs([job.id])
        self._summary.deleted += int(removed)

    def _collect(self, preparing: dict[Future[Prepared], Job]) -> None:
        """Phase 1: write each finished preparation now, in its own transaction."""
        for future in [f for f in preparing if f.done()]:
            job = preparing.pop(future)
            # A bad file comes back as work.error; an exception here is the index's
            # environment (StorageError) or a bug: neither is the file's fault, so it ends the
            # run (finally above requeues the job) instead of marking the file failed.
            work = future.result()
            sink = self._sinks.pop(job.id, None)
            if work.mailbox and sink is not None:
                self._finish_mailbox(work, sink)
            elif work.cancelled:
                continue  # claimed, not finished: requeued when the run ends
            elif work.vanished:
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
                self._write(work)

    def _write_messages(self, preparing: dict[Future[Prepared], Job]) -> None:
        """Phase 1 for mboxes being read: commit the batches of messages handed over."""
        for job in preparing.values():
            sink = self._sinks.get(job.id)
            items = sink.drain() if sink is not None else []
            if items:
                self._summary.chunks += mailboxes.write(
                    self.store, job.path, items, self.fingerprint
                )
                self.embedding.poke()
                self._emit("running", current=job.path)

    def _finish_mailbox(self, work: Prepared, sink: MailboxSink) -> None:
        """The last batches of an mbox, then the file is ok (or failed, and read afresh)."""
        items = sink.drain()
        if work.error is None and items:
            self._summary.chunks += mailboxes.write(self.store, work.job.path, items,
                                                    self.fingerprint)  # fmt: skip
        if work.error is not None:
            self._record_error(work)
        elif work.unchanged:
            self.store.finish_jobs([work.job.id])
            self._summary.unchanged += 1
            self._count(None, work.job.path)
        else:
            note = mailboxes.failure_note(work.failed_messages)
            if note:
                log.warning("%s: %s", work.job.path, note)
            self.store.finish_mailbox(work.job.path, size=work.size, mtime=work.mtime,
                                      content_hash=work.digest, note=note)  # fmt: skip
            self.store.finish_jobs([work.job.id])
            self.embedding.poke()
            self._count("ok", work.job.path)

    def _record_error(self, work: Prepared) -> None:
        assert work.error is not None
        err, path = work.error, work.job.path
        if err.status == SKIPPED:
            record = self.store.mark_skipped(path, err.reason, size=work.size, mtime=work.mtime,
                                             content_hash=work.digest, needs_ocr=work.needs_ocr)  # fmt: skip
        else:
            record = self.store.mark_failed(path, err.reason, size=work.size, mtime=work.mtime,
                                            content_hash=work.digest)  # fmt: skip
        self.store.finish_jobs([work.job.id])
        if err.status != SKIPPED and err.retryable:
            self._schedule_retry(record)
        self._count(err.status, path, err.reason, again=work.failed_before)

    def _write(self, work: Prepared) -> None:
        """Chunks + keywords in one transaction; the file joins phase 2's backlog."""
        self.store.save_ocr_pages(work.digest, work.ocr_new)  # kept even if the write fails
        self.store.write_file(
            work.job.path,
            size=work.size,
            mtime=work.mtime,
            content_hash=work.digest,
            chunks=work.chunks,
            fingerprint=self.fingerprint,
            title=work.title,
            documents=work.documents,
            needs_ocr=work.needs_ocr,
        )
        self.store.finish_jobs([work.job.id])
        self.embedding.poke()
        self._summary.chunks += len(work.chunks)
        self._count("ok", work.job.path)

    # ---- progress -----------------------------------------------------------------------

    def _ocr_page(self, page: int, seconds: float) -> None:
        """An extraction worker read one page by OCR (called on preparer threads)."""
        now = time.monotonic()
        with self._ocr_lock:
            if self._ocr_first is None:
                self._ocr_first = now - seconds
            self._summary.ocr_pages += 1
            self._summary.ocr_seconds = now - self._ocr_first

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
        self._emit("running", current=path)

    def _counts(self, now: float, fresh: bool) -> tuple[int, int, int]:
        """(jobs left, files searchable by keyword, by meaning), recounted at most once a
        second: at 100,000 files each count reads a whole index (~25 ms for the jobs)."""
        counted_at, jobs, keyword, meaning = self._counted
        if fresh or now - counted_at >= 1.0:
            jobs = sum(self.store.job_counts().values())
            keyword, meaning = self.store.searchable()
            self._counted = (now, jobs, keyword, meaning)
        return jobs, keyword, meaning

    def _emit(self, state: RunState, *, current: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if self._on_progress is None or (not force and now - self._last_emit < 0.1):
            return
        self._last_emit = now
        s = self._summary
        done = s.ok + s.unchanged + s.skipped + s.failed
        queued, keyword, meaning = self._counts(now, force)
        elapsed = max(now - self._started, 1e-6)
        eta = queued * elapsed / done if done and state == "running" else None
        waiting = self.store.backlog(self.fingerprint)
        rate = self.embedding.tokens_per_s()
        self._on_progress(
            Progress(
                state,
                done,
                done + queued,
                s.ok,
                s.skipped,
                s.failed,
                s.chunks,
                self.embedding.chunks,
                rate,
                eta,
                current,
                keyword_files=keyword,
                meaning_files=meaning,
                backlog_chunks=waiting.chunks,
                backlog_tokens=waiting.tokens,
                embedding="fault" if self._fault else self.embedding.state(self._queued),
                error=self._fault or self.embedding.error,
                ocr_pages=s.ocr_pages,
                ocr_pages_per_s=s.ocr_pages_per_s,
            )
        )


def _forward_failure(write: Future[None], result: Future[bool]) -> None:
    """A rebuild whose start failed or never ran answers its caller with that."""
    if write.cancelled() and not result.done():
        result.set_result(False)
    elif not write.cancelled() and write.exception() is not None and not result.done():
        result.set_exception(write.exception() or RuntimeError())


__all__ = ["Indexer", "IndexerConfig", "Progress", "Summary"]
