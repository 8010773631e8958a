"""storage/ and the app's Qt-free services never import Qt, checked in a fresh process.

A check inside the test process proves nothing once any GUI test has imported PySide6, so
each package is walked in its own interpreter with PySide6 made unimportable.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import importlib, pkgutil, sys
sys.modules["PySide6"] = None  # any import of Qt now raises ImportError
package = importlib.import_module(sys.argv[1])
skip = set(sys.argv[2:])
names = [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
for name in [package.__name__, *names]:
    if not any(name == s or name.startswith(s + ".") for s in skip):
        importlib.import_module(name)
print(sorted(m for m, mod in sys.modules.items() if m.startswith("PySide6") and mod))
"""

# The window and the one command that starts it are the only places Qt belongs;
# ``app.__main__`` runs the CLI when imported.
QT_HOMES = ["app.ui", "app.commands.gui", "app.__main__"]


@pytest.mark.parametrize("package", ["storage", "app"])
def test_package_imports_without_qt(package: str) -> None:
    argv = [sys.executable, "-c", CODE, package, *QT_HOMES]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
