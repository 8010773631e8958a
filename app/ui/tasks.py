"""The window's one way to run blocking work (disk, models) off the main thread.

A ``TaskRunner`` owns a small thread pool. ``start`` runs a call whose answers travel by
the caller's own signals (a search publishes results, then reranked orders); ``call`` runs
a call and hands its return value to a callback on the main thread. Either way an
exception is logged with its traceback and reaches ``on_error`` on the main thread: a bug
in background work shows in the window, it never dies as a log line.

The long-lived threads (the indexing run, a model download) are not tasks: they live as
long as the app does and must not hold quitting up, so they stay daemon threads
(``app.ui.workers.IndexingWorker``, ``app.ui.downloader``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QThreadPool, Signal

log = logging.getLogger(__name__)
T = TypeVar("T")
ErrorCallback = Callable[[str], None]


class _TaskSignals(QObject):
    """Parentless, so a task finishing after its runner was deleted emits into nothing
    instead of onto a deleted C++ object (a crash at quit)."""

    done = Signal(object, object)  # callback, value
    failed = Signal(object, str)  # callback, "TypeError: ..."


class TaskRunner(QObject):
    """Runs calls on its pool; results and errors come back on the main thread."""

    def __init__(self, parent: QObject | None = None, threads: int = 1) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._signals = _TaskSignals()
        # Bound to this QObject (main thread), so the callbacks run there.
        self._signals.done.connect(self._deliver)
        self._signals.failed.connect(self._deliver)

    def start(self, fn: Callable[[], None], on_error: ErrorCallback) -> None:
        """Run ``fn`` on the pool; its exception, if any, goes to ``on_error``."""
        signals = self._signals

        def work() -> None:
            try:
                fn()
            except Exception as exc:  # a worker must not die silently
                log.exception("background task failed")
                signals.failed.emit(on_error, f"{type(exc).__name__}: {exc}")

        self.pool.start(work)

    def call(
        self, fn: Callable[[], T], on_done: Callable[[T], None], on_error: ErrorCallback
    ) -> None:
        """Run ``fn`` on the pool and give its value to ``on_done`` on the main thread."""
        signals = self._signals
        self.start(lambda: signals.done.emit(on_done, fn()), on_error)

    def shutdown(self, wait_ms: int = 1000) -> None:
        """Drop queued tasks and give running ones ``wait_ms`` to finish."""
        self.pool.clear()
        self.pool.waitForDone(wait_ms)

    def idle(self) -> bool:
        """True when no task runs."""
        return self.pool.activeThreadCount() == 0

    def _deliver(self, callback: Callable[[Any], None], value: object) -> None:
        callback(value)
