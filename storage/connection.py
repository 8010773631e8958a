"""Open SQLite connections with WAL on and sane timeouts.

``sqlean`` (sqlean-py: one current SQLite build, the same on Linux, macOS and Windows) is
used when installed, else stdlib ``sqlite3``; no extension is loaded (docs/DESIGN.md, "Why
no sqlite-vec"). Each connection gets the keyword-analysis SQL functions the chunk triggers
call. One writer connection; searches use read-only ones (``mode=ro``), which WAL lets run
during writes. Every connection binds and reads strings through ``storage.textcodec``, so a
file name that is not valid UTF-8 is stored and returned exactly instead of raising.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

from storage.errors import known_error
from storage.fts import register_functions
from storage.textcodec import decode_column, params_to_db, rows_to_db

BUSY_TIMEOUT_MS = 10_000
_DRIVER: ModuleType | None = None
_CONNECTION: type | None = None


def driver() -> ModuleType:
    """The sqlite3-compatible module to use, chosen once per process."""
    global _DRIVER
    if _DRIVER is None:
        try:
            import sqlean
        except ImportError:  # a stdlib SQLite is older on some platforms, but works
            _DRIVER = sqlite3
        else:
            _DRIVER = sqlean
    return _DRIVER


def _connection_class(mod: ModuleType) -> type:
    """The driver's Connection, with every bound string mapped by ``textcodec.to_db``."""
    global _CONNECTION
    if _CONNECTION is None or not issubclass(_CONNECTION, mod.Connection):
        errors = database_errors()

        class Connection(mod.Connection):  # type: ignore[name-defined,misc]
            def execute(self, sql: str, parameters: Any = (), /) -> Any:
                try:
                    return super().execute(sql, params_to_db(parameters))
                except errors as exc:
                    _raise_ctrl_c(exc)
                    raise

            def executemany(self, sql: str, rows: Any, /) -> Any:
                try:
                    return super().executemany(sql, rows_to_db(rows))
                except errors as exc:
                    _raise_ctrl_c(exc)
                    raise

        _CONNECTION = Connection
    return _CONNECTION


_CTRL_C = threading.Event()
_FUNCTION_FAILED = "user-defined function raised exception"


def note_ctrl_c() -> None:
    """Record a Ctrl-C; a SIGINT handler calls this before raising KeyboardInterrupt.

    Python raises KeyboardInterrupt wherever the main thread is. Inside an SQL function
    that SQLite calls (the chunk trigger's keyword analysis), SQLite turns it into
    OperationalError ("user-defined function raised exception"), so `quarry index` ended
    with a traceback and exit 1 instead of 130. With the Ctrl-C recorded, that error is
    raised as the KeyboardInterrupt it was.
    """
    _CTRL_C.set()


def _raise_ctrl_c(exc: BaseException) -> None:
    """``exc`` again as a KeyboardInterrupt when it is a Ctrl-C SQLite reported."""
    if _CTRL_C.is_set() and _FUNCTION_FAILED in str(exc):
        _CTRL_C.clear()
        raise KeyboardInterrupt from exc


def database_errors() -> tuple[type[BaseException], ...]:
    """Exception classes of the active driver (sqlean has its own hierarchy)."""
    mod = driver()
    return (mod.DatabaseError, sqlite3.DatabaseError)


def _is_file_path(target: Path) -> bool:
    return str(target) != ":memory:" and not str(target).startswith("file:")


def _create_private(target: Path) -> None:
    """Create the database file user-only before SQLite opens it: it holds the user's text.

    SQLite gives the -wal and -shm files the database file's mode, so they follow.
    """
    if not _is_file_path(target):
        return
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _make_private(target: Path) -> None:
    """chmod 0600 the database and its WAL files (also fixes files made by older versions)."""
    if not _is_file_path(target):
        return
    for name in (target.name, f"{target.name}-wal", f"{target.name}-shm"):
        with contextlib.suppress(OSError):  # missing, not ours, or no POSIX modes here
            (target.parent / name).chmod(0o600)


def connect(path: Path | str, *, readonly: bool = False) -> Any:
    """A configured connection in autocommit mode (the store opens transactions itself)."""
    mod = driver()
    target = Path(path)
    try:
        if readonly:
            conn = mod.connect(
                f"{target.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                factory=_connection_class(mod),
            )
        else:
            _create_private(target)
            conn = mod.connect(
                str(target),
                isolation_level=None,
                check_same_thread=False,
                factory=_connection_class(mod),
            )
        conn.text_factory = decode_column
    except mod.DatabaseError as exc:
        _raise_known(exc, target)
    try:
        register_functions(conn)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            _make_private(target)
    except mod.DatabaseError as exc:
        with contextlib.suppress(Exception):
            conn.close()
        _raise_known(exc, target)
    return conn


def _raise_known(exc: BaseException, target: Path) -> NoReturn:
    """Opening failed: the environment's fault (by SQLite's code) with the file named, else a
    bug that goes up unchanged."""
    known = known_error(exc, str(target))
    if known is None:
        raise exc
    raise known from exc
