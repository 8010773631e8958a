"""Packaging invariants that need no build: icons ship as package data, in sync with assets/."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ASSETS = ROOT / "app" / "ui" / "assets"


@pytest.mark.parametrize(
    "name", [*(f"quarry-{size}.png" for size in (16, 32, 48, 64, 128, 256)), "quarry.svg"]
)
def test_package_icons_are_copies_of_the_source_assets(name: str) -> None:
    """assets/ is the source; app/ui/assets/ is what wheels and the bundle carry."""
    assert (PACKAGE_ASSETS / name).read_bytes() == (ROOT / "assets" / name).read_bytes()


def test_icon_module_loads_from_package_data(qapp: object) -> None:
    """``qapp`` (pytest-qt): QIcon needs a QGuiApplication."""
    from app.ui import icon

    assert icon.ASSETS == PACKAGE_ASSETS
    assert not icon.app_icon().isNull()


def test_spec_keeps_heavy_backends_out_by_default() -> None:
    spec = (ROOT / "packaging" / "quarry.spec").read_text(encoding="utf-8")
    for name in ("torch", "transformers", "llama_cpp", "sentence_transformers", "scipy"):
        assert f'"{name}"' in spec
