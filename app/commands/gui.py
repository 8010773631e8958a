"""``quarry gui`` (and bare ``quarry``, ``python -m app``): open the desktop window."""

from __future__ import annotations

import argparse
import logging
import sys

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
    """Build the Qt application and controller, then run the event loop."""
    from dataclasses import replace

    from PySide6.QtWidgets import QApplication

    from app import settings as settings_mod
    from app.ui.controller import AppController
    from app.ui.download import ModelDownloader
    from app.ui.icon import app_icon
    from app.ui.services import build_backends

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
    search, indexing = build_backends(settings)
    controller = AppController(
        settings,
        search,
        indexing,
        icon=app_icon(),
        factory=build_backends,
        downloader=ModelDownloader(),
    )
    controller.start()
    if args.hidden and controller.tray is not None and controller.tray.available():
        controller.window.hide()
    return int(app.exec())
