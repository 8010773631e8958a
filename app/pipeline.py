"""The indexing service the window and the CLI drive: folders -> watcher -> indexer -> store.

``Pipeline`` owns one writer ``Store``, the ``Indexer`` (on its own thread) and, in watch
mode, the ``Watcher``. On start it reconciles every folder with the index (size + mtime
from one stat per file; only files whose stamp moved are queued, and the indexer then
compares content hashes), so edits made while the app was closed are picked up, and it
finishes a rebuild towards its own fingerprint that an earlier run left unfinished
(``Store.rebuilding()``) before indexing; search answers from the old index meanwhile.
Qt-free: progress arrives through plain callbacks.

    pipeline = Pipeline(db_path, embedder, settings, on_progress=callback)
    pipeline.start(watch=True)       # or: summary = pipeline.index_once()
    pipeline.pause(); pipeline.resume()        # phase 2 (embedding) only
    pipeline.promote(paths, BAND_OPENED)       # embed these sooner
    pipeline.cancel(); pipeline.stop()
    pipeline.wait(timeout)           # True once ended; raises what ended it (``failure``)
    pipeline.add_folder(path); pipeline.remove_folder(path)
    pipeline.retry(paths)                      # problem files again, via the writer
    pipeline.rebuild(256, on_progress)         # a new dimension beside the old index

Every write goes through one thread, the indexer's (the writer): it owns ``store``; other
threads hand it functions (``Indexer.call``), and a dimension rebuild is filled by its loop
with its model cut to the new size (``engine.matryoshka``), not by a second writer or model.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

from app import power
from app.extract.ocr.reader import OcrOptions
from app.fingerprint import chunker_for
from app.indexer import Indexer, IndexerConfig, Progress, Summary
from app.power import PowerProbe
from app.rebuild import RebuildCallback, run_rebuild
from app.settings import Settings
from app.watcher import PathFilter, Watcher, normalise, permission_restored, reconcile
from engine.matryoshka import at_dimension
from engine.protocols import Embedder
from storage.models import Stamps
from storage.store import Store

log = logging.getLogger(__name__)


def ocr_options(settings: Settings) -> OcrOptions:
    """The user's OCR choices as the extraction workers take them."""
    return OcrOptions(settings.ocr_enabled, settings.ocr_engine, settings.ocr_languages)


def path_filter(settings: Settings) -> PathFilter:
    """The include/exclude rules from the user's settings."""
    return PathFilter(tuple(settings.include), tuple(settings.exclude), settings.follow_symlinks)


