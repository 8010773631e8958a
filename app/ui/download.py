"""Runs ``app.download.prepare_models`` on a daemon thread and reports by signal."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal

from app.download import DownloadCancelled, ModelUnavailable, prepare_models
from app.settings import Settings

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Parentless signal source owned by the thread (it may outlive the downloader)."""

    progress = Signal(str, object, object)  # spec, done, total (may exceed 32-bit ints)
    ready = Signal(object)  # Prepared
    failed = Signal(object)  # ModelUnavailable


class ModelDownloader(QObject):
    """Checks (and with consent downloads) the configured models before they are used."""

    download_progress = Signal(str, object, object)  # spec, done bytes, total bytes
    models_ready = Signal(object)  # app.download.Prepared
    models_failed = Signal(object)  # app.download.ModelUnavailable

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._relay: _Relay | None = None

    @property
    def running(self) -> bool:
        """True while a check or download is in flight."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, settings: Settings) -> None:
        """Check ``settings``' models off the main thread; a newer call supersedes an older one."""
        self.cancel()
        cancel = self._cancel = threading.Event()
        relay = self._relay = _Relay()
        relay.progress.connect(self.download_progress)
        relay.ready.connect(self.models_ready)
        relay.failed.connect(self.models_failed)

        def work() -> None:
            try:
                prepared = prepare_models(settings, relay.progress.emit, cancel.is_set)
            except DownloadCancelled:
                log.info("model download cancelled")
                return
            except ModelUnavailable as failure:
                if not cancel.is_set():
                    relay.failed.emit(failure)
                return
            except Exception as exc:  # a bug, but the window must still get a model
                log.exception("model check failed")
                relay.failed.emit(ModelUnavailable("embedding", settings.embed_model, str(exc)))
                return
            if not cancel.is_set():
                relay.ready.emit(prepared)

        self._thread = threading.Thread(target=work, name="quarry-download", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Stop a download at its next chunk; its answer, if any, is dropped."""
        self._cancel.set()
        if self._relay is not None:
            self._relay.progress.disconnect()
            self._relay.ready.disconnect()
            self._relay.failed.disconnect()
            self._relay = None

    def shutdown(self, wait_s: float = 0.5) -> None:
        """Cancel and give the thread a moment (it is a daemon: quitting never waits long)."""
        self.cancel()
        if self._thread is not None:
            self._thread.join(wait_s)
