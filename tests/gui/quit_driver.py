"""Run the real ``quarry gui`` and, once its window shows, type a query and quit (Ctrl+Q's action).

Started by tests/gui/test_xcb.py in a fresh process per round: a crash at quit is an exit
status, and the platform actually used is printed (``platform=xcb``).
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.cli import main
from app.ui.main_window import MainWindow


def _window() -> MainWindow | None:
    return next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)), None)


def _drive(quit_after_ms: int) -> None:
    window = _window()
    if window is None or not window.isVisible():
        QTimer.singleShot(50, lambda: _drive(quit_after_ms))
        return
    print(f"platform={QApplication.platformName()} shown={window.isVisible()}", flush=True)
    QTest.keyClicks(window.search_field, "lighthouse keeper")
    QTimer.singleShot(quit_after_ms, lambda: _quit_action(window).trigger())


def _quit_action(window: MainWindow) -> QAction:
    """The menu action Ctrl+Q triggers (without a window manager, Xvfb gives no key focus)."""
    quit_keys = QKeySequence(QKeySequence.StandardKey.Quit)
    return next(
        action
        for action in window.findChildren(QAction)
        if action.shortcut().matches(quit_keys) == QKeySequence.SequenceMatch.ExactMatch
    )


if __name__ == "__main__":
    app = QApplication(sys.argv[:1])  # ``quarry gui`` reuses this instance
    QTimer.singleShot(0, lambda: _drive(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
    sys.exit(main(["gui"]))
