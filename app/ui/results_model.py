"""The result list as a Qt tree model: one row per file, its other passages as children.

Top-level rows are files (best passage shown); a file's other matching passages are its
children, so the view's expand arrow, the "N more matches" line and the keyboard (Right /
Left in the list) open and close them. Weak files (below the model's relevance floor) are
held back behind one last row, "Show N weaker matches"; activating it adds them.

A rerank moves rows (``beginMoveRows``) rather than resetting: the user's selection stays
on the same file and the re-order is shown step by step, which reads as "smooth".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from app.ui.protocols import ResultRow

AnyIndex = QModelIndex | QPersistentModelIndex

RowRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
FolderRole = Qt.ItemDataRole.UserRole + 3
SnippetRole = Qt.ItemDataRole.UserRole + 4
LocationRole = Qt.ItemDataRole.UserRole + 5
ModifiedRole = Qt.ItemDataRole.UserRole + 6
ScoreRole = Qt.ItemDataRole.UserRole + 7
KindRole = Qt.ItemDataRole.UserRole + 8  # "file" | "passage" | "weaker"
MoreRole = Qt.ItemDataRole.UserRole + 9  # how many more passages a file row holds
LevelRole = Qt.ItemDataRole.UserRole + 10  # "high" | "medium" | "low" | None

ROOT = 0  # internal id of top-level rows; a child's id is its file's serial number


def format_modified(mtime: float | None, today: dt.date | None = None) -> str:
    """The day a file changed ("2026-11-27"), with the time when that day is today."""
    if mtime is None:
        return ""
    when = dt.datetime.fromtimestamp(mtime)
    if when.date() == (today or dt.date.today()):
        return when.strftime("%Y-%m-%d %H:%M")
    return when.strftime("%Y-%m-%d")


def relevance_text(hit: ResultRow) -> str:
    """Tooltip words for a row's relevance: the level and where its number comes from."""
    if hit.level is None:
        return "Relevance not calibrated for this model"
    source = "reranker" if "rerank" in hit.scores else "calibrated"
    p = f" ({hit.relevance:.0%}, {source})" if hit.relevance is not None else ""
    return f"{hit.level.capitalize()} relevance{p}"


def tooltip(hit: ResultRow, kind: str) -> str:
    """The row's full path and heading path (the row elides both), and for a file row
    its relevance."""
    lines = [hit.path, hit.location] if hit.location else [hit.path]
    if kind == "file":
        lines.append(relevance_text(hit))
    return "\n".join(lines)


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


