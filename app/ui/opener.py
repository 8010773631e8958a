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


class Opener(Protocol):
    """What the window does with a result's path."""

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
        """Open with the default application."""
        QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def reveal(self, path: str) -> None:
        """Start the file manager detached; a missing tool must not crash the window."""
        try:
            subprocess.Popen(reveal_command(path), start_new_session=True)
        except OSError:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))
