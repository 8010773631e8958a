"""What a caller may ask of the servers: argument types, ranges and size limits, checked once.

Errors, all the caller's fault and answered as JSON (``Refusal.to_json``)::

    Refusal                      code, message, HTTP status (4xx; 503 when the index or
                                 model is not usable yet, which the caller cannot fix)

The MCP tools and the HTTP routes share these checks, so both refuse the same things in
the same words. Paths are checked for shape here and for membership in the index by
``app.serve.api``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args

from app.dates import DATE_FORMS, parse_date
from storage.models import SearchFilters

Mode = Literal["hybrid", "vector", "keyword"]

MAX_K = 50
MAX_QUERY_CHARS = 2_000
MAX_PATH_CHARS = 4_096
MAX_FILTERS = 32
MAX_NEIGHBOURS = 5
MAX_PASSAGE = 10_000_000  # a chunk number; only a sanity bound, the file says how many it has
MAX_CHARS = 100_000
DEFAULT_CHARS = 20_000
MAX_BODY_BYTES = 64 * 1024


class Refusal(Exception):
    """A request Quarry will not answer; the message says what to change."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def to_json(self) -> dict[str, Any]:
        """The error body every refusal has, over HTTP and MCP alike."""
        return {"error": {"code": self.code, "message": self.message}}


def _bad(name: str, wanted: str) -> Refusal:
    return Refusal("invalid_argument", f"'{name}' must be {wanted}")


def bounded(name: str, value: object, low: int, high: int) -> int:
    """``value`` as an int in [low, high], or a refusal naming the range."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(name, f"an integer from {low} to {high}")
    if not low <= value <= high:
        raise Refusal("limit", f"'{name}' must be from {low} to {high}; got {value}")
    return value


def text(name: str, value: object, limit: int, *, empty: bool = False) -> str:
    """``value`` as a string of at most ``limit`` characters (non-blank unless ``empty``)."""
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise _bad(name, "a non-empty string")
    if len(value) > limit:
        raise Refusal("limit", f"'{name}' is longer than {limit} characters")
    return value


def checked_path(value: object) -> str:
    """An absolute, normalised path as search results show it; ``..`` and friends refused.

    Whether the index holds the file is checked against the index itself; this only
    makes sure the string cannot mean a different place than it spells.
    """
    path = text("path", value, MAX_PATH_CHARS)
    if "\x00" in path:
        raise Refusal("bad_path", "a path cannot contain a NUL character")
    if not os.path.isabs(path):
        raise Refusal(
            "bad_path", "give the absolute path a search result showed, not a relative one"
        )
    if ".." in path.replace("\\", "/").split("/"):
        raise Refusal("bad_path", "'..' is not allowed in a path")
    if os.path.normpath(path) != path:
        raise Refusal("bad_path", f"not a normalised path; did you mean {os.path.normpath(path)}?")
    return path


def _date(name: str, value: str | None) -> float | None:
    """``value`` read as ``quarry search --after/--before`` and the query language read it
    (``app.dates`` is the one parser), so "yesterday" means the same everywhere."""
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError:
        raise _bad(name, f"a date like {DATE_FORMS}; got {value!r}") from None


def _strings(name: str, value: object) -> tuple[str, ...]:
    """A list of strings (or one string) of bounded size."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise _bad(name, "a string or a list of strings")
    if len(items) > MAX_FILTERS:
        raise Refusal("limit", f"'{name}' has more than {MAX_FILTERS} entries")
    return tuple(text(name, i, MAX_PATH_CHARS) for i in items)


def _folders(folder: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(str(Path(f).expanduser().resolve()) for f in folder)


@dataclass(frozen=True)
class SearchRequest:
    """One search, with the CLI's options and meanings (``quarry search --help``)."""

    query: str
    k: int = 10
    rerank: bool = True
    preset: str | None = None
    instruction: str | None = None
    folder: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    after: str | None = None
    before: str | None = None
    mode: Mode = "hybrid"
    all: bool = False  # weaker matches too (``quarry search --all``)

    def __post_init__(self) -> None:
        text("query", self.query, MAX_QUERY_CHARS)
        bounded("k", self.k, 1, MAX_K)
        for flag in ("rerank", "all"):
            if not isinstance(getattr(self, flag), bool):
                raise _bad(flag, "true or false")
        if self.mode not in get_args(Mode):
            raise _bad("mode", "one of " + ", ".join(get_args(Mode)))
        for name in ("preset", "instruction", "after", "before"):
            if getattr(self, name) is not None:
                text(name, getattr(self, name), MAX_QUERY_CHARS)
        object.__setattr__(self, "folder", _strings("folder", self.folder))
        object.__setattr__(self, "type", _strings("type", self.type))
        self.dates()

    def dates(self) -> tuple[float | None, float | None]:
        """``after`` and ``before`` as POSIX times, as the CLI reads them."""
        return _date("after", self.after), _date("before", self.before)

    def folders(self) -> tuple[str, ...]:
        """Folder filters made absolute, as the CLI does (``~`` expanded, links resolved)."""
        return _folders(self.folder)

    def extensions(self) -> tuple[str, ...]:
        """Type filters as the store compares them: lower case, no dot; "image" is every
        image format and "mail" no extension (``mail_only``), as in ``quarry search``."""
        from app.query import type_words

        return type_words(self.type)[0]

    def mail_only(self) -> bool:
        """True when ``type`` asks for mail messages."""
        from app.query import type_words

        return type_words(self.type)[1]


@dataclass(frozen=True)
class SimilarRequest:
    """More like one indexed file (or one of its passages), as ``quarry similar``."""

    path: str
    passage: int | None = None
    k: int = 10
    folder: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    after: str | None = None
    before: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", checked_path(self.path))
        if self.passage is not None:
            bounded("passage", self.passage, 0, MAX_PASSAGE)
        bounded("k", self.k, 1, MAX_K)
        for name in ("after", "before"):
            if getattr(self, name) is not None:
                text(name, getattr(self, name), MAX_QUERY_CHARS)
        object.__setattr__(self, "folder", _strings("folder", self.folder))
        object.__setattr__(self, "type", _strings("type", self.type))
        self.filters()

    def filters(self) -> SearchFilters:
        """The folder, type and date filters, read as ``/search`` reads them."""
        from app.query import type_words

        extensions, mail_only = type_words(self.type)
        return SearchFilters(
            folders=_folders(self.folder),
            extensions=extensions,
            modified_after=_date("after", self.after),
            modified_before=_date("before", self.before),
            mail_only=mail_only,
        )


def only(body: object, allowed: tuple[str, ...], required: tuple[str, ...]) -> dict[str, Any]:
    """A JSON object's fields, refusing unknown ones (a typo would otherwise be ignored)."""
    if not isinstance(body, Mapping):
        raise Refusal("invalid_argument", "the request body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise Refusal("invalid_argument", f"unknown field '{unknown[0]}'; known: {list(allowed)}")
    missing = [name for name in required if name not in body]
    if missing:
        raise Refusal("invalid_argument", f"'{missing[0]}' is required")
    return dict(body)


SEARCH_FIELDS = tuple(f.name for f in fields(SearchRequest))
SIMILAR_FIELDS = tuple(f.name for f in fields(SimilarRequest))
