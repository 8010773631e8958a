"""Frozen-app entry point: PyInstaller needs a script, not a module path."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
