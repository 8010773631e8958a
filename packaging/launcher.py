"""Frozen-app entry point: PyInstaller needs a script, not a module path."""

from __future__ import annotations

import multiprocessing
import sys

from app.cli import main

if __name__ == "__main__":
    # The extractor sandbox uses "spawn" workers; in a frozen app each worker re-runs this
    # executable, and freeze_support() turns that run into the worker instead of the CLI.
    multiprocessing.freeze_support()
    sys.exit(main())