class Pipeline:
    """Keeps the index of ``settings.folders`` in sync; thread-safe controls."""

    def __init__(
        self,
        db: Path | Store,
        embedder: Embedder,
        settings: Settings,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        on_rebuild: RebuildCallback | None = None,
        config: IndexerConfig | None = None,
        on_battery: PowerProbe | None = None,
    ) -> None:
        """``db`` is the index path, or a writer ``Store`` the pipeline then owns and closes.

        ``on_battery`` answers "runs on battery?" (default: the system's sensors when the
        settings pause embedding on battery, else never).
        """
        self.settings = settings
        self.filter = path_filter(settings)
        self.store = db if isinstance(db, Store) else Store.open(db)
        self._on_rebuild = on_rebuild
        self._cancelled = threading.Event()
        max_bytes = int(settings.max_file_mb * 1024 * 1024)
        base = config or IndexerConfig()
        self.config = IndexerConfig(
            **{**base.__dict__, "max_file_bytes": max_bytes, "ocr": ocr_options(settings)}
        )
        if on_battery is None:
            on_battery = power.on_battery if settings.pause_embedding_on_battery else power.never
        self.indexer = Indexer(
            self.store,
            embedder,
            chunker_for(embedder, settings),
            self.config,
            on_progress,
            on_battery=on_battery,
        )
        self.folders = [normalise(f) for f in settings.folders]
        self.watcher: Watcher | None = None
        self._thread: threading.Thread | None = None
        self.summary: Summary | None = None
        self.failure: Exception | None = None  # what ended the background run, if anything
        self._settled: Counter[str] = Counter()  # files reconcile left alone, by status

    # ---- folders ----------------------------------------------------------------------

    def reconcile(self) -> int:
        """Queue what changed on disk in every folder since the index last saw it.

        Unchanged files cost one stat each: no hashing, no file records built. Returns
        the number of paths queued (changed, new, gone, or worth a retry).
        """
        return sum(self._reconcile(folder) for folder in self.folders)

    def _reconcile(self, folder: str) -> int:
        self.store.add_folder(folder)
        stamps = self.store.file_stamps(folder, self.config.max_attempts)
        changed, gone = reconcile(folder, self.filter, stamps.known)
        retry = stamps.retry + permission_restored(stamps.denied)
        if self.config.ocr.enabled:  # scans and photos read while OCR was off
            retry += self.store.files_needing_ocr(under=folder)
        if gone:
            self.store.enqueue(gone, "delete")
        fresh = set(changed)
        retry = [p for p in retry if p not in fresh]
        if changed or retry:
            self.store.enqueue([*changed, *retry], "index")
        self._count_settled(stamps, {*changed, *retry, *gone})
        return len(gone) + len(changed) + len(retry)

    def _count_settled(self, stamps: Stamps, queued: set[str]) -> None:
        """Count the files this run will not touch, under the status they keep."""
        for path in stamps.known.keys() - queued:
            if path in stamps.skipped:
                self._settled["skipped"] += 1
            elif path in stamps.failed:
                self._settled["failed"] += 1
            else:
                self._settled["unchanged"] += 1

    def add_folder(self, folder: str) -> None:
        """Start indexing (and, when running, watching) another folder."""
        path = normalise(folder)
        if path not in self.folders:
            self.folders.append(path)
        self._reconcile(path)
        if self.watcher is not None:
            self._restart_watcher()
        self.indexer.resume()

    def remove_folder(self, folder: str) -> None:
        """Stop watching a folder and drop its files from the index."""
        path = normalise(folder)
        self.folders = [f for f in self.folders if f != path]
        if self.watcher is not None:
            self._restart_watcher()
        self.store.remove_folder(path)

    # ---- running ----------------------------------------------------------------------

    def resume_rebuild(self) -> bool:
        """Finish a rebuild towards this pipeline's fingerprint left by an earlier run.

        True when one was finished (the new index is now active). Another rebuild, or none,
        is left alone. Runs on the calling thread, which must be the writer (before
        ``start``, or the indexer thread itself).
        """
        building = self.store.rebuilding()
        if building is None or building.key != self.indexer.fingerprint.key:
            return False
        log.info("resuming the rebuild towards %s", building.describe())
        return self.rebuild_here()

    def rebuild_here(self, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Begin or resume the rebuild towards this pipeline's own fingerprint and swap,
        blocking, on the calling thread: for a pipeline that is not running (its store has
        no other user). False when cancelled first (the store keeps the rebuild)."""
        if self.running and threading.current_thread() is not self._thread:
            raise RuntimeError("the pipeline is running: use rebuild() or request_rebuild()")
        return run_rebuild(
            self.store,
            self.indexer.embedder,
            self.indexer.fingerprint,
            on_progress=self._on_rebuild,
            cancelled=lambda: cancelled() or self._cancelled.is_set(),
        )

    def request_rebuild(
        self, dimension: int, on_progress: RebuildCallback | None = None
    ) -> Future[bool]:
        """Rebuild at ``dimension`` (0: the model's full size) beside the active index.

        The writer fills the new index between its own batches with this pipeline's
        model cut to the new size (no second model, no second writer) and swaps it in
        atomically; search answers from the old index until then. The future says True
        once the new index is active, False when the run stopped first (the store keeps
        the rebuild for the next start at that dimension); ``RebuildError`` when the
        chunking differs or files could not be embedded. Needs a running writer.
        """
        embedder = at_dimension(self.indexer.embedder, dimension)
        return self.indexer.start_rebuild(embedder, on_progress)

    def rebuild(self, dimension: int, on_progress: RebuildCallback | None = None) -> bool:
        """``request_rebuild`` and wait for its answer (False when the run ends first)."""
        future = self.request_rebuild(dimension, on_progress)
        while True:
            try:
                return future.result(timeout=0.2)
            except TimeoutError:
                if not self.running and future.cancel():  # no writer will answer
                    return False

    def retry(self, paths: Sequence[str]) -> Future[int]:
        """Queue files again (problem files the user retries) through the writer; a run
        applies it on its next turn (the next run when none is going)."""
        queued = [normalise(p) for p in paths]
        return self.indexer.call(lambda store: store.enqueue(queued, "index"))

    @property
    def running(self) -> bool:
        """True while the background run (the writer thread) is alive."""
        return self._thread is not None and self._thread.is_alive()

    def index_once(self, paths: Sequence[str] = ()) -> Summary:
        """Reconcile folders (plus explicit files) and index until the queue is empty."""
        self._cancelled.clear()
        self._settled.clear()
        self.reconcile()
        if paths:
            self.store.enqueue([normalise(p) for p in paths], "index")
        self.resume_rebuild()
        if self._cancelled.is_set():
            self.summary = Summary()
            return self.summary
        self.summary = self._with_settled(self.indexer.run())
        return self.summary

    def _with_settled(self, summary: Summary) -> Summary:
        """The run's summary plus the files reconcile left alone: every file counts once."""
        failed = self._settled["failed"]
        return replace(
            summary,
            unchanged=summary.unchanged + self._settled["unchanged"],
            skipped=summary.skipped + self._settled["skipped"],
            failed=summary.failed + failed,
            failed_again=summary.failed_again + failed,
        )

    def start(self, *, watch: bool = True) -> None:
        """Reconcile, then index in the background (and keep watching when ``watch``)."""
        self._cancelled.clear()
        self.failure = None
        self.reconcile()
        if watch:
            self._restart_watcher()
        target = self.indexer.serve if watch else self.indexer.run
        self._thread = threading.Thread(target=self._run, args=(target,), name="indexer")
        self._thread.start()

    def _run(self, target: Callable[[], Summary]) -> None:
        try:
            self.resume_rebuild()
            if not self._cancelled.is_set():
                self.summary = target()
        except Exception as exc:  # kept for the waiter: ``wait`` raises it on its thread
            log.exception("indexer stopped on an error")
            self.failure = exc

    def _restart_watcher(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.watcher = Watcher(self.folders, self.filter, self.indexer.submit)
        self.watcher.start()

    def pause(self) -> None:
        """Pause embedding (phase 2); keyword indexing of changes goes on."""
        self.indexer.pause()

    def resume(self) -> None:
        """Resume embedding after ``pause``."""
        self.indexer.resume()

    def promote(self, paths: Sequence[str], band: int) -> None:
        """Embed these files sooner (opened from the results, matching a search)."""
        self.indexer.promote([normalise(p) for p in paths], band)

    def cancel(self) -> None:
        """Stop the current run (or rebuild); queued work stays persisted for the next start."""
        self._cancelled.set()
        self.indexer.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background run to end; True when it has ended normally.

        Raises the exception that ended it (``failure``: a FingerprintMismatch, a full disk
        in a one-shot run, a bug), so the window and the CLI report it instead of a log line.
        """
        ended = self._join(timeout)
        if ended and self.failure is not None:
            raise self.failure
        return ended

    def _join(self, timeout: float | None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Stop watching and indexing and close the store; safe to call twice."""
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        self.cancel()
        # The indexer re-arms on entry to its loop, so a cancel landing just before that is
        # lost: repeat it until the thread is gone.
        while not self._join(0.2):
            self.cancel()
        self._thread = None
        self.store.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rebuild_database(
    db: Path,
    settings: Settings,
    dimension: int,
    *,
    on_progress: RebuildCallback | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> bool:
    """Rebuild the index at ``db`` at ``dimension`` when no pipeline runs on it (the window
    with indexing off): a pipeline at the new dimension, not started, is the one writer,
    and the calling thread drives it. True once the new index is active."""
    from app.loaders import make_embedder

    target = replace(settings, dimension=dimension)
    embedder = make_embedder(target)
    try:
        with Pipeline(db, embedder, target, on_rebuild=on_progress) as pipeline:
            return pipeline.rebuild_here(cancelled)
    finally:
        embedder.close()
