"""The tray icon: show/hide the window, pause embedding, quit."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon


class Tray(QObject):
    """Wraps ``QSystemTrayIcon``; absent trays (some desktops, offscreen) are simply skipped."""

    show_hide_requested = Signal()
    pause_toggled = Signal()
    quit_requested = Signal()

    def __init__(self, icon: QIcon, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.menu = QMenu()
        self.show_action = QAction("Show/Hide Quarry", self)
        self.pause_action = QAction("Pause embedding", self)
        self.quit_action = QAction("Quit", self)
        self.show_action.triggered.connect(self.show_hide_requested)
        self.pause_action.triggered.connect(self.pause_toggled)
        self.quit_action.triggered.connect(self.quit_requested)
        for action in (self.show_action, self.pause_action, self.quit_action):
            self.menu.addAction(action)
        self.icon = QSystemTrayIcon(icon, self)
        self.icon.setToolTip("Quarry")
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)

    @staticmethod
    def available() -> bool:
        """True when the desktop has a system tray."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        """Show the icon when there is a tray to show it in."""
        if self.available():
            self.icon.show()

    def set_paused(self, paused: bool) -> None:
        """Keep the menu label in step with phase 2."""
        self.pause_action.setText("Resume embedding" if paused else "Pause embedding")

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_hide_requested.emit()