class ResultsModel(QAbstractItemModel):
    """Files best first, their passages as children; passes ``qtmodeltester``."""

    reorder_finished = Signal()
    weaker_shown = Signal()

    def __init__(self, parent: QObject | None = None, step_ms: int = 40) -> None:
        super().__init__(parent)
        self._hits: list[ResultRow] = []
        self._serials: list[int] = []  # a stable number per file row (children point to it)
        self._next = 1
        self._weak: list[ResultRow] = []  # held back until "Show weaker matches"
        self._pending: list[tuple[int, int]] = []
        self._target: list[ResultRow] = []
        self._timer = QTimer(self)
        self._timer.setInterval(step_ms)
        self._timer.timeout.connect(self._step)

    # -- Qt model API -------------------------------------------------------------------
    def index(self, row: int, column: int = 0, parent: AnyIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        if column != 0 or row < 0 or not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, 0, ROOT)
        if parent.internalId() != ROOT:
            return QModelIndex()
        return self.createIndex(row, 0, self._serials[parent.row()])

    def parent(self, index: AnyIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid() or index.internalId() == ROOT:
            return QModelIndex()
        serial = index.internalId()
        if serial not in self._serials:  # a stale index from before a reset
            return QModelIndex()
        return self.createIndex(self._serials.index(serial), 0, ROOT)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._hits) + (1 if self._weak else 0)
        if parent.internalId() != ROOT or parent.row() >= len(self._hits):
            return 0
        return len(self._hits[parent.row()].more)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 1

    def hasChildren(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        return self.rowCount(parent) > 0

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if index.internalId() == ROOT and index.row() == len(self._hits):
            return self._weaker_value(role)
        hit = self.hit_at(index)
        if hit is None:
            return None
        kind = "file" if index.internalId() == ROOT else "passage"
        return self._role_value(hit, kind, role)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def _weaker_value(self, role: int) -> Any:
        text = f"Show {len(self._weak)} weaker match{'es' if len(self._weak) > 1 else ''}"
        return {
            Qt.ItemDataRole.DisplayRole: text,
            KindRole: "weaker",
            Qt.ItemDataRole.ToolTipRole: "Files found by meaning alone, below this model's "
            "calibrated relevance floor",
        }.get(role)

    @staticmethod
    def _role_value(hit: ResultRow, kind: str, role: int) -> Any:
        values: dict[int, Any] = {
            Qt.ItemDataRole.DisplayRole: hit.name if kind == "file" else hit.snippet,
            Qt.ItemDataRole.ToolTipRole: tooltip(hit, kind),
            RowRole: hit,
            PathRole: hit.path,
            FolderRole: hit.folder,
            SnippetRole: hit.snippet,
            LocationRole: hit.location,
            ModifiedRole: format_modified(hit.modified),
            ScoreRole: hit.score,
            KindRole: kind,
            MoreRole: len(hit.more) if kind == "file" else 0,
            LevelRole: hit.level,
        }
        return values.get(role)

    # -- our API ------------------------------------------------------------------------
    def hits(self) -> list[ResultRow]:
        """The file rows in display order (a copy; weak files once shown)."""
        return list(self._hits)

    def hit(self, row: int) -> ResultRow | None:
        """The file at top-level ``row``, or None outside the files."""
        return self._hits[row] if 0 <= row < len(self._hits) else None

    def hit_at(self, index: AnyIndex) -> ResultRow | None:
        """The file or passage at ``index`` (None for the "weaker" row)."""
        if not index.isValid():
            return None
        if index.internalId() == ROOT:
            return self.hit(index.row())
        parent = self.parent(index)
        file_hit = self.hit(parent.row())
        if file_hit is None or not 0 <= index.row() < len(file_hit.more):
            return None
        return file_hit.more[index.row()]

    @property
    def weak_count(self) -> int:
        """Files held back behind "Show weaker matches"."""
        return len(self._weak)

    def is_weaker_row(self, index: AnyIndex) -> bool:
        """True for the "Show N weaker matches" row."""
        return index.isValid() and index.data(KindRole) == "weaker"

    def set_hits(self, hits: Sequence[ResultRow]) -> None:
        """Replace everything (a new query); weak files wait behind the last row."""
        self._stop_animation()
        self.beginResetModel()
        self._hits = [h for h in hits if not h.weak]
        self._weak = [h for h in hits if h.weak]
        self._serials = [self._serial() for _ in self._hits]
        self.endResetModel()

    def show_weaker(self) -> None:
        """Add the weak files after the others (the last row's action)."""
        if not self._weak:
            return
        self._stop_animation()
        first = len(self._hits)
        self.beginRemoveRows(QModelIndex(), first, first)
        weak, self._weak = self._weak, []
        self.endRemoveRows()
        self.beginInsertRows(QModelIndex(), first, first + len(weak) - 1)
        self._hits += weak
        self._serials += [self._serial() for _ in weak]
        self.endInsertRows()
        self.weaker_shown.emit()

    def clear(self) -> None:
        """Empty the list (Esc, or an empty query)."""
        self.set_hits([])

    def _serial(self) -> int:
        self._next += 1
        return self._next

    def reorder(self, hits: Sequence[ResultRow], animate: bool = True) -> None:
        """Show ``hits`` (the same files re-ranked) by moving rows, optionally step by step.

        Weak files are not reranked: they stay where they are. When the set of files
        differs, it falls back to a reset: nothing to animate.
        """
        self._stop_animation()
        strong = [h for h in hits if not h.weak]
        shown = [h for h in self._hits if not h.weak]
        current = [h.key for h in shown]
        target = [h.key for h in strong]
        if sorted(current) != sorted(target) or len(set(target)) != len(target):
            self.set_hits(hits)
            self.reorder_finished.emit()
            return
        self._target = list(strong)
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
        self._serials.insert(dst, self._serials.pop(src))
        self.endMoveRows()

    def _refresh_data(self) -> None:
        """Rerank changes scores and relevance too: take the new hit objects, same order."""
        if not self._target:
            return
        by_key = {h.key: h for h in self._target}
        self._hits = [by_key.get(h.key, h) for h in self._hits]
        self._target = []
        if self._hits:
            self.dataChanged.emit(self.index(0), self.index(len(self._hits) - 1))
