"""The query's recognised operators as removable chips under the search field.

``app.query.parse`` finds them; each chip reads like "type: pdf ✕" and clicking it asks the
window to take that operator out of the query text (``remove_requested``). The bar hides
itself when the query has no operators, so plain searches look as before.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from app.query import Operator, ParsedQuery


class ChipBar(QWidget):
    """One button per operator of the last parsed query."""

    remove_requested = Signal(object)  # the Operator to take out

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(QLabel("Filters:"))
        self._layout.addStretch(1)
        self.chips: list[QToolButton] = []
        self.setVisible(False)

    def show_query(self, parsed: ParsedQuery) -> None:
        """Replace the chips with ``parsed``'s operators."""
        for chip in self.chips:
            self._layout.removeWidget(chip)
            chip.deleteLater()
        self.chips = [self._chip(op) for op in parsed.operators]
        for i, chip in enumerate(self.chips):
            self._layout.insertWidget(1 + i, chip)
        self.setVisible(bool(self.chips))

    def labels(self) -> list[str]:
        """The chips' texts (what a test or a screen reader checks)."""
        return [chip.text() for chip in self.chips]

    def _chip(self, op: Operator) -> QToolButton:
        chip = QToolButton()
        chip.setText(f"{op.label}  ✕")
        chip.setToolTip(f"Remove {op.label} from the query")
        chip.setAutoRaise(False)
        chip.clicked.connect(lambda: self.remove_requested.emit(op))
        return chip
