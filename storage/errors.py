"""Storage exceptions, split into the environment's fault and ours.

    StorageError                 base; the UI shows its message calmly
    ├── FingerprintMismatch      the query's model differs from the one the index was built with
    ├── DatabaseCorrupt          SQLite reports corruption or the file is not a database
    ├── DatabaseLocked           another writer held the database past the busy timeout
    ├── DiskFull                 the disk (or the database's size limit) is full: writes pause
    ├── DiskError                the operating system reported an I/O error
    ├── DatabaseReadOnly         the file or its folder cannot be written
    ├── CannotOpen               the file cannot be opened (missing folder, no permission)
    ├── SchemaTooNew             the file was written by a newer Quarry (user_version too high)
    ├── RebuildError             a background index rebuild was driven out of order
    └── ExtensionUnavailable     no sqlite3 module here can load sqlite-vec

Anything else escaping ``storage`` is a bug and deserves a traceback.

``known_error`` is the one place that sorts driver errors: by SQLite's result code
(``sqlite_errorcode``, primary code = low 8 bits), never by the message text, which
differs between SQLite versions and languages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from storage.models import Fingerprint


class StorageError(Exception):
    """Base for failures caused by the environment (disk, locks, mismatched models)."""


class FingerprintMismatch(StorageError):
    """The index holds vectors of another model; searching it would be silently wrong."""

    def __init__(self, indexed: Fingerprint, requested: Fingerprint) -> None:
        self.indexed = indexed
        self.requested = requested
        super().__init__(
            f"The index was built with {indexed.describe_against(requested)}, but the query "
            f"uses {requested.describe_against(indexed)}. Rebuild the index for the new "
            "model, or switch back."
        )


class DatabaseCorrupt(StorageError):
    """SQLite says the file is damaged; the message suggests deleting and re-indexing."""


class DatabaseLocked(StorageError):
    """Another process kept the write lock longer than the busy timeout."""


class SchemaTooNew(StorageError):
    """The database was written by a newer version; refusing to touch it protects it."""


class RebuildError(StorageError):
    """A rebuild step was called without a rebuild in progress, or before it was complete."""


class ExtensionUnavailable(StorageError):
    """Neither stdlib sqlite3 nor sqlean can load sqlite-vec in this Python."""


class DiskFull(StorageError):
    """No room left to write (SQLITE_FULL): indexing pauses; nothing is marked failed."""


class DiskError(StorageError):
    """The operating system failed a read or write (SQLITE_IOERR)."""


class DatabaseReadOnly(StorageError):
    """The index file or its folder is read-only (SQLITE_READONLY)."""


class CannotOpen(StorageError):
    """SQLite could not open the file at all (SQLITE_CANTOPEN)."""


# SQLite primary result codes (https://sqlite.org/rescode.html); extended codes add high bits.
SQLITE_BUSY: Final = 5
SQLITE_LOCKED: Final = 6
SQLITE_READONLY: Final = 8
SQLITE_IOERR: Final = 10
SQLITE_CORRUPT: Final = 11
SQLITE_FULL: Final = 13
SQLITE_CANTOPEN: Final = 14
SQLITE_NOTADB: Final = 26

_KNOWN: Final[dict[int, tuple[type[StorageError], str]]] = {
    SQLITE_BUSY: (DatabaseLocked, "the index is busy (another Quarry is writing)"),
    SQLITE_LOCKED: (DatabaseLocked, "the index is busy (another Quarry is writing)"),
    SQLITE_FULL: (DiskFull, "disk full: no room left to write the index; free some space"),
    SQLITE_IOERR: (DiskError, "disk error while reading or writing the index"),
    SQLITE_CORRUPT: (DatabaseCorrupt, "the index file is damaged; delete it and re-index"),
    SQLITE_NOTADB: (DatabaseCorrupt, "the index file is damaged; delete it and re-index"),
    SQLITE_READONLY: (DatabaseReadOnly, "the index cannot be written (read-only file or disk)"),
    SQLITE_CANTOPEN: (CannotOpen, "cannot open the index (missing folder or no permission)"),
}


def error_code(exc: BaseException) -> int | None:
    """SQLite's primary result code of a driver exception; None when it carries none."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def known_error(exc: BaseException, where: str = "") -> StorageError | None:
    """The environment's fault behind a driver error, with a message for the user; None for
    anything else (a bug: the caller re-raises the original so it keeps its traceback)."""
    code = error_code(exc)
    if code not in _KNOWN:
        return None
    cls, message = _KNOWN[code]
    name = getattr(exc, "sqlite_errorname", "")
    place = f" ({where})" if where else ""
    return cls(f"{message}{place}: {exc} [{name}]")
