"""Adapters from the real services (store, search, pipeline) to the window's protocols.

Built only here, so the rest of ``app/ui`` depends on protocols. Models load lazily on the
worker thread that first needs them (never on the main thread); when search cannot run yet
(no index, no model) the window shows the reason instead of results.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from app import paths
from app.phases import Progress
from app.rebuild import RebuildCallback
from app.settings import Settings
from app.ui.presets import all_presets
from app.ui.protocols import (
    CancelCheck,
    Preview,
    ProgressCallback,
    ResultRow,
    SearchOptions,
    UpdateCallback,
    WindowIndexing,
    WindowSearch,
)
from app.ui.rows import to_preview, to_row

if TYPE_CHECKING:
    from app.pipeline import Pipeline
    from app.search import SearchService
    from engine.protocols import Embedder
    from storage.models import ProblemFile

log = logging.getLogger(__name__)


class ServiceUnavailable(Exception):
    """Search cannot run yet (no index, no model); the message is shown as is."""


class RealSearch:
    """``app.search.SearchService`` behind the window's ``WindowSearch`` protocol."""

    def __init__(self, settings: Settings, db_path: Path | None = None) -> None:
        self.settings = settings
        self.db_path = db_path or paths.database_path()
        self._service: SearchService | None = None
        self._lock = threading.Lock()
        self._query = ""  # the last query, whose matches the preview highlights
        self._notice: str | None = None

    def service(self) -> SearchService:
        """The search service, loading models on first use (on a worker thread)."""
        with self._lock:
            if self._service is None:
                self._service = self._load()
            return self._service

    def _load(self) -> SearchService:
        from app.loaders import make_embedder, make_reranker, rerank_depth
        from app.search import SearchService
        from engine.errors import EngineError

        if not self.db_path.exists():
            raise ServiceUnavailable("Nothing is indexed yet: add a folder in Settings.")
        try:
            embedder: Embedder | None = make_embedder(self.settings, on_notice=self._noticed)
        except EngineError as exc:  # keyword search still answers; the model check says why
            log.warning("search by meaning unavailable: %s", exc)
            embedder = None
        reranker = make_reranker(self.settings) if self.settings.rerank_enabled else None
        depth = rerank_depth(self.settings)
        return SearchService(self.db_path, embedder, reranker, rerank_depth=depth)

    def _noticed(self, text: str) -> None:
        log.info("%s", text)
        self._notice = text

    def search(self, query: str, options: SearchOptions) -> list[ResultRow]:
        """Files found, strong first, converted for the window."""
        from storage.errors import FingerprintMismatch

        try:
            results = self.service().search(query, options)
        except FingerprintMismatch:
            # A rebuild swapped in (or, after a restart, has not yet swapped in) an index at
            # another dimension: follow the active index rather than refuse to search.
            if not self._follow_active_dimension():
                raise
            results = self.service().search(query, options)
        from app.query import parse

        self._query = parse(query).text  # the words, not the operators
        return [to_row(r) for r in results]

    def similar(self, hit: ResultRow, passage: bool = False) -> list[ResultRow]:
        """Files like ``hit``'s (or its passage's), from stored vectors; no model call."""
        from app.search import SearchOptions as ServiceOptions

        service = self.service()
        found = service.similar(hit.path, hit.chunk if passage else None, ServiceOptions(k=50))
        self._query = ""
        return [to_row(r) for r in found]

    def _follow_active_dimension(self) -> bool:
        """Reload the embedder at the active index's dimension; False if that cannot help."""
        service = self.service()
        active = service.active_fingerprint()
        embedder = service.embedder
        if active is None or embedder is None or active.model_id != embedder.info.model_id:
            return False
        if active.dim == embedder.dim:
            return False
        dimension = 0 if active.dim == embedder.info.max_dim else active.dim
        with self._lock:
            self.close()
            self.settings = replace(self.settings, dimension=dimension)
            self._service = None
        return True

    def rerank(
        self,
        query: str,
        hits: Sequence[ResultRow],
        options: SearchOptions,
        on_update: UpdateCallback,
        is_cancelled: CancelCheck,
    ) -> list[ResultRow]:
        """Progressive rerank; each improved order is converted and published."""
        service = self.service()
        if service.reranker is None:
            return list(hits)
        results = [h.result for h in hits if h.result is not None]
        final = service.rerank(
            query,
            results,
            options,
            lambda improved: on_update([to_row(r) for r in improved]),
            is_cancelled,
        )
        return [to_row(r) for r in final]

    def preview(self, hit: ResultRow, span: tuple[int, int] | None = None) -> Preview:
        """The document around the hit's passage (or the file span ``span``), with every
        match of the last query."""
        from app.preview import monospace

        doc = self.service().context(
            hit.path, (hit.start, hit.end), self._query, span=span, doc_id=hit.doc_id
        )
        return to_preview(hit, doc, monospace(hit.path))

    def presets(self) -> dict[str, str]:
        """Built-in and user presets."""
        return all_presets(self.settings)

    def prepare(self) -> None:
        """Load the models and the in-memory vector index now, off the main thread.

        A failure here is not reported: the first search runs into the same cause and
        shows it in the window.
        """
        try:
            self.service().warm()
        except Exception as exc:
            log.info("search warm-up skipped: %s", exc)

    def model_notice(self) -> str | None:
        """The resolver's notice from the last model load (the starter model is in use)."""
        return self._notice

    def uses_instruction(self) -> bool | None:
        """The loaded embedder's answer; None while none is loaded (never loads one here)."""
        service = self._service
        if service is None or service.embedder is None:
            return None
        return bool(service.embedder.info.uses_instruction)

    def close(self) -> None:
        """Close the store and free the models (the app is quitting or the model changed)."""
        service, self._service = self._service, None
        if service is not None:
            service.close()
            for model in (service.embedder, service.reranker):
                if model is not None:
                    model.close()


