"""``quarry status``: what the index holds, problem files, and maintenance (check, vacuum)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

HELP = "Show index statistics and problem files; --check verifies, --vacuum compacts."


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register the status options."""
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--check", action="store_true", help="run an integrity check")
    p.add_argument("--vacuum", action="store_true", help="prune orphan vectors and compact")
    p.add_argument("--db", type=Path, help="index database (default: the app's)")


def run(args: argparse.Namespace) -> int:
    """Print stats (and run maintenance when asked)."""
    from app import paths
    from storage.errors import StorageError
    from storage.store import Store

    path = args.db or paths.database_path()
    if not path.exists():
        print(json.dumps({"files": {}, "chunks": 0}) if args.json else "No index yet.")
        return 0
    try:
        with Store.open(path, readonly=not (args.check or args.vacuum)) as store:
            saved = store.vacuum() if args.vacuum else None
            problems = store.integrity_check() if args.check else None
            stats = store.stats()
    except StorageError as exc:
        print(f"quarry status: {exc}", file=sys.stderr)
        return 1
    report = asdict(stats)
    report.update(integrity=problems, vacuum_saved_bytes=saved, path=str(path))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        fp = stats.fingerprint.describe() if stats.fingerprint else "none yet"
        print(
            f"{path}\nfiles: {stats.files}\nchunks: {stats.chunks}  size: {stats.db_bytes / 1e6:.1f} MB\nmodel: {fp}"
        )
        for prob in stats.problems:
            print(f"  {prob.status}: {prob.path} ({prob.error})")
        if problems is not None:
            print("integrity: ok" if not problems else "integrity: " + "; ".join(problems))
    return 1 if problems else 0
