"""The list of folders to index, with its Add/Remove buttons, shared by settings and welcome."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QListWidget, QPushButton, QWidget


class FolderList(QListWidget):
    """Folder paths, one a row, never listed twice."""

    def __init__(self, folders: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.addItems(folders)

    def folder_list(self) -> list[str]:
        """Folders as currently listed."""
        return [self.item(i).text() for i in range(self.count())]

    def add_folder(self, folder: str) -> None:
        """Add ``folder`` unless it is already listed."""
        if folder not in self.folder_list():
            self.addItem(folder)

    def remove_folder(self, row: int) -> None:
        """Drop the folder at ``row`` (nothing when out of range)."""
        if 0 <= row < self.count():
            self.takeItem(row)

    def button_row(self, on_pick: Callable[[str], None]) -> QHBoxLayout:
        """ "Add folder…" (asks for a folder, then calls ``on_pick``) and "Remove" (selected)."""
        add = QPushButton("Add folder…")
        remove = QPushButton("Remove")
        add.clicked.connect(lambda: self._pick(on_pick))
        remove.clicked.connect(lambda: self.remove_folder(self.currentRow()))
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        return row

    def _pick(self, on_pick: Callable[[str], None]) -> None:
        folder = QFileDialog.getExistingDirectory(self.window(), "Add a folder to index")
        if folder:
            on_pick(folder)
