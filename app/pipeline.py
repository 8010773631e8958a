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
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from app import power
from app.chunker import Chunker, ChunkerConfig
from app.extract.ocr.reader import OcrOptions
from app.indexer import Indexer, IndexerConfig, Progress, Summary
from app.power import PowerProbe
from app.rebuild import RebuildCallback, run_rebuild
from app.settings import Settings
from app.watcher import PathFilter, Watcher, normalise, permission_restored, reconcile
from engine.protocols import Embedder
from storage.models import Stamps
from storage.store import Store

log = logging.getLogger(__name__)


def chunker_for(embedder: Embedder, settings: Settings) -> Chunker:
    """A chunker sized for both the user's setting and the model's context window."""
    target = max(16, min(settings.chunk_tokens, embedder.max_length - 4))
    overlap = max(0, min(settings.chunk_overlap, target // 4))
    config = ChunkerConfig(target, overlap, settings.heading_prefix)
    return Chunker(embedder.tokenizer(), config)


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
        is left alone: the window may be driving it on its own thread.
        """
        building = self.store.rebuilding()
        if building is None or building.key != self.indexer.fingerprint.key:
            return False
        log.info("resuming the rebuild towards %s", building.describe())
        return run_rebuild(
            self.store,
            self.indexer.embedder,
            building,
            on_progress=self._on_rebuild,
            cancelled=self._cancelled.is_set,
        )

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
