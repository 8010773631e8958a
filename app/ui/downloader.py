"""Runs ``app.download.prepare_models`` on a daemon thread and reports by signal."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal

from app.download import DownloadCancelled, ModelUnavailable, prepare_models
from app.settings import Settings

log = logging.getLogger(__name__)


class _DownloadSignals(QObject):
    """Parentless signal source shared with the threads (they may outlive the downloader).

    Its answers carry the run number; the downloader drops any from a cancelled run, even
    one already queued when ``cancel`` ran.
    """

    progress = Signal(int, str, object, object)  # run, spec, done, total (past 32 bits)
    ready = Signal(int, object)  # run, ModelsPrepared
    failed = Signal(int, object)  # run, ModelUnavailable


class ModelDownloader(QObject):
    """Checks (and with consent downloads) the configured models before they are used."""

    download_progress = Signal(str, object, object)  # spec, done bytes, total bytes
    models_ready = Signal(object)  # app.download.ModelsPrepared
    models_failed = Signal(object)  # app.download.ModelUnavailable

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._run = 0  # answers from an older (cancelled) run are dropped
        self._relay = _DownloadSignals()
        self._relay.progress.connect(self._on_progress)
        self._relay.ready.connect(self._on_ready)
        self._relay.failed.connect(self._on_failed)

    @property
    def running(self) -> bool:
        """True while a check or download is in flight."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, settings: Settings) -> None:
        """Check ``settings``' models off the main thread; a newer call supersedes an older one."""
        self.cancel()
        cancel = self._cancel = threading.Event()
        relay, run = self._relay, self._run

        def progress(spec: str, done: int, total: int) -> None:
            relay.progress.emit(run, spec, done, total)

        def work() -> None:
            try:
                prepared = prepare_models(settings, progress, cancel.is_set)
            except DownloadCancelled:
                log.info("model download cancelled")
                return
            except ModelUnavailable as failure:
                relay.failed.emit(run, failure)
                return
            except OSError as exc:  # the disk or the network gave out mid-download
                relay.failed.emit(
                    run, ModelUnavailable("embedding", settings.embed_model, str(exc))
                )
                return
            # Anything else is a bug: it goes up to threading.excepthook (the crash dialog)
            # instead of being worded as a missing model.
            relay.ready.emit(run, prepared)

        self._thread = threading.Thread(target=work, name="quarry-download", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Stop a download at its next chunk; its answer, if any, is dropped."""
        self._cancel.set()
        self._run += 1

    def _on_progress(self, run: int, spec: str, done: int, total: int) -> None:
        if run == self._run:
            self.download_progress.emit(spec, done, total)

    def _on_ready(self, run: int, prepared: object) -> None:
        if run == self._run:
            self.models_ready.emit(prepared)

    def _on_failed(self, run: int, failure: object) -> None:
        if run == self._run:
            self.models_failed.emit(failure)

    def shutdown(self, wait_s: float = 0.5) -> None:
        """Cancel and give the thread a moment (it is a daemon: quitting never waits long)."""
        self.cancel()
        if self._thread is not None:
            self._thread.join(wait_s)
