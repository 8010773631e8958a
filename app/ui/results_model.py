"""The result list as a Qt model; a rerank moves rows instead of resetting them.

Moving rows (``beginMoveRows``) rather than resetting keeps the user's selection on the same
hit and lets the view show the re-order step by step, which reads as "smooth" to the eye.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from app.ui.backend import Hit

AnyIndex = QModelIndex | QPersistentModelIndex

HitRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
FolderRole = Qt.ItemDataRole.UserRole + 3
SnippetRole = Qt.ItemDataRole.UserRole + 4
LocationRole = Qt.ItemDataRole.UserRole + 5
ModifiedRole = Qt.ItemDataRole.UserRole + 6
ScoreRole = Qt.ItemDataRole.UserRole + 7


def format_modified(mtime: float | None) -> str:
    """A short date: today's time, else the day."""
    if mtime is None:
        return ""
    when = dt.datetime.fromtimestamp(mtime)
    if when.date() == dt.date.today():
        return when.strftime("%H:%M")
    return when.strftime("%Y-%m-%d")


def plan_moves(current: Sequence[str], target: Sequence[str]) -> list[tuple[int, int]]:
    """Moves (from_row, to_row) that turn ``current`` into ``target`` (same keys).

    Selection-sort order: row ``i`` is fixed once placed, so each move is one visible step.
    """
    order = list(current)
    moves = []
    for i, key in enumerate(target):
        j = order.index(key)
        if j != i:
            moves.append((j, i))
            order.insert(i, order.pop(j))
    return moves


class ResultsModel(QAbstractListModel):
    """Hits, best first, with roles for the delegate; passes ``qtmodeltester``."""

    reorder_finished = Signal()

    def __init__(self, parent: QObject | None = None, step_ms: int = 40) -> None:
        super().__init__(parent)
        self._hits: list[Hit] = []
        self._pending: list[tuple[int, int]] = []
        self._target: list[Hit] = []
        self._timer = QTimer(self)
        self._timer.setInterval(step_ms)
        self._timer.timeout.connect(self._step)

    # -- Qt model API -------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._hits)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._hits):
            return None
        hit = self._hits[index.row()]
        return self._role_value(hit, role)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    @staticmethod
    def _role_value(hit: Hit, role: int) -> Any:
        values: dict[int, Any] = {
            Qt.ItemDataRole.DisplayRole: hit.name,
            Qt.ItemDataRole.ToolTipRole: hit.path,
            HitRole: hit,
            PathRole: hit.path,
            FolderRole: hit.folder,
            SnippetRole: hit.snippet,
            LocationRole: hit.location,
            ModifiedRole: format_modified(hit.modified),
            ScoreRole: hit.score,
        }
        return values.get(role)

    # -- our API ------------------------------------------------------------------------
    def hits(self) -> list[Hit]:
        """The hits in display order (a copy)."""
        return list(self._hits)

    def hit(self, row: int) -> Hit | None:
        """The hit at ``row``, or None outside the list."""
        return self._hits[row] if 0 <= row < len(self._hits) else None

    def set_hits(self, hits: Sequence[Hit]) -> None:
        """Replace everything (a new query); cancels a re-order in progress."""
        self._stop_animation()
        self.beginResetModel()
        self._hits = list(hits)
        self.endResetModel()

    def clear(self) -> None:
        """Empty the list (Esc, or an empty query)."""
        self.set_hits([])

    def reorder(self, hits: Sequence[Hit], animate: bool = True) -> None:
        """Show ``hits`` (the same hits re-ranked) by moving rows, optionally step by step.

        When the set of hits differs, it falls back to a reset: nothing to animate.
        """
        self._stop_animation()
        current = [h.key for h in self._hits]
        target = [h.key for h in hits]
        if sorted(current) != sorted(target) or len(set(target)) != len(target):
            self.set_hits(hits)
            self.reorder_finished.emit()
            return
        self._target = list(hits)
        self._pending = plan_moves(current, target)
        if animate and self._pending:
            self._timer.start()
            return
        while self._pending:
            self._move(*self._pending.pop(0))
        self._step()  # refreshes scores and announces the end

    @property
    def animating(self) -> bool:
        """True while a re-order is still moving rows."""
        return self._timer.isActive()

    def _stop_animation(self) -> None:
        """Finish a half-done re-order at once, so the model always ends consistent."""
        if self._timer.isActive():
            self._timer.stop()
            while self._pending:
                self._move(*self._pending.pop(0))
            self._refresh_data()

    def _step(self) -> None:
        if self._pending:
            self._move(*self._pending.pop(0))
        if not self._pending:
            self._timer.stop()
            self._refresh_data()
            self.reorder_finished.emit()

    def _move(self, src: int, dst: int) -> None:
        # Qt wants the destination as "insert before this row" in the pre-move numbering.
        if not self.beginMoveRows(QModelIndex(), src, src, QModelIndex(), dst):
            return
        self._hits.insert(dst, self._hits.pop(src))
        self.endMoveRows()

    def _refresh_data(self) -> None:
        """Rerank changes scores too: take the new hit objects, same order."""
        if not self._target:
            return
        by_key = {h.key: h for h in self._target}
        self._hits = [by_key.get(h.key, h) for h in self._hits]
        self._target = []
        if self._hits:
            self.dataChanged.emit(self.index(0), self.index(len(self._hits) - 1))
