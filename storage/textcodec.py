"""Store any Python ``str`` in SQLite, lone surrogates included, and get it back unchanged.

File names are bytes on POSIX; Python decodes the ones that are not valid UTF-8 with
``surrogateescape`` (byte 0xff becomes ``"\\udcff"``), and Windows names may hold unpaired
UTF-16 surrogates. SQLite's driver refuses to encode such a string (``UnicodeEncodeError``),
which used to abort a whole indexing run over one odd file name.

The mapping: each surrogate U+D800..U+DFFF becomes one code point of the last 2,048 of
plane 16 (private use, U+10F800..U+10FFFF), and a real character of that range (or the
escape U+10F7FF itself) is written as the escape followed by the character. Every string
round-trips exactly; strings without those characters (all but pathological ones) are
stored as they are, and a surrogate costs one character, so a name keeps its length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_ESCAPE = "\U0010f7ff"
_SHIFT = 0x10F800 - 0xD800
_TO_DB = re.compile("[\ud800-\udfff\U0010f7ff-\U0010ffff]")
_FROM_DB = re.compile("\U0010f7ff(.)|[\U0010f800-\U0010ffff]", re.DOTALL)
_MAPPED = re.compile("[\U0010f7ff-\U0010ffff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return chr(code + _SHIFT) if code <= 0xDFFF else _ESCAPE + char


def _unescape(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return match.group(1)
    return chr(ord(match.group()) - _SHIFT)


def to_db(text: str) -> str:
    """``text`` in a form SQLite can store (itself, unless it holds surrogates)."""
    if text.isascii() or _TO_DB.search(text) is None:
        return text
    return _TO_DB.sub(_escape, text)


def from_db(text: str) -> str:
    """The string ``to_db`` was given."""
    if text.isascii() or _MAPPED.search(text) is None:
        return text
    return _FROM_DB.sub(_unescape, text)


def decode_column(raw: bytes) -> str:
    """``text_factory`` of every connection: UTF-8 (bad bytes kept as surrogates), unmapped."""
    return from_db(raw.decode("utf-8", "surrogateescape"))


def _value(value: Any) -> Any:
    return to_db(value) if type(value) is str else value


def params_to_db(params: Sequence[Any] | Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
    """Bound parameters with every string mapped by ``to_db``."""
    if isinstance(params, Mapping):
        return {key: _value(value) for key, value in params.items()}
    return tuple(_value(value) for value in params)


def rows_to_db(
    rows: Iterable[Sequence[Any] | Mapping[str, Any]],
) -> Iterable[Sequence[Any] | Mapping[str, Any]]:
    """``params_to_db`` applied lazily to each row of an ``executemany``."""
    return (params_to_db(row) for row in rows)
