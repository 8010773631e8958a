"""``quarry status``: both indexing phases, problem files, and maintenance (check, vacuum).

    48,210 files searchable by keyword · 9,400 by meaning · about 3 h left at 1,900 tokens/s

Plain ``status`` opens the index read-only, so it is safe while Quarry indexes; every count
it prints is an index lookup or a trigger-kept total, never a scan of the chunks.
``--check`` and ``--vacuum`` need the writer connection (FTS checks and VACUUM write).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.models import Stats
    from storage.store import Store

HELP = "Show index statistics and problem files; --check verifies, --vacuum compacts."


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register the status options."""
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--check", action="store_true", help="run an integrity check")
    p.add_argument("--vacuum", action="store_true", help="prune orphan vectors and compact")
    p.add_argument("--db", type=Path, help="index database (default: the app's)")


def _open(path: Path, args: argparse.Namespace) -> tuple[Store, str | None]:
    """Read-only unless maintenance was asked for; a busy writer downgrades ``--check``."""
    from storage.errors import DatabaseLocked
    from storage.store import Store

    if not (args.check or args.vacuum):
        return Store.open(path, readonly=True), None
    try:
        return Store.open(path), None
    except DatabaseLocked:
        if args.vacuum:
            raise
        note = "another Quarry is writing: checked SQLite pages only, not the keyword index"
        return Store.open(path, readonly=True), note


def run(args: argparse.Namespace) -> int:
    """Print stats (and run maintenance when asked); 1 when the check finds problems."""
    from app import paths
    from storage.errors import StorageError

    path = args.db or paths.database_path()
    if not path.exists():
        print(json.dumps({"files": {}, "chunks": 0}) if args.json else "No index yet.")
        return 0
    try:
        store, note = _open(path, args)
        with store:
            saved = store.vacuum() if args.vacuum else None
            problems = store.integrity_check() if args.check else None
            stats = store.stats()
    except StorageError as exc:
        print(f"quarry status: {exc}", file=sys.stderr)
        return 1
    report = asdict(stats)
    report.update(integrity=problems, vacuum_saved_bytes=saved, path=str(path), note=note)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_text(path, stats, problems, saved, note)
    return 1 if problems else 0


def _phase_line(stats: Stats) -> str:
    """The shared two-phase summary (the window's status bar says the same)."""
    from app.phases import PhaseStatus, describe

    status = PhaseStatus(
        stats.keyword_files,
        stats.meaning_files,
        stats.backlog.tokens,
        stats.embed_tokens_per_s,
        embedding="idle",
    )
    return describe(status)


def _print_text(
    path: Path, stats: Stats, problems: list[str] | None, saved: int | None, note: str | None
) -> None:
    fp = stats.fingerprint.describe() if stats.fingerprint else "none yet"
    print(f"{path}\n{_phase_line(stats)}\nfiles: {stats.files}")
    per_chunk = f" ({stats.db_bytes / stats.chunks:,.0f} bytes per chunk)" if stats.chunks else ""
    print(f"chunks: {stats.chunks}  size: {stats.db_bytes / 1e6:.1f} MB{per_chunk}")
    if stats.backlog.files:
        print(
            f"waiting for vectors: {stats.backlog.files:,} files, {stats.backlog.chunks:,}"
            f" chunks, {stats.backlog.tokens:,} tokens"
        )
    print(f"model: {fp}")
    if stats.rebuilding is not None and stats.rebuild_backlog is not None:
        left = stats.rebuild_backlog
        print(f"rebuilding for {stats.rebuilding.describe()}: {left.files:,} files left")
    for prob in stats.problems:
        print(f"  {prob.status}: {prob.path} ({prob.error})")
    if saved is not None:
        print(f"vacuum: {saved / 1e6:.1f} MB freed")
    if problems is not None:
        print("integrity: ok" if not problems else "integrity: " + "; ".join(problems))
    if note:
        print(f"note: {note}")
