"""Packaging invariants that need no build: icons ship as package data, in sync with assets/,
and what the PyInstaller spec puts in (or keeps out of) each bundle variant.

The spec is run for real with PyInstaller's build steps (``Analysis``, ``PYZ``, ``EXE``,
``COLLECT``) replaced by recorders and its package walks (``collect_*``) answering markers, so
the test reads the lists the build would get without the minutes a build takes. The build
itself is checked by packaging/smoke.sh.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ASSETS = ROOT / "app" / "ui" / "assets"
SPEC = ROOT / "packaging" / "quarry.spec"
#: What `quarry mcp`, `quarry serve` and the window's API setting import (the `serve` extra).
SERVE_MODULES = ("mcp", "mcp_types", "starlette", "uvicorn", "sse_starlette", "pydantic", "anyio")
HEAVY = ("torch", "transformers", "llama_cpp", "sentence_transformers", "scipy")
OCR_MODULES = ("rapidocr_onnxruntime", "onnxruntime", "cv2")


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


def _submodules(name: str, filter: Any = None) -> list[str]:
    """Stands in for ``collect_submodules``: a package, one submodule and its ``cli``."""
    found = [name, f"{name}.server", f"{name}.cli"]
    return [module for module in found if filter is None or filter(module)]


def _analysis(monkeypatch: pytest.MonkeyPatch, backends: str) -> dict[str, Any]:
    """The keyword arguments the spec gives ``Analysis`` with QUARRY_BUNDLE_BACKENDS=backends."""
    hooks = pytest.importorskip("PyInstaller.utils.hooks")
    monkeypatch.setenv("QUARRY_BUNDLE_BACKENDS", backends)
    monkeypatch.setattr(hooks, "collect_submodules", _submodules)
    monkeypatch.setattr(hooks, "collect_data_files", lambda name, **_: [(f"<{name} data>", name)])
    monkeypatch.setattr(hooks, "collect_dynamic_libs", lambda name, **_: [])
    recorded: dict[str, Any] = {}

    def analysis(scripts: list[str], **kwargs: Any) -> SimpleNamespace:
        recorded.update(kwargs, scripts=scripts)
        return SimpleNamespace(pure=[], scripts=[], binaries=[], datas=[])

    def step(*_: object, **__: object) -> None:
        return None

    spec = {"SPECPATH": str(SPEC.parent), "Analysis": analysis, "PYZ": step, "EXE": step}
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), {**spec, "COLLECT": step})
    return recorded


def test_spec_keeps_heavy_backends_out_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    excludes = _analysis(monkeypatch, "")["excludes"]
    assert set(HEAVY + OCR_MODULES) <= set(excludes)


@pytest.mark.parametrize("backends", ["", "ocr", "gguf", "torch,gguf,ocr"])
def test_spec_ships_the_mcp_and_http_servers(
    monkeypatch: pytest.MonkeyPatch, backends: str
) -> None:
    """The servers ship in every variant; llama-cpp's own server and the SDK's CLI stay out."""
    analysis = _analysis(monkeypatch, backends)
    assert not set(SERVE_MODULES) & set(analysis["excludes"])
    assert {"llama_cpp.server", "fastapi", "mcp.cli"} <= set(analysis["excludes"])
    # uvicorn imports its protocols by name, and the SDK its transports on demand.
    assert {"uvicorn.server", "mcp.server", "mcp_types", "sse_starlette"} <= set(
        analysis["hiddenimports"]
    )
    assert "mcp.cli" not in analysis["hiddenimports"]


def test_spec_ocr_variant_collects_rapidocr_and_its_models(monkeypatch: pytest.MonkeyPatch) -> None:
    analysis = _analysis(monkeypatch, "ocr")
    assert not set(OCR_MODULES) & set(analysis["excludes"])
    assert "rapidocr_onnxruntime" in analysis["hiddenimports"]
    assert ("<rapidocr_onnxruntime data>", "rapidocr_onnxruntime") in analysis["datas"]
    assert set(HEAVY) <= set(analysis["excludes"])  # ocr alone brings no other backend
