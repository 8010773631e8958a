"""One indexing process per index: an advisory lock file beside the database.

Two ``quarry index`` runs on one index used to both reconcile the same folders and repeat
about half of each other's work (no corruption: SQLite serialises the writes). The lock
makes the second one wait for the first and say so; once it gets the lock, its reconcile
finds the work done. The window's indexing run (``app.ui.adapters.RealIndexing``) takes
the same lock, so a ``quarry index`` beside the open window waits for it and names it, and
the window waits (and says so in its status bar) while a CLI run holds it. The lock is
advisory (``flock`` on POSIX, ``msvcrt.locking`` on Windows) and held by an open file, so a
crashed or killed holder releases it at once.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

POLL_S = 0.2


def _try_lock(fh: IO[bytes]) -> bool:
    """Take the lock without waiting; False when another process holds it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(fh: IO[bytes]) -> None:
    """Windows wants a locked region unlocked before the file closes; POSIX closes it."""
    if sys.platform == "win32":
        import msvcrt

        fh.seek(0)
        with contextlib.suppress(OSError):
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)


def lock_path(db: Path) -> Path:
    """The lock file of the index at ``db``."""
    return db.with_name(db.name + ".lock")


def holder(db: Path) -> str:
    """Who holds the lock, as its holder wrote it ("pid 123: quarry index"), or ""."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return lock_path(db).read_bytes()[1:].decode("utf-8").strip()
    return ""


@contextlib.contextmanager
def index_lock(
    db: Path,
    what: str,
    on_wait: Callable[[str], None],
    cancelled: Callable[[], bool] = lambda: False,
) -> Iterator[bool]:
    """Hold the index lock for the block; yields False when ``cancelled`` while waiting.

    ``on_wait(holder)`` is called once if another process holds it; ``what`` describes
    this process for the next one that has to wait ("quarry index").
    """
    path = lock_path(db)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(fd, "r+b", buffering=0) as fh:
        got = _try_lock(fh)
        if not got:
            on_wait(holder(db))
        while not got and not cancelled():
            time.sleep(POLL_S)
            got = _try_lock(fh)
        if got:
            # Byte 0 is the one Windows locks; the description follows it.
            fh.truncate(1)
            fh.seek(1)
            fh.write(f"pid {os.getpid()}: {what}\n".encode())
        try:
            yield got
        finally:
            if got:
                _unlock(fh)
