"""Bugs are shown, not buried: an uncaught exception in any thread opens a dialog.

The environment's faults (a full disk, a model that will not load) are caught where they
happen and worded calmly. Everything that escapes is our bug: ``sys.excepthook`` (the main
thread, including Qt slots) and ``threading.excepthook`` (every Python thread) hand it to
``CrashHandler``, which logs it and shows a dialog with the traceback under "Show
Details" and the log file's location. The window keeps running: a bug in one search or
one background task should not cost the user the app.

A thread's hook runs on that thread, where widgets must not be touched, so the handler
emits a signal; Qt queues it to the GUI thread, which opens the dialog.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app import paths

log = logging.getLogger(__name__)

LOG_BYTES = 1_000_000  # per file; three old files are kept beside it


def log_path() -> Path:
    """The window's log file (in the cache folder: disposable, but kept across runs)."""
    return paths.cache_dir() / "quarry.log"


def log_to_file() -> Path:
    """Also write the log to ``log_path()`` (stderr is gone when the window was started
    from a desktop menu), so the crash dialog can say where the details are."""
    path = log_path()
    root = logging.getLogger()
    if not any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        handler = RotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    return path


class CrashHandler(QObject):
    """Installs the hooks and shows one dialog per uncaught exception."""

    crashed = Signal(str, str)  # one-line summary, full traceback

    def __init__(self, parent: QWidget | None = None, log_file: Path | None = None) -> None:
        super().__init__(parent)
        self._parent = parent
        self.log_file = log_file
        self.dialogs: list[QMessageBox] = []  # open ones; kept alive until closed
        self._previous: tuple[object, object] | None = None
        self.crashed.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        """Route uncaught exceptions of every thread here (until ``uninstall``)."""
        if self._previous is None:
            self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.excepthook
        threading.excepthook = self.thread_excepthook

    def uninstall(self) -> None:
        """Put back the hooks found at ``install``."""
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous  # type: ignore[assignment]
            self._previous = None

    def excepthook(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
        thread: str = "",
    ) -> None:
        """Log the exception and ask the GUI thread to show it (safe from any thread)."""
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        where = f" in thread {thread}" if thread else ""
        log.error("uncaught exception%s", where, exc_info=(exc_type, exc, tb))
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        self.crashed.emit(f"{exc_type.__name__}: {exc}{where}", details)

    def thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        """``threading.excepthook``: a thread's bug, shown like the main thread's."""
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else ""
        self.excepthook(args.exc_type, args.exc_value, args.exc_traceback, name)

    def _show(self, summary: str, details: str) -> None:
        box = QMessageBox(self._parent)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("Quarry hit a bug")
        box.setText(f"Something went wrong inside Quarry:\n{summary}")
        box.setInformativeText(f"{self._where_logged()}\nQuarry keeps running.")
        box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _code, b=box: self._closed(b))
        self.dialogs.append(box)
        box.open()  # not exec(): the window stays usable behind it

    def _closed(self, box: QMessageBox) -> None:
        if box in self.dialogs:
            self.dialogs.remove(box)

    def _where_logged(self) -> str:
        if self.log_file is None:
            return "No log file is written; the details below are all there is."
        return f"The details are also in the log file:\n{self.log_file}"
