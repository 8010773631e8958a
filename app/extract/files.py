"""Open files for reading without ever blocking on something that is not a regular file.

``open()`` on a FIFO waits for a writer forever, and reading ``/dev/zero`` never ends; both
can hide behind an innocent name (``notes.txt``) or a symlink. So the type is checked with
``stat`` before any open, the open itself is non-blocking, and ``fstat`` on the opened
descriptor checks again (the path may have been swapped in between).
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_FLAGS |= getattr(os, "O_BINARY", 0)


class NotRegularFile(OSError):
    """A path that names a FIFO, device, socket or folder: never read as a document.

    An ``OSError`` so callers that already treat unreadable files calmly (hashing in the
    indexer) need no new case.
    """


def special_kind(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)", ...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def _refuse(path: str | os.PathLike[str], mode: int) -> None:
    kind = special_kind(mode)
    if kind is not None:
        raise NotRegularFile(errno.EINVAL, f"not a regular file: {kind}", os.fspath(path))


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a regular file for binary reading; raise ``NotRegularFile`` for anything else."""
    _refuse(path, os.stat(path).st_mode)
    fd = os.open(path, _FLAGS)
    try:
        _refuse(path, os.fstat(fd).st_mode)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
