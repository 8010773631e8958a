"""``quarry gui`` (and bare ``quarry``, ``python -m app``): open the desktop window."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.ui.controller import AppController

#: Seconds quitting waits for background work before cutting it off.
LEAVE_WAIT_S = 3.0
HELP = "Open the Quarry window (the default when no command is given)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options for the window; most configuration lives in the settings dialog."""
    parser.add_argument(
        "--folder",
        action="append",
        default=[],
        metavar="PATH",
        help="Add a folder to index (saved in the settings).",
    )
    parser.add_argument(
        "--hidden", action="store_true", help="Start in the tray without showing the window."
    )


def run(args: argparse.Namespace) -> int:
    """Build the Qt application and controller, then run the event loop.

    On X11, a missing system library would make Qt abort with a misleading message: check
    first and exit 1 with one line naming the packages to install.
    """
    from app import qtlibs

    if qtlibs.uses_xcb() and (missing := qtlibs.missing_libraries()):
        print(qtlibs.install_hint(missing), file=sys.stderr)
        return 1
    return _run_window(args)


def _run_window(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from PySide6.QtWidgets import QApplication

    from app import settings as settings_mod
    from app.ui.adapters import build_services
    from app.ui.controller import AppController
    from app.ui.crash import CrashHandler, log_to_file
    from app.ui.downloader import ModelDownloader
    from app.ui.icon import app_icon

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Quarry")
    app.setDesktopFileName("quarry")
    app.setQuitOnLastWindowClosed(False)  # the tray may keep us alive; quit() is explicit
    settings = settings_mod.load()
    if args.folder:
        folders = list(dict.fromkeys([*settings.folders, *args.folder]))
        settings = replace(settings, folders=folders)
        settings_mod.save(settings)
    search, indexing = build_services(settings)
    controller = AppController(
        settings,
        search,
        indexing,
        icon=app_icon(),
        factory=build_services,
        downloader=ModelDownloader(),
    )
    crash = CrashHandler(controller.window, log_to_file())
    crash.install()  # from here on a bug in any thread shows a dialog, and the app goes on
    controller.start()
    if args.hidden and controller.tray is not None and controller.tray.available():
        controller.window.hide()
    code = int(app.exec())
    crash.uninstall()
    return leave(controller, code)


def leave(controller: AppController, code: int) -> int:
    """Let background work end before Python tears down; if it will not, end the process.

    Quitting never waits long for a model call in flight (each file and batch commits on
    its own, so the next start resumes). But a worker thread still running Python while the
    interpreter finalises, or emitting into Qt objects already deleted, crashed about one
    quit in four ("Fatal Python error: bool_dealloc"). So: wait a moment for the search pool
    and the indexing threads; whatever still runs after that is cut off with ``os._exit``.
    """
    deadline = time.monotonic() + LEAVE_WAIT_S
    for runner in (controller.search_worker.tasks, controller.tasks):
        runner.pool.waitForDone(max(0, int((deadline - time.monotonic()) * 1000)))
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.name.startswith("quarry-"):
            thread.join(max(0.0, deadline - time.monotonic()))
    busy = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if busy or not (controller.search_worker.idle() and controller.tasks.idle()):
        logging.getLogger(__name__).info("quit with work in flight (%s)", ", ".join(busy))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
