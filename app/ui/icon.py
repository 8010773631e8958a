"""The app icon, from the package's ``assets/`` (PNG sizes first, the SVG as a fallback).

``app/ui/assets/`` ships inside the wheel and the frozen bundle; its files are copies of the
repository's top-level ``assets/`` (the source, also used for the desktop entry), and a test
keeps the two identical.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

ASSETS = Path(__file__).resolve().parent / "assets"
PNG_SIZES = (16, 32, 48, 64, 128, 256)


def app_icon() -> QIcon:
    """The Quarry icon; an empty icon when the assets are missing (never an error)."""
    icon = QIcon()
    for size in PNG_SIZES:
        png = ASSETS / f"quarry-{size}.png"
        if png.exists():
            icon.addFile(str(png))
    svg = ASSETS / "quarry.svg"
    if icon.isNull() and svg.exists():
        icon.addFile(str(svg))
    return icon
