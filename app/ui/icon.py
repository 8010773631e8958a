"""The app icon, from ``assets/`` (SVG rendered by Qt, PNG sizes as a fallback)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

ASSETS = Path(__file__).resolve().parents[2] / "assets"
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
