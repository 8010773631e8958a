"""The "problem files" dialog: what was skipped or failed and why, with Retry."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from storage.models import ProblemFile

COLUMNS = ("File", "Status", "Reason", "Retries")


class ProblemsDialog(QDialog):
    """Lists problem files; Retry asks for the selected ones (or all) to be queued again."""

    retry_requested = Signal(list)  # list[str] of paths

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Problem files")
        self.resize(760, 360)
        self.note = QLabel()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.retry_button = QPushButton("Retry")
        buttons.addButton(self.retry_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.retry_button.clicked.connect(self._retry)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def set_problems(self, problems: Sequence[ProblemFile]) -> None:
        """Fill the table; sorted by path so the list is stable between refreshes."""
        rows = sorted(problems, key=lambda p: p.path)
        self.table.setRowCount(len(rows))
        for r, problem in enumerate(rows):
            cells = (
                problem.path,
                problem.status,
                problem.error or "unknown reason",
                str(problem.retries),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
        self.note.setText(
            "These files were not indexed. Fix the cause (permissions, a damaged file) and Retry."
            if rows
            else "No problem files."
        )
        self.retry_button.setEnabled(bool(rows))

    def paths(self) -> list[str]:
        """Every listed path, in display order."""
        items = (self.table.item(r, 0) for r in range(self.table.rowCount()))
        return [item.text() for item in items if item is not None]

    def _retry(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        all_paths = self.paths()
        chosen = [all_paths[r] for r in rows] if rows else all_paths
        if chosen:
            self.retry_requested.emit(chosen)
