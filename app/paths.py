"""Where Quarry keeps its data, settings and caches (platformdirs), in one place.

Tests and portable installs redirect everything with the ``QUARRY_HOME`` environment variable.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import platformdirs

APP_NAME = "Quarry"


def _home_override() -> Path | None:
    """``QUARRY_HOME``, created user-only (with any missing parents) when it is new.

    An existing folder keeps its mode: the user chose it, and it may hold other things.
    """
    value = os.environ.get("QUARRY_HOME")
    if not value:
        return None
    home = Path(value)
    missing = [p for p in (home, *home.parents) if not p.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            _private_dir(folder)
    return home


def _private_dir(path: Path) -> Path:
    """Create ``path`` readable by the user only: the index holds the user's documents."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # a filesystem without POSIX modes is still usable
        path.chmod(0o700)
    return path


def data_dir() -> Path:
    """Directory holding the index database."""
    home = _home_override()
    return _private_dir(home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME)))


def config_dir() -> Path:
    """Directory holding settings.json."""
    home = _home_override()
    return _private_dir(home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME)))


def cache_dir() -> Path:
    """Directory for disposable files (converted models, logs)."""
    home = _home_override()
    return _private_dir(home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME)))


def database_path() -> Path:
    """The one SQLite file that holds the whole index."""
    return data_dir() / "index.sqlite3"


def settings_path() -> Path:
    """The JSON settings file."""
    return config_dir() / "settings.json"
