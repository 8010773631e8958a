"""The worker layer: every model and disk call runs here, off the main thread.

Searches and previews run on a ``QThreadPool``; their answers come back as signals tagged
with a request number, and the main thread drops any answer whose number is stale. The
indexer runs on a daemon thread so quitting never waits for a batch in flight (each file
commits in its own transaction, so the next start resumes cleanly).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Signal

from app.search import SearchOptions
from app.ui.protocols import ResultRow, Span, WindowIndexing, WindowSearch
from app.ui.tasks import TaskRunner

log = logging.getLogger(__name__)


class _SearchSignals(QObject):
    """Parentless signal source for the pool's tasks (see ``_IndexingSignals`` for why).

    A warm-up or search may still run when the app quits; it must never emit on a
    SearchWorker that Qt already deleted ("Signal source has been deleted", or worse, a
    refcount crash during interpreter teardown).
    """

    results_ready = Signal(int, object)
    rerank_started = Signal(int)
    rerank_updated = Signal(int, object)
    rerank_finished = Signal(int)
    preview_ready = Signal(int, object)
    prepared = Signal()


class SearchWorker(QObject):
    """Runs searches, reranks and previews in a pool; answers arrive tagged by request."""

    results_ready = Signal(int, object)  # request, list[ResultRow]
    rerank_started = Signal(int)
    rerank_updated = Signal(int, object)  # request, list[ResultRow] in the improved order
    rerank_finished = Signal(int)
    preview_ready = Signal(int, object)  # request, Preview
    search_failed = Signal(int, str)
    prepared = Signal()  # the warm-up finished (or failed: the first search will say why)

    def __init__(self, backend: WindowSearch, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._backend = backend
        self._users: dict[int, int] = {}  # id(backend) -> tasks using it now
        self._retired: set[int] = set()  # id()s of replaced backends, closed when unused
        self._users_lock = threading.Lock()
        self.tasks = TaskRunner(self, threads=2)  # one search + one preview; a shared machine
        self._latest = 0
        self._latest_preview = 0
        self._relay = _SearchSignals()
        for name in ("results_ready", "rerank_started", "rerank_updated", "rerank_finished",
                     "preview_ready", "prepared"):  # fmt: skip
            getattr(self._relay, name).connect(getattr(self, name))

    @property
    def backend(self) -> WindowSearch:
        """The backend new searches use."""
        return self._backend

    def replace_search(self, backend: WindowSearch) -> None:
        """Search with ``backend`` from now on; the old one (its models, its connection) is
        closed on the pool as soon as no running task uses it any more."""
        old, self._backend = self._backend, backend
        if old is backend:
            return
        with self._users_lock:
            self._retired.add(id(old))
        self._release(old, 0)

    def _use(self, fn: Callable[[WindowSearch], None]) -> Callable[[], None]:
        """``fn`` bound to the current backend, counted as its user from now (it is queued)
        until it has run."""
        backend = self._backend
        with self._users_lock:
            self._users[id(backend)] = self._users.get(id(backend), 0) + 1

        def run() -> None:
            try:
                fn(backend)
            finally:
                self._release(backend, 1)

        return run

    def _release(self, backend: WindowSearch, count: int) -> None:
        with self._users_lock:
            left = self._users.pop(id(backend), 0) - count
            if left > 0:
                self._users[id(backend)] = left
            retired = left <= 0 and id(backend) in self._retired
            if retired:
                self._retired.discard(id(backend))
        if retired:
            self.tasks.start(backend.close, lambda m: log.warning("closing a backend: %s", m))

    @property
    def latest(self) -> int:
        """The newest search's request number: the one whose answers are shown."""
        return self._latest

    def is_current(self, request: int) -> bool:
        """True while ``request`` is the newest search (read from any thread)."""
        return request == self._latest

    def cancel(self) -> int:
        """Outdate every running search and rerank; returns the new request number."""
        self._latest += 1
        return self._latest

    def search(self, query: str, options: SearchOptions) -> int:
        """Start a search (and its rerank when asked); returns its request number."""
        request = self.cancel()
        search = self._use(lambda backend: self._search(backend, request, query, options))
        self.tasks.start(search, self._failed(request))
        return request

    def prepare(self) -> None:
        """Warm the backend up (models, vector index) on the pool; ``prepared`` follows."""
        relay = self._relay

        def warm(backend: WindowSearch) -> None:
            try:
                backend.prepare()
            finally:
                relay.prepared.emit()

        self.tasks.start(self._use(warm), lambda message: log.info("warm-up: %s", message))

    def preview(self, hit: ResultRow, span: Span | None = None) -> int:
        """Load a hit's document (around it, or ``span``); only the newest is shown."""
        self._latest_preview += 1
        request = self._latest_preview
        preview = self._use(lambda backend: self._preview(backend, request, hit, span))
        self.tasks.start(preview, self._failed(request))
        return request

    def similar(self, hit: ResultRow, passage: bool = False) -> int:
        """Find files like ``hit``'s; the answer arrives as ``results_ready``, like a search."""
        request = self.cancel()
        similar = self._use(lambda backend: self._similar(backend, request, hit, passage))
        self.tasks.start(similar, self._failed(request))
        return request

    def _similar(self, backend: WindowSearch, request: int, hit: ResultRow, passage: bool) -> None:
        hits = backend.similar(hit, passage)
        if self.is_current(request):
            self._relay.results_ready.emit(request, hits)

    def is_current_preview(self, request: int) -> bool:
        """True while ``request`` is the newest preview."""
        return request == self._latest_preview

    def _failed(self, request: int) -> Callable[[str], None]:
        return lambda message: self.search_failed.emit(request, message)

    def _search(
        self, backend: WindowSearch, request: int, query: str, options: SearchOptions
    ) -> None:
        if not self.is_current(request):
            return
        hits = backend.search(query, options)
        if not self.is_current(request):
            return
        self._relay.results_ready.emit(request, hits)
        if options.rerank_depth != 0 and sum(not h.weak for h in hits) > 1:
            self._rerank(backend, request, query, hits, options)

    def _rerank(
        self,
        backend: WindowSearch,
        request: int,
        query: str,
        hits: Sequence[ResultRow],
        options: SearchOptions,
    ) -> None:
        self._relay.rerank_started.emit(request)
        try:
            backend.rerank(
                query,
                hits,
                options,
                lambda improved: self._publish(request, improved),
                lambda: not self.is_current(request),
            )
        finally:
            self._relay.rerank_finished.emit(request)

    def _publish(self, request: int, hits: list[ResultRow]) -> None:
        if self.is_current(request):
            self._relay.rerank_updated.emit(request, list(hits))

    def _preview(
        self, backend: WindowSearch, request: int, hit: ResultRow, span: Span | None
    ) -> None:
        if self.is_current_preview(request):
            self._relay.preview_ready.emit(request, backend.preview(hit, span))

    def shutdown(self, wait_ms: int = 1000) -> None:
        """Outdate all work and give running tasks a moment to notice."""
        self.cancel()
        self.tasks.shutdown(wait_ms)

    def idle(self) -> bool:
        """True when no task runs in the pool any more."""
        return self.tasks.idle()


