"""The filter bar: folder, file type, modified date, mail sender and the instruction preset.

The folder, type and date dropdowns and the From field mirror the query's ``in:``,
``type:``, ``after:`` and ``from:`` operators (``reflect``): typing ``type:pdf`` shows PDF here, and a value the list lacks
(``in:Projects``, ``after:2024-05``) is added as its own entry while the query names it.
A user's choice here is announced with ``choice_made(kind)`` so the window can rewrite
the operator in the query text, keeping both in step. Dates are the query language's
(``app.dates``): "Past week" is ``after:last week``. The type list's "Image" and "Mail"
are the query's ``type:image`` (every image format) and ``type:mail`` (mail messages only).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from app.dates import parse_period
from app.query import type_words
from app.search import SearchOptions
from app.ui.combo import current_data, item_data
from storage.models import SearchFilters

#: An entry's tooltip: a subfolder's full path; a preset's task text (shown on hover and
#: searched with).
TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
ROWS = 50  # files asked for per search (the list scrolls; weak ones wait behind a toggle)
FILE_TYPES = ("pdf", "md", "txt", "docx", "pptx", "xlsx", "html", "py", "csv", "odt", "epub", "eml")
KINDS = {"image": "Image", "mail": "Mail"}  # the query's type: words that are no extension
SENDER_TIP = "Only mail whose sender (name or address) contains this (the query's from:)"
SENDER_WAIT_MS = 300  # typing in the From field searches once the user pauses
PRESET_TIP = "Instruction for this search (Qwen3 models use it; others ignore it)"
NO_INSTRUCTION_TIP = (
    "The current model takes no instruction, so presets would change nothing. "
    "Qwen3 embedding models use them (Settings > Model)."
)
SUBFOLDER_DEPTH = 2  # levels of subfolders offered under each watched folder
SUBFOLDER_LIMIT = 300
DATE_RANGES: dict[str, str | None] = {
    "Any time": None,
    "Today": "today",
    "Past week": "last week",
    "Past month": "last month",
    "Past year": "last year",
}
CUSTOM = 0x0100 + 50  # item data role marking an entry added for a query operator


def subfolders(root: str, depth: int = SUBFOLDER_DEPTH, limit: int = SUBFOLDER_LIMIT) -> list[str]:
    """Visible subfolders of ``root``, ``depth`` levels down, sorted, at most ``limit``.

    A cheap listing (no stat beyond ``scandir``) so the filter bar never walks a whole tree.
    """
    found: list[str] = []
    level = [root]
    for _ in range(depth):
        below: list[str] = []
        for folder in level:
            try:
                with os.scandir(folder) as entries:
                    below += sorted(
                        e.path
                        for e in entries
                        if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
                    )
            except OSError:
                continue
        found += below
        level = below
        if len(found) >= limit:
            break
    return sorted(found[:limit])


class FilterBar(QWidget):
    """Emits ``filters_changed`` whenever a choice changes; ``options()`` reads them all."""

    filters_changed = Signal()
    choice_made = Signal(str)  # "type" | "in" | "after" | "from": the user chose there

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = QComboBox()
        self.file_type = QComboBox()
        self.modified = QComboBox()
        self.preset = QComboBox()
        self.preset.setToolTip(PRESET_TIP)
        self.preset_note = QLabel()  # why the saved preset was replaced; hidden when none
        self.preset_note.setVisible(False)
        self._default_preset: str | None = None  # the Settings default last applied
        self.file_type.addItem("All types", None)
        for word, label in KINDS.items():
            self.file_type.addItem(label, word)
        for ext in FILE_TYPES:
            self.file_type.addItem(ext.upper(), ext)
        self.mail_from = self._sender_field()
        self._mirrored_sender: str | None = None  # the query's from: shown in the field
        self._mirrored: dict[str, str | None] = {}  # kind -> the query's operator shown
        for label, words in DATE_RANGES.items():
            self.modified.addItem(label, words)
        self.set_folders([])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.combos = {"in": self.folder, "type": self.file_type, "after": self.modified}
        for label, combo in (
            ("Folder", self.folder),
            ("Type", self.file_type),
            ("Modified", self.modified),
            ("Instruction", self.preset),
        ):
            layout.addWidget(QLabel(label))
            layout.addWidget(combo, 1 if combo is self.folder or combo is self.preset else 0)
            combo.currentIndexChanged.connect(self.filters_changed)
            if combo is self.modified:
                layout.addWidget(QLabel("From"))
                layout.addWidget(self.mail_from)
        layout.addWidget(self.preset_note)
        for kind, combo in self.combos.items():
            combo.activated.connect(lambda _i, k=kind: self.choice_made.emit(k))

    def _sender_field(self) -> QLineEdit:
        """The From field: a search once the user stops typing (or presses Enter)."""
        field = QLineEdit()
        field.setPlaceholderText("sender")
        field.setToolTip(SENDER_TIP)
        field.setClearButtonEnabled(True)
        self._sender_wait = QTimer(self)
        self._sender_wait.setSingleShot(True)
        self._sender_wait.setInterval(SENDER_WAIT_MS)
        self._sender_wait.timeout.connect(self._sender_chosen)
        field.textEdited.connect(lambda _t: self._sender_wait.start())
        field.returnPressed.connect(self._sender_chosen)
        return field

    def _sender_chosen(self) -> None:
        self._sender_wait.stop()
        self._mirrored_sender = None  # the user's own now, not the query's
        self.choice_made.emit("from")
        self.filters_changed.emit()

    def set_folders(self, folders: Sequence[str]) -> None:
        """Offer the watched folders and their subfolders (what people filter by); keeps
        the current choice when it still exists."""
        current = current_data(self.folder)
        self.folder.blockSignals(True)
        self.folder.clear()
        self.folder.addItem("All folders", None)
        for folder in folders:
            self.folder.addItem(folder, folder)
            for sub in subfolders(folder):
                self.folder.addItem(f"    {os.path.relpath(sub, folder)}", sub)
                self.folder.setItemData(self.folder.count() - 1, sub, TOOLTIP)
        index = self.folder.findData(current) if current else 0
        self.folder.setCurrentIndex(max(0, index))
        self.folder.blockSignals(False)

    def set_presets(self, presets: dict[str, str], selected: str, note: str | None = None) -> None:
        """Offer instruction presets; the choice made here survives a Save in Settings.

        The user's default query preset is pre-selected at start and whenever the default
        itself changes; otherwise the preset chosen for the current searches stays.
        ``note``: why Settings' preset was replaced by the default (shown beside the list,
        as the CLI prints it), None when it was not.
        """
        self.preset_note.setText(note or "")
        self.preset_note.setToolTip(note or "")
        self.preset_note.setVisible(bool(note))
        current = current_data(self.preset)
        keep = current in presets and selected == self._default_preset
        self._default_preset = selected
        if keep:
            selected = current
        self.preset.blockSignals(True)
        self.preset.clear()
        for name, task in presets.items():
            self.preset.addItem(name.replace("_", " "), name)
            self.preset.setItemData(self.preset.count() - 1, task, TOOLTIP)
        index = self.preset.findData(selected)
        self.preset.setCurrentIndex(max(0, index))
        self.preset.blockSignals(False)

    def set_instruction_support(self, uses: bool | None) -> None:
        """Grey the preset choice out when the model ignores instructions, and say so."""
        off = uses is False
        self.preset.setEnabled(not off)
        self.preset.setToolTip(NO_INSTRUCTION_TIP if off else PRESET_TIP)

    def choice(self, kind: str) -> str | None:
        """The operator value the dropdown of ``kind`` stands for (None: no restriction)."""
        if kind == "from":
            return self.mail_from.text().strip() or None
        data = current_data(self.combos[kind])
        return None if data is None else str(data)

    def reflect(self, kind: str, value: str | None) -> None:
        """Show the query's ``kind`` operator value without a signal; when the query drops
        the operator the dropdown mirrored, back to "all". A value picked in the dropdown
        while the query names none stays as the user left it, whatever is typed."""
        if kind == "from":
            self._reflect_sender(value)
            return
        if value is None and self._mirrored.get(kind) is None:
            return  # the query never named it: what the dropdown shows is the user's pick
        self._mirrored[kind] = value
        combo = self.combos[kind]
        combo.blockSignals(True)
        for i in reversed(range(combo.count())):  # entries added for an earlier query
            if item_data(combo, i, CUSTOM) and item_data(combo, i) != value:
                combo.removeItem(i)
        index = combo.findData(value) if value is not None else 0
        if index < 0:
            label = f"after {value}" if kind == "after" else f"{kind}: {value}"
            combo.addItem(label, value)
            index = combo.count() - 1
            combo.setItemData(index, True, CUSTOM)
        if combo.currentIndex() != index:  # setCurrentIndex leaks a None (see app.ui.combo)
            combo.setCurrentIndex(index)
        combo.blockSignals(False)

    def _reflect_sender(self, value: str | None) -> None:
        """Show the query's ``from:`` in the From field; when the query drops it, so does
        the field (a sender typed here stays, the query never named it)."""
        if value is None and self._mirrored_sender is None:
            return
        self._sender_wait.stop()
        self.mail_from.setText(value or "")
        self._mirrored_sender = value

    def _own(self, combo: QComboBox) -> str | None:
        """The dropdown's value, unless it only mirrors a query operator (the query's text
        carries that filter itself, e.g. a folder *name* that is no path)."""
        if current_data(combo, CUSTOM):
            return None
        data = current_data(combo)
        return None if data is None else str(data)

    def options(self, rerank: bool = True) -> SearchOptions:
        """The current filters and instruction as the search service's options (the
        preset's task text travels, so the service needs no preset table of its own)."""
        words = self._own(self.modified)
        period = parse_period(words) if words else None
        folder, file_type = self._own(self.folder), self._own(self.file_type)
        extensions, mail_only = type_words([file_type] if file_type else [])
        sender = None if self._mirrored_sender is not None else self.choice("from")
        filters = SearchFilters(
            folders=(folder,) if folder else (),
            extensions=extensions,
            modified_after=period.start if period else None,
            mail_only=mail_only,
            senders=(sender,) if sender else (),
        )
        task = current_data(self.preset, TOOLTIP)
        return SearchOptions(
            k=ROWS,
            filters=filters,
            instruction=None if task is None else str(task),
            rerank_depth=None if rerank else 0,
        )
