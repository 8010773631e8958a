"""SQLite errors are sorted by result code into the environment's faults, the rest are bugs.

Each fault is produced for real on a real database file where SQLite lets us (a full
database through ``max_page_count``, a lock held by a second connection, a file that is
not a database, a write on a read-only connection, a missing folder).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage.connection import connect, database_errors, driver, note_ctrl_c
from storage.errors import (
    CannotOpen,
    DatabaseCorrupt,
    DatabaseLocked,
    DatabaseReadOnly,
    DiskError,
    DiskFull,
    StorageError,
    known_error,
)
from storage.models import NewChunk
from storage.store import Store
from tests.fixtures.store import FP


def fill_up(store: Store) -> None:
    """Cap the database at its current size, as a full disk would."""
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")


def big_chunks(n: int = 50) -> list[NewChunk]:
    return [NewChunk(i, f"word{i} " * 400, 0, 10, f"h{i}") for i in range(n)]


def test_full_database_is_disk_full_and_keeps_the_old_state(store: Store) -> None:
    fill_up(store)
    with pytest.raises(DiskFull, match=r"^disk full") as caught:
        store.write_file("/a.txt", size=1, mtime=1.0, content_hash="x", chunks=big_chunks(),
                         fingerprint=FP)  # fmt: skip
    assert caught.value.__cause__ is not None  # the driver's error stays attached
    assert store.get_file("/a.txt") is None  # nothing half-written
    assert not store.conn.in_transaction


def test_lock_held_by_another_connection_is_database_locked(db: Path, store: Store) -> None:
    other = connect(db)
    other.execute("BEGIN IMMEDIATE")
    store.conn.execute("PRAGMA busy_timeout = 0")
    try:
        with pytest.raises(DatabaseLocked, match="busy"):
            store.add_folder("/docs")
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_file_that_is_not_a_database_is_corrupt(tmp_path: Path) -> None:
    bad = tmp_path / "index.sqlite3"
    bad.write_bytes(b"this is not sqlite at all " * 100)
    with pytest.raises(DatabaseCorrupt, match=r"damaged|not a usable"):
        Store.open(bad)


def test_write_on_read_only_connection_is_database_read_only(db: Path, store: Store) -> None:
    reader = Store.open(db, readonly=True)
    try:
        with pytest.raises(DatabaseReadOnly, match="cannot be written"):
            reader.add_folder("/docs")
    finally:
        reader.close()


def test_missing_folder_is_cannot_open(tmp_path: Path) -> None:
    with pytest.raises(CannotOpen, match="cannot open"):
        connect(tmp_path / "no" / "such" / "index.sqlite3", readonly=True)


def test_message_text_alone_never_makes_a_known_error(store: Store) -> None:
    """A table named 'locked_busy' makes SQLite say 'locked' in a plain SQL error: a bug."""
    store.conn.execute("CREATE TABLE locked_busy_corrupt(x)")
    with pytest.raises(driver().OperationalError) as caught, store.transaction() as conn:
        conn.execute("CREATE TABLE locked_busy_corrupt(x)")
    assert not isinstance(caught.value, StorageError)
    assert not store.conn.in_transaction


@pytest.mark.parametrize(
    ("code", "expected"),
    [(778, DiskError), (10, DiskError), (13, DiskFull), (261, DatabaseLocked), (1, None)],
)
def test_extended_codes_map_by_their_primary_code(code: int, expected: type | None) -> None:
    """SQLITE_IOERR_WRITE (778) and SQLITE_BUSY_RECOVERY (261) are IOERR and BUSY."""
    exc = sqlite3.OperationalError("whatever the text says")
    exc.sqlite_errorcode = code
    exc.sqlite_errorname = "SQLITE_TEST"
    known = known_error(exc)
    assert (type(known) if known is not None else None) is expected


def test_error_without_a_code_is_a_bug() -> None:
    assert known_error(sqlite3.ProgrammingError("Cannot operate on a closed database.")) is None


def test_a_mismatch_in_chunking_alone_says_so() -> None:
    """Same model and size, other chunking: the message must not read 'X, but the query uses X'."""
    from storage.errors import FingerprintMismatch
    from storage.models import Fingerprint

    indexed = Fingerprint("m/e5", "", 384, "mean", "", "chunker3-384-48-noprefix")
    wanted = Fingerprint("m/e5", "", 384, "mean", "", "chunker3-252-48-noprefix")
    message = str(FingerprintMismatch(indexed, wanted))
    assert "chunking chunker3-384-48-noprefix" in message
    assert "uses m/e5 (384-d, mean pooling), chunking chunker3-252-48-noprefix" in message
    other_model = str(FingerprintMismatch(indexed, Fingerprint("m/minilm", "", 384, "mean")))
    assert "chunking" not in other_model and "m/minilm (384-d, mean pooling)." in other_model


def test_ctrl_c_inside_the_keyword_analysis_stays_a_ctrl_c(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunk trigger's SQL functions run Python: a Ctrl-C landing there came out as
    OperationalError("user-defined function raised exception"), so `quarry index` ended
    with a traceback and exit 1 instead of 130. The CLI's SIGINT handler records the
    Ctrl-C first (``note_ctrl_c``), as this fake analysis does; nothing is half-written."""

    def interrupted(text: str) -> object:
        note_ctrl_c()
        raise KeyboardInterrupt

    monkeypatch.setattr("storage.lexical.analyze", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.write_file("/a.txt", size=1, mtime=1.0, content_hash="x", chunks=big_chunks(1),
                         fingerprint=FP)  # fmt: skip
    monkeypatch.undo()
    assert store.get_file("/a.txt") is None and not store.conn.in_transaction
    store.write_file("/b.txt", size=1, mtime=1.0, content_hash="y", chunks=big_chunks(1),
                     fingerprint=FP)  # fmt: skip
    assert store.get_file("/b.txt") is not None


def test_a_failing_sql_function_without_a_ctrl_c_is_the_bug_it_is(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str) -> object:
        raise ValueError("a bug in the analysis")

    monkeypatch.setattr("storage.lexical.analyze", broken)
    with pytest.raises(database_errors(), match="user-defined function raised exception"):
        store.write_file("/a.txt", size=1, mtime=1.0, content_hash="x", chunks=big_chunks(1),
                         fingerprint=FP)  # fmt: skip
