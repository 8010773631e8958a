"""``quarry watch PATH...``: index, then keep the index in sync until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from app.commands import index as index_command
from app.indexlock import index_lock
from engine.errors import EngineError
from storage.errors import StorageError

HELP = "Index folders and keep watching them until Ctrl-C."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Same options as ``quarry index``."""
    index_command.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Watch until SIGINT/SIGTERM; stops cleanly (in-flight files finish or requeue).

    Settings, ``--model`` and ``--db`` are read as ``quarry index`` reads them (through
    ``app.loaders``); failures that may pass are retried with backoff while watching, and
    a full disk pauses indexing until there is room. An error that ends the indexer (the
    index belongs to another model, a damaged file) exits 2 with its message; a bug
    exits with its traceback.
    """
    folders, files = index_command.split_targets(args.paths)
    if files:
        print("quarry watch: only folders can be watched; ignoring files", file=sys.stderr)
    if not folders:
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    db = index_command.database(args)
    try:
        with index_lock(db, "quarry watch", index_command.waiting_notice(db), stop.is_set) as got:
            return _watch(args, folders, stop) if got else 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch(args: argparse.Namespace, folders: list[str], stop: threading.Event) -> int:
    """Index, then keep watching until ``stop`` is set (by SIGINT or SIGTERM)."""
    try:
        pipeline = index_command.build_pipeline(args, folders)
    except (EngineError, StorageError) as exc:
        print(f"quarry: {exc}", file=sys.stderr)
        return 2
    try:
        pipeline.start(watch=True)
        print(f"watching {len(folders)} folder(s); Ctrl-C stops", file=sys.stderr)
        while not stop.wait(0.5) and not pipeline.wait(0):  # wait raises what ended the run
            pass
    except (EngineError, StorageError) as exc:
        print(f"\nquarry: indexing stopped: {exc}", file=sys.stderr)
        return 2
    finally:
        print("\nstopping...", file=sys.stderr)
        pipeline.stop()
    if pipeline.summary is not None:
        index_command.print_summary(pipeline.summary, args.json)
    return 0