_WRITER_LOCKS: dict[Path, threading.Lock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


def writer_lock(db: Path) -> threading.Lock:
    """This process's lock for the index at ``db``, held by whichever run or rebuild owns
    its write connection. Shared by every ``RealIndexing`` on that index: after a model
    change the window's new run waits for the old one to close its writer."""
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(db.resolve(), threading.Lock())


#: How the window names itself in the index lock: what a ``quarry index`` beside it prints.
WINDOW = "the Quarry window"


def _waiting_notice(on_progress: ProgressCallback) -> Callable[[str], None]:
    """Tell the status bar that another process holds the index lock, and which one."""

    def show(holder: str) -> None:
        on_progress(Progress("locked", current=holder))

    return show


class RealIndexing:
    """``app.pipeline.Pipeline`` (watching) behind the window's ``WindowIndexing``."""

    def __init__(self, settings: Settings, db_path: Path | None = None, sandbox: bool = True):
        self.settings = settings
        self.db_path = db_path or paths.database_path()
        self.sandbox = sandbox
        self.pipeline: Pipeline | None = None
        self._cancel = threading.Event()
        self._paused = False
        # One writer per index: a run or a rebuild with no run holds this while its
        # pipeline owns the write connection; retries wait here for the next run.
        self._writer = writer_lock(self.db_path)
        self._state = threading.Lock()
        self._retries: list[str] = []

    def run(self, on_progress: ProgressCallback) -> None:
        """Finish an interrupted rebuild, reconcile, index and keep watching until cancelled.

        Holds the cross-process index lock (``app.indexlock``) like ``quarry index`` and
        ``quarry watch`` do: while another process holds it, the status bar says so, search
        keeps answering from the index as it is, and the lock is tried again every fraction
        of a second until it is free (or the run is cancelled).
        """
        from app.indexlock import index_lock
        from app.loaders import make_embedder

        self._cancel.clear()
        if not self._take_writer():
            return
        try:
            waiting = _waiting_notice(on_progress)
            with index_lock(self.db_path, WINDOW, waiting, self._cancel.is_set) as got:
                if got:
                    self._run(make_embedder(self.settings), on_progress)
        finally:
            self._writer.release()

    def _take_writer(self) -> bool:
        """Wait for a rebuild with no run to finish; False when cancelled meanwhile."""
        while not self._writer.acquire(timeout=0.2):
            if self._cancel.is_set():
                return False
        return True

    def _run(self, embedder: Embedder, on_progress: ProgressCallback) -> None:
        from app.indexer import IndexerConfig
        from app.pipeline import Pipeline

        config = IndexerConfig(sandbox=self.sandbox)
        pipeline = Pipeline(
            self.db_path,
            embedder,
            self.settings,
            on_progress=on_progress,
            on_rebuild=reporter(on_progress),  # an interrupted rebuild resumes first
            config=config,
        )
        try:
            pipeline.start(watch=True)
            with self._state:  # published once its writer runs: requests get an answer
                self.pipeline = pipeline
                retries, self._retries = self._retries, []
            if retries:
                pipeline.retry(retries)
            if self._paused:
                pipeline.pause()
            if self._cancel.is_set():  # cancelled before the pipeline was published
                pipeline.cancel()
            pipeline.wait()  # until ``cancel`` ends the run; raises what else ended it
        finally:
            with self._state:
                self.pipeline = None
            pipeline.stop()
            embedder.close()

    def pause(self) -> None:
        """Pause embedding (phase 2); new and changed files still become keyword-searchable."""
        self._paused = True
        if self.pipeline is not None:
            self.pipeline.pause()

    def resume(self) -> None:
        """Resume embedding."""
        self._paused = False
        if self.pipeline is not None:
            self.pipeline.resume()

    def promote(self, paths: Sequence[str], band: int) -> None:
        """Embed these files sooner; a no-op while no run is going (nothing would embed)."""
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline.promote(paths, band)

    def cancel(self) -> None:
        """Stop soon; queued work stays in the database for the next start."""
        self._cancel.set()
        if self.pipeline is not None:
            self.pipeline.cancel()

    def problems(self) -> list[ProblemFile]:
        """Skipped and failed files from the store."""
        from storage.store import Store

        if not self.db_path.exists():
            return []
        with Store.open(self.db_path, readonly=True) as store:
            return store.stats().problems

    def retry(self, paths_: Sequence[str]) -> None:
        """Queue problem files again through the run's writer; with no run going, the next
        run queues them when it starts (the window starts one right after a retry)."""
        with self._state:
            pipeline = self.pipeline
            if pipeline is None:
                self._retries.extend(paths_)
                return
        pipeline.retry(paths_)

    def rebuild(self, dimension: int, on_progress: ProgressCallback) -> None:
        """Build the index at ``dimension`` beside the active one, then swap atomically.

        A running pipeline's writer does it with its own model (no second writer, no
        second model); with no run going, a pipeline at the new dimension does, and a run
        started meanwhile waits for it.
        """
        from app.pipeline import rebuild_database

        with self._state:
            pipeline = self.pipeline
        if pipeline is None and not self._take_writer():
            return
        try:
            if pipeline is not None:  # False when the run stopped first: resumed next start
                pipeline.rebuild(dimension, reporter(on_progress))
            else:
                target = replace(self.settings, dimension=dimension)
                rebuild_database(
                    self.db_path,
                    target,
                    dimension,
                    on_progress=reporter(on_progress),
                    cancelled=self._cancel.is_set,
                )
        finally:
            on_progress(Progress("idle"))
            if pipeline is None:
                self._writer.release()


class UnavailableSearch:
    """Answers every search with a calm explanation instead of results."""

    def __init__(self, reason: str, settings: Settings) -> None:
        self.reason = reason
        self._presets = all_presets(settings)

    def search(self, query: str, options: SearchOptions) -> list[ResultRow]:
        raise ServiceUnavailable(self.reason)

    def rerank(
        self,
        query: str,
        hits: Sequence[ResultRow],
        options: SearchOptions,
        on_update: UpdateCallback,
        is_cancelled: CancelCheck,
    ) -> list[ResultRow]:
        return list(hits)

    def preview(self, hit: ResultRow, span: tuple[int, int] | None = None) -> Preview:
        return Preview(text=hit.snippet, spans=hit.spans)

    def similar(self, hit: ResultRow, passage: bool = False) -> list[ResultRow]:
        raise ServiceUnavailable(self.reason)

    def presets(self) -> dict[str, str]:
        return dict(self._presets)

    def prepare(self) -> None:
        """Nothing to load: every search answers with the reason."""

    def uses_instruction(self) -> bool | None:
        """No model is loaded."""
        return None

    def model_notice(self) -> str | None:
        """No model is loaded."""
        return None

    def close(self) -> None:
        """Nothing to free."""


def build_services(settings: Settings) -> tuple[WindowSearch, WindowIndexing | None]:
    """The real search and indexing adapters for ``settings`` (cheap: models load lazily)."""
    try:
        import app.pipeline
        import app.search  # noqa: F401
    except ImportError as exc:
        log.warning("search/indexing services unavailable: %s", exc)
        return UnavailableSearch(f"Search is unavailable: {exc}", settings), None
    # Only the window's ModelDownloader fetches models (with progress, cancellable): a search
    # or indexing thread never starts a download of its own.
    settings = replace(settings, allow_download=False)
    return RealSearch(settings), RealIndexing(settings)


def reporter(on_progress: ProgressCallback) -> RebuildCallback:
    """A rebuild callback that forwards each snapshot as the status bar's ``Progress``."""
    return lambda progress: on_progress(progress.as_progress())
