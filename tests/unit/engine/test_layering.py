"""engine/ never imports Qt (Anki's pylib/aqt rule)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import importlib, pkgutil, sys
sys.modules["PySide6"] = None
import engine, engine.backends
for mod in pkgutil.walk_packages(engine.__path__, "engine."):
    importlib.import_module(mod.name)
print("ok", "torch" in sys.modules)
"""


def test_engine_imports_without_qt_or_torch() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    # backends import torch lazily: merely importing the engine must not load it
    assert out.stdout.split() == ["ok", "False"]
