"""StoreBase: the connection, transactions, meta keys and fingerprints every Store part uses.

``storage.store.Store`` is assembled from this base and focused mixins (``rebuild``,
``retrieval``, ``maintenance``); each mixin is a StoreBase so it can use these helpers.

Errors (see ``storage.errors``): driver exceptions are mapped at this boundary by
``raise_known`` into the environment's faults (``storage.errors.known_error``: locked,
disk full, I/O error, damaged, read-only, cannot open); any other driver error is a bug
and goes up unchanged.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from storage import lexical
from storage.connection import database_errors
from storage.errors import FingerprintMismatch, known_error
from storage.models import Chunk, FileRecord, Fingerprint
from storage.prefilter import BinaryIndex

FILE_COLS = (
    "id, path, size, mtime, content_hash, status, error, retries, indexed_at, folder_id, title,"
    " needs_ocr"
)
CHUNK_COLS = (
    'c.id, c.file_id, f.path, c.ordinal, c.text, c.start, c."end", c.content_hash,'
    " c.token_count, c.page, c.heading, f.mtime, f.size, c.ocr, c.doc_id"
)
#: Most characters of a chunk's text a search hit loads. An index built before chunks had
#: a length cap can hold one 95 MB chunk (a hostile one-line file): cut in SQL, so a search
#: that touches it never copies it into Python. Twice the window's 32k passage limit, so a
#: passage that starts after the previous one's overlap still gets its full 32k. ``start``
#: and ``end`` stay the file's offsets; the text is a prefix of ``[start, end)``.
HIT_TEXT_CHARS = 65_536
HIT_CHUNK_COLS = CHUNK_COLS.replace("c.text", f"substr(c.text, 1, {HIT_TEXT_CHARS})")
#: ``CHUNK_COLS`` for a window ``[:lo, :hi)`` of a file: a chunk longer than
#: ``HIT_TEXT_CHARS`` is cut to the window (text, start and end together); others whole.
_BIG = f'c."end" - c.start > {HIT_TEXT_CHARS}'
_LO, _HI = "max(c.start, :lo)", 'min(c."end", :hi)'
WINDOW_CHUNK_COLS = CHUNK_COLS.replace(
    'c.text, c.start, c."end"',
    f"CASE WHEN {_BIG} THEN substr(c.text, {_LO} - c.start + 1, {_HI} - {_LO}) ELSE c.text END,"
    f' CASE WHEN {_BIG} THEN {_LO} ELSE c.start END, CASE WHEN {_BIG} THEN {_HI} ELSE c."end" END',
)


def has_cjk(text: str) -> bool:
    """True when ``text`` holds Chinese, Japanese or Korean letters (for the LIKE fallback)."""
    return lexical.is_cjk(text)


def file_record(row: Sequence[Any]) -> FileRecord:
    """A ``FILE_COLS`` row as a FileRecord."""
    return FileRecord(
        id=row[0],
        path=row[1],
        size=row[2],
        mtime=row[3],
        content_hash=row[4],
        status=row[5],
        error=row[6],
        retries=row[7],
        indexed_at=row[8],
        folder_id=row[9],
        title=row[10],
        needs_ocr=row[11],
    )


def chunk_record(row: Sequence[Any]) -> Chunk:
    """A ``CHUNK_COLS`` row as a Chunk."""
    (cid, file_id, path, ordinal, text, start, end, content_hash, tokens, page, heading,
     mtime, size, ocr, doc_id) = row  # fmt: skip
    return Chunk(cid, file_id, path, ordinal, text, start, end, content_hash, tokens, page,
                 heading, mtime, size, bool(ocr), doc_id)  # fmt: skip


class StoreBase:
    """Owns a connection; all SQL of Quarry goes through the Store built on this."""

    def __init__(self, conn: Any, path: Path, readonly: bool) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self._bin: BinaryIndex | None = None

    @contextlib.contextmanager
    def transaction(self, mode: str = "IMMEDIATE") -> Iterator[Any]:
        """One all-or-nothing transaction; the environment's faults become StorageError
        subclasses, other driver errors (bugs) go up unchanged."""
        try:
            self.conn.execute(f"BEGIN {mode}")
        except database_errors() as exc:
            raise_known(exc)
        except BaseException:  # a Ctrl-C landing just after BEGIN took effect
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        try:
            yield self.conn
            self.conn.execute("COMMIT")  # a full disk may only show here, writing the WAL
        except BaseException as exc:
            if self.conn.in_transaction:  # SQLite already rolled back after FULL/IOERR/BUSY
                self.conn.execute("ROLLBACK")
            if isinstance(exc, database_errors()):
                raise_known(exc)
            raise

    # ---- meta and fingerprints ---------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self.conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def _index_id(self, key: str) -> int | None:
        value = self._meta(key)
        return None if value is None else int(value)

    def _index_fp(self, index_id: int | None) -> Fingerprint | None:
        if index_id is None:
            return None
        row = self.conn.execute(
            "SELECT fingerprint FROM vector_indexes WHERE id = ?", (index_id,)
        ).fetchone()
        return None if row is None else Fingerprint.from_json(row[0])

    def _create_index(self, fp: Fingerprint) -> int:
        cur = self.conn.execute(
            "INSERT INTO vector_indexes(fingerprint, fp_key, dim, created_at) VALUES (?, ?, ?, ?)",
            (fp.to_json(), fp.key, fp.dim, time.time()),
        )
        return int(cur.lastrowid)

    def _bump_epoch(self) -> None:
        """Tell in-memory bit matrices (any connection) that vector rows were deleted."""
        self._set_meta("emb_epoch", str(time.time_ns()))

    def fingerprint(self) -> Fingerprint | None:
        """The active index's fingerprint; None before the first vectors are written."""
        return self._index_fp(self._index_id("active_index"))

    def _ensure_active(self, fp: Fingerprint) -> int:
        """Active index id for writes under ``fp``: set on first use, else must match exactly."""
        active = self._index_id("active_index")
        if active is None:
            active = self._create_index(fp)
            self._set_meta("active_index", str(active))
            return active
        current = self._index_fp(active)
        if current is not None and current.key != fp.key:
            raise FingerprintMismatch(current, fp)
        return active

    def ensure_fingerprint(self, fp: Fingerprint) -> None:
        """Record ``fp`` on first use; raise FingerprintMismatch if the index has another."""
        with self.transaction():
            self._ensure_active(fp)

    def rebuilding(self) -> Fingerprint | None:
        """The fingerprint being built beside the active index, if any."""
        return self._index_fp(self._index_id("building_index"))


def raise_known(exc: BaseException) -> NoReturn:
    """Raise the environment's fault behind a driver error, or the error itself (a bug)."""
    known = known_error(exc)
    if known is None:
        raise exc
    raise known from exc
