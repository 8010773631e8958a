"""``quarry similar PATH``: files like this one, from the vectors already in the index.

No model is loaded: the file's stored chunk vectors (or one chunk's, ``--passage N``, the
``chunk`` number that ``quarry search --json`` gives each passage) are averaged and searched
with, so it answers at once, offline, whatever backend built the index. The file itself
is never listed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.commands.search import print_results

HELP = "Find files similar to an indexed file (uses stored vectors; no model needed)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register the options."""
    p.add_argument("path", help="an indexed file")
    p.add_argument("--passage", type=int, help="only this chunk of it (a passage's 'chunk')")
    p.add_argument("--k", type=int, default=10, help="number of files")
    p.add_argument("--folder", action="append", default=[], help="only under this folder")
    p.add_argument("--type", action="append", default=[], help="only this extension (pdf, md)")
    p.add_argument("--db", type=Path, help="index database (default: the app's)")
    p.add_argument("--json", action="store_true", help="print a JSON list")


def indexed_path(text: str) -> str:
    """The path as the index stores it (absolute, links resolved)."""
    path = Path(os.path.expanduser(text))
    try:
        return str(path.resolve())
    except OSError:  # a path that no longer exists may still be in the index
        return os.path.abspath(path)


def run(args: argparse.Namespace) -> int:
    """Print the files most like ``args.path``."""
    from app import paths
    from app.search import SearchError, SearchOptions, SearchService
    from storage.errors import StorageError
    from storage.models import SearchFilters

    filters = SearchFilters(
        folders=tuple(str(Path(f).expanduser().resolve()) for f in args.folder),
        extensions=tuple(t.lower().lstrip(".") for t in args.type),
    )
    try:
        service = SearchService(args.db or paths.database_path(), None)
        opts = SearchOptions(k=args.k, filters=filters)
        results = service.similar(indexed_path(args.path), args.passage, opts)
        service.close()
    except (StorageError, SearchError) as exc:
        print(f"quarry similar: {exc}", file=sys.stderr)
        return 1
    return print_results(results, args.json, show_weak=True, command="similar")
