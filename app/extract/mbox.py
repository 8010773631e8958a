"""mbox files split into their messages while streaming: constant memory, resumable.

The stdlib's ``mailbox.mbox`` first builds a table of contents of the whole file (memory
grows with the number of messages) and cannot start in the middle. A 2 GB archive needs
neither: it is read line by line, each message is handed on as soon as the next "From "
line ends it, and reading can start at any message's offset, which is how appended mail
is indexed without reading the old messages again. Each message is then parsed by the
stdlib ``email`` package (``app.extract.mail``).

Separators follow the stdlib's rule, a line starting with "From " (writers quote such
lines in bodies as ">From "), made safer by requiring the next line to look like a header,
as sloppy writers leave some unquoted. ">From " lines are unquoted (mboxrd). A message
larger than ``MAX_MESSAGE_BYTES`` keeps its first part (headers and text come first).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.extract.errors import ExtractionError
from app.extract.files import open_regular
from app.extract.mail import AttachmentReader, message_document, parse_message
from app.extract.model import Document

#: Bytes of one message kept for parsing; the rest (big attachments) is skipped.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
#: Longest piece read as one line; a longer line arrives in pieces (memory stays flat).
LINE_LIMIT = 1 << 20
_HEADER = re.compile(rb"^[!-9;-~]+:")  # an RFC 5322 field name and its colon
_QUOTED_FROM = re.compile(rb"^>+From ")


@dataclass(frozen=True)
class RawMessage:
    """One message's bytes and where it lies in the file."""

    start: int  # offset of its "From " line
    end: int  # offset just past its last byte (the next "From " line, or the file's end)
    data: bytes  # the message without its "From " line, ">From " unquoted
    truncated: bool = False


@dataclass(frozen=True)
class MailItem:
    """A parsed message of an mbox; ``document`` is None when it had no text."""

    start: int
    end: int
    document: Document | None
    reason: str = ""  # why there is no document


def looks_like_mbox(head: bytes) -> bool:
    """Does the file start like an mbox ("From " line, then a header line)?"""
    first, _, rest = head.partition(b"\n")
    return first.startswith(b"From ") and bool(_HEADER.match(rest))


class _Lines:
    """Pieces of at most ``LINE_LIMIT`` bytes, each flagged when it starts a line."""

    def __init__(self, fh: BinaryIO, offset: int) -> None:
        self.fh = fh
        self.offset = offset
        self._line_start = True
        self._back: tuple[int, bytes, bool] | None = None

    def next(self) -> tuple[int, bytes, bool]:
        """(offset, piece, starts a line); the piece is b"" at the end of the file."""
        if self._back is not None:
            piece, self._back = self._back, None
            return piece
        at, starts = self.offset, self._line_start
        data = self.fh.readline(LINE_LIMIT)
        self.offset += len(data)
        self._line_start = data.endswith(b"\n")
        return at, data, starts

    def push_back(self, piece: tuple[int, bytes, bool]) -> None:
        self._back = piece


def _separator(lines: _Lines, piece: tuple[int, bytes, bool]) -> bool:
    """Is ``piece`` a "From " line that starts a message (the next line is a header)?"""
    _, data, starts = piece
    if not (starts and data.startswith(b"From ")):
        return False
    following = lines.next()
    lines.push_back(following)
    return bool(_HEADER.match(following[1])) or not following[1]


def split(fh: BinaryIO, start: int = 0, limit: int = MAX_MESSAGE_BYTES) -> Iterator[RawMessage]:
    """The messages from offset ``start`` (a message's "From " line, or 0) to the end."""
    fh.seek(start)
    lines = _Lines(fh, start)
    begin: int | None = None
    parts: list[bytes] = []
    size, truncated = 0, False
    while True:
        piece = lines.next()
        at, data, starts = piece
        if not data or _separator(lines, piece):
            if begin is not None:
                yield RawMessage(begin, at, b"".join(parts), truncated)
            if not data:
                return
            begin, parts, size, truncated = at, [], 0, False
            continue
        if begin is None:
            continue  # bytes before the first "From " line belong to no message
        if starts and _QUOTED_FROM.match(data):
            data = data[1:]
        if size + len(data) > limit:
            truncated = True
            continue
        parts.append(data)
        size += len(data)


def read_message(raw: RawMessage, reader: AttachmentReader | None) -> MailItem:
    """Parse one raw message into its document (attachments read by ``reader``)."""
    try:
        document = message_document(parse_message(raw.data), reader, fmt="mbox")
    except ExtractionError as exc:
        return MailItem(raw.start, raw.end, None, exc.reason)
    except (RecursionError, MemoryError, ValueError, LookupError, TypeError) as exc:
        # A hostile message (MIME parts nested thousands deep) breaks the stdlib parser:
        # that message is skipped with the reason, the archive goes on.
        return MailItem(raw.start, raw.end, None, f"unreadable message ({type(exc).__name__})")
    if raw.truncated:
        document.metadata["truncated"] = f"only the first {MAX_MESSAGE_BYTES >> 20} MB read"
    return MailItem(raw.start, raw.end, document)


def iter_mbox(
    path: Path, start: int = 0, reader: AttachmentReader | None = None
) -> Iterator[MailItem]:
    """Every message of the mbox at ``path`` from offset ``start``, parsed, one at a time."""
    with open_regular(path) as fh:
        for raw in split(fh, start):
            yield read_message(raw, reader)
