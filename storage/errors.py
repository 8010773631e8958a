"""Storage exceptions, split into the environment's fault and ours.

    StorageError                 base; the UI shows its message calmly
    ├── FingerprintMismatch      the query's model differs from the one the index was built with
    ├── DatabaseCorrupt          SQLite reports corruption or the file is not a database
    ├── DatabaseLocked           another writer held the database past the busy timeout
    ├── SchemaTooNew             the file was written by a newer Quarry (user_version too high)
    ├── RebuildError             a background index rebuild was driven out of order
    └── ExtensionUnavailable     no sqlite3 module here can load sqlite-vec

Anything else escaping ``storage`` is a bug and deserves a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
            f"The index was built with {indexed.describe()}, but the query uses "
            f"{requested.describe()}. Rebuild the index for the new model, or switch back."
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
