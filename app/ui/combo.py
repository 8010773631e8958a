"""Reading a QComboBox entry's data without PySide6's ``None`` reference leak.

With PySide6 6.12 on Python 3.11, every ``itemData``/``currentData`` call that answers
``None`` (an entry without data, e.g. "All types") drops one reference to ``None`` it never
took. The filter bar reads its entries on every keystroke, so after some thousands of
keystrokes the interpreter aborts ("none_dealloc: deallocating None"; measured: 1,000
calls, 1,000 references lost). ``QAbstractItemModel.itemData`` returns a dict of the roles
an entry really has, so a missing value never crosses the binding as ``None``.
``QComboBox.setCurrentIndex`` loses one as well, so per-keystroke code calls it only when
the index really changes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

USER = int(Qt.ItemDataRole.UserRole)


def item_data(combo: QComboBox, row: int, role: int = USER) -> Any:
    """``combo.itemData(row, role)``, safely (None for no entry or no data)."""
    if not 0 <= row < combo.count():
        return None
    model = combo.model()
    return model.itemData(model.index(row, combo.modelColumn())).get(int(role))


def current_data(combo: QComboBox, role: int = USER) -> Any:
    """``combo.currentData(role)``, safely."""
    return item_data(combo, combo.currentIndex(), role)
