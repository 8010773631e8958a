"""The OCR choices in Settings: on/off, engine and languages, with what it costs here.

OCR is off by default because it is slow (seconds a page) and needs an engine that may not
be installed; the note under the box says both, so the choice is an informed one.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QWidget

from app.extract.ocr.engines import ENGINES, INSTALL_HINT, available
from app.settings import Settings

#: Measured in benchmarks/ocr.py (README): one A4 page on one core of a 2-core AMD EPYC.
COST = "about 1-3 s a page on one core, scanned pages and images only"
NO_ENGINE = (f"No OCR engine is installed: {INSTALL_HINT}, or the system's Tesseract"
             " (apt-get install tesseract-ocr).")  # fmt: skip


def ocr_note(engines: list[str]) -> str:
    """What switching OCR on costs here, and which engines can run."""
    if not engines:
        return NO_ENGINE
    return (
        f"Reads scanned PDF pages and photos of documents: {COST}. Installed: {', '.join(engines)}."
    )


class OcrSettings(QWidget):
    """The OCR part of the Settings dialog."""

    def __init__(self, s: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.enabled = QCheckBox("Read scanned pages and images with OCR")
        self.enabled.setChecked(s.ocr_enabled)
        self.engine = QComboBox()
        self.engine.addItems(["auto", *ENGINES])
        self.engine.setCurrentText(s.ocr_engine if s.ocr_engine in ENGINES else "auto")
        self.languages = QLineEdit(s.ocr_languages)
        self.languages.setPlaceholderText("every installed language (e.g. eng+deu)")
        self.note = QLabel(ocr_note(available(s.ocr_languages)))
        self.note.setWordWrap(True)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.enabled)
        form.addRow(self.note)
        form.addRow("OCR engine", self.engine)
        form.addRow("Tesseract languages", self.languages)

    def apply(self, s: Settings) -> Settings:
        """``s`` with the choices made here."""
        from dataclasses import replace

        return replace(s, ocr_enabled=self.enabled.isChecked(),
                       ocr_engine=self.engine.currentText(),
                       ocr_languages=self.languages.text().strip())  # fmt: skip