class _IndexingSignals(QObject):
    """Parentless signal source that the indexing threads own.

    A daemon thread may outlive the window (quitting never waits for it). If it emitted on
    the IndexingWorker itself after Qt deleted that C++ object, the process would crash;
    the relay is kept alive by the thread, and Qt drops its connections when the worker dies.
    """

    progress = Signal(object)
    finished = Signal()
    rebuilt = Signal(int)
    failed = Signal(str)


def _run_indexing(backend: WindowIndexing, relay: _IndexingSignals) -> None:
    try:
        backend.run(relay.progress.emit)
    except Exception as exc:
        log.exception("indexing failed")
        relay.failed.emit(f"{type(exc).__name__}: {exc}")
    finally:
        relay.finished.emit()


def _run_rebuild(backend: WindowIndexing, relay: _IndexingSignals, dimension: int) -> None:
    try:
        backend.rebuild(dimension, relay.progress.emit)
    except Exception as exc:
        log.exception("rebuild failed")
        relay.failed.emit(f"{type(exc).__name__}: {exc}")
    else:
        relay.rebuilt.emit(dimension)


class IndexingWorker(QObject):
    """Runs the indexer (and dimension rebuilds) on a daemon thread; reports by signal."""

    progress_changed = Signal(object)  # Progress
    indexing_started = Signal()
    indexing_finished = Signal()
    rebuild_finished = Signal(int)  # the new dimension
    paused_changed = Signal(bool)
    indexing_failed = Signal(str)

    def __init__(self, backend: WindowIndexing, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self._thread: threading.Thread | None = None
        self._rebuild: threading.Thread | None = None
        self.paused = False
        self._relay = _IndexingSignals()
        self._relay.progress.connect(self.progress_changed)
        self._relay.finished.connect(self.indexing_finished)
        self._relay.rebuilt.connect(self.rebuild_finished)
        self._relay.failed.connect(self.indexing_failed)

    @property
    def running(self) -> bool:
        """True while an indexing run is in flight."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def rebuilding(self) -> bool:
        """True while a dimension rebuild is in flight."""
        return self._rebuild is not None and self._rebuild.is_alive()

    def start(self) -> None:
        """Start an indexing run unless one is already going."""
        if self.running:
            return
        backend, relay = self.backend, self._relay
        self._thread = self._spawn(lambda: _run_indexing(backend, relay), "quarry-indexer")
        self.indexing_started.emit()

    def start_rebuild(self, dimension: int) -> None:
        """Rebuild at ``dimension`` in the background; search keeps using the old index."""
        if self.rebuilding:
            return
        backend, relay = self.backend, self._relay
        self._rebuild = self._spawn(
            lambda: _run_rebuild(backend, relay, dimension), "quarry-rebuild"
        )

    def pause(self) -> None:
        """Pause the run; the file in flight finishes first."""
        self.backend.pause()
        self.paused = True
        self.paused_changed.emit(True)

    def resume(self) -> None:
        """Resume a paused run."""
        self.backend.resume()
        self.paused = False
        self.paused_changed.emit(False)

    def toggle_pause(self) -> None:
        """Pause when running, resume when paused (the status bar and tray button)."""
        self.resume() if self.paused else self.pause()

    def promote(self, paths: Sequence[str], band: int) -> None:
        """Embed these files sooner (only queues a request: safe on the main thread)."""
        if paths:
            self.backend.promote(paths, band)

    def shutdown(self, wait_s: float = 0.5) -> None:
        """Ask the indexer to stop; never block quitting for long (daemon thread)."""
        self.backend.cancel()
        for thread in (self._thread, self._rebuild):
            if thread is not None:
                thread.join(wait_s)

    def _spawn(self, fn: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=fn, name=name, daemon=True)
        thread.start()
        return thread
