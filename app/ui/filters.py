"""The filter bar: folder, file type, modified date and the per-search instruction preset."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from app.ui.backend import SearchOptions

FILE_TYPES = ("pdf", "md", "txt", "docx", "pptx", "xlsx", "html", "py", "csv", "odt", "epub", "eml")
PRESET_TIP = "Instruction for this search (Qwen3 models use it; others ignore it)"
NO_INSTRUCTION_TIP = (
    "The current model takes no instruction, so presets would change nothing. "
    "Qwen3 embedding models use them (Settings > Model)."
)
SUBFOLDER_DEPTH = 2  # levels of subfolders offered under each watched folder
SUBFOLDER_LIMIT = 300
DAY = 86400.0
DATE_RANGES: dict[str, float | None] = {
    "Any time": None,
    "Past day": DAY,
    "Past week": 7 * DAY,
    "Past month": 31 * DAY,
    "Past year": 366 * DAY,
}


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

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = QComboBox()
        self.file_type = QComboBox()
        self.modified = QComboBox()
        self.preset = QComboBox()
        self.preset.setToolTip(PRESET_TIP)
        self._default_preset: str | None = None  # the Settings default last applied
        self.file_type.addItem("All types", None)
        for ext in FILE_TYPES:
            self.file_type.addItem(ext.upper(), ext)
        for label, seconds in DATE_RANGES.items():
            self.modified.addItem(label, seconds)
        self.set_folders([])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for label, combo in (
            ("Folder", self.folder),
            ("Type", self.file_type),
            ("Modified", self.modified),
            ("Instruction", self.preset),
        ):
            layout.addWidget(QLabel(label))
            layout.addWidget(combo, 1 if combo is self.folder or combo is self.preset else 0)
            combo.currentIndexChanged.connect(self.filters_changed)

    def set_folders(self, folders: Sequence[str]) -> None:
        """Offer the watched folders and their subfolders (what people filter by); keeps
        the current choice when it still exists."""
        current = self.folder.currentData()
        self.folder.blockSignals(True)
        self.folder.clear()
        self.folder.addItem("All folders", None)
        for folder in folders:
            self.folder.addItem(folder, folder)
            for sub in subfolders(folder):
                self.folder.addItem(f"    {os.path.relpath(sub, folder)}", sub)
                self.folder.setItemData(self.folder.count() - 1, sub, 3)  # Qt.ToolTipRole
        index = self.folder.findData(current) if current else 0
        self.folder.setCurrentIndex(max(0, index))
        self.folder.blockSignals(False)

    def set_presets(self, presets: dict[str, str], selected: str) -> None:
        """Offer instruction presets; the choice made here survives a Save in Settings.

        The user's default query preset is pre-selected at start and whenever the default
        itself changes; otherwise the preset chosen for the current searches stays.
        """
        current = self.preset.currentData()
        keep = current in presets and selected == self._default_preset
        self._default_preset = selected
        if keep:
            selected = current
        self.preset.blockSignals(True)
        self.preset.clear()
        for name, task in presets.items():
            self.preset.addItem(name.replace("_", " "), name)
            self.preset.setItemData(self.preset.count() - 1, task, 3)  # Qt.ToolTipRole
        index = self.preset.findData(selected)
        self.preset.setCurrentIndex(max(0, index))
        self.preset.blockSignals(False)

    def set_instruction_support(self, uses: bool | None) -> None:
        """Grey the preset choice out when the model ignores instructions, and say so."""
        off = uses is False
        self.preset.setEnabled(not off)
        self.preset.setToolTip(NO_INSTRUCTION_TIP if off else PRESET_TIP)

    def options(self, rerank: bool = True, now: float | None = None) -> SearchOptions:
        """The current filters as search options."""
        window = self.modified.currentData()
        after = (now or time.time()) - window if window else None
        return SearchOptions(
            folder=self.folder.currentData(),
            file_type=self.file_type.currentData(),
            modified_after=after,
            preset=self.preset.currentData(),
            rerank=rerank,
        )
