"""Opening a file and revealing it in the OS file manager, behind an injectable protocol.

Tests pass a recording opener instead, so pressing Enter never launches real applications.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices


class OpenFailed(Exception):
    """No application could open or reveal the file; the message is shown in the window."""


class Opener(Protocol):
    """What the window does with a result's path (OpenFailed when nothing can)."""

    def open(self, path: str) -> None:
        """Open with the default application."""
        ...

    def reveal(self, path: str) -> None:
        """Show the file selected in its folder."""
        ...


def reveal_command(path: str, platform: str = sys.platform) -> list[str]:
    """The platform's "show in folder" command; Linux has no standard select, so opens the parent."""
    if platform == "darwin":
        return ["open", "-R", path]
    if platform.startswith("win"):
        return ["explorer", f"/select,{path}"]
    return ["xdg-open", str(Path(path).parent)]


class DesktopOpener:
    """The real opener: QDesktopServices for open, the platform command for reveal."""

    def open(self, path: str) -> None:
        """Open with the default application; OpenFailed when the desktop has none."""
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            raise OpenFailed(f"Could not open {path}: no application is set up to open it.")

    def reveal(self, path: str) -> None:
        """Show the file in its folder; OpenFailed when no file manager can be started.

        Linux has no standard "select in folder": the folder is opened the way Qt opens
        any URL, so a desktop without a launcher is detected, not only logged on stderr.
        """
        folder = str(Path(path).parent)
        if sys.platform.startswith("linux"):
            if not QDesktopServices.openUrl(QUrl.fromLocalFile(folder)):
                raise OpenFailed(f"Could not show {folder}: no file manager is set up.")
            return
        try:
            subprocess.Popen(reveal_command(path), start_new_session=True)
        except OSError as exc:
            if not QDesktopServices.openUrl(QUrl.fromLocalFile(folder)):
                raise OpenFailed(f"Could not show {folder}: {exc}") from exc
