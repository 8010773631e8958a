"""E-mail messages with the stdlib ``email`` package: headers, text parts, attachments.

One message becomes one ``Document``: a header block (Subject, From, To, Cc, Date), the
body (plain text; HTML only when there is no plain part), then the text of each attached
document in a format Quarry reads (PDF, Office, OpenDocument, text...; images when OCR is
on), each under its own heading. The subject is the title; From/To/Date/Message-ID go in
``metadata`` so a result can say "the mail from Anna on 2024-03-02".

The stdlib parser handles every transfer encoding and charset the RFCs allow and is
lenient with broken mail, so there is no reason for a dependency. ``.eml`` files and the
files of a Maildir folder are one message each; ``app.extract.mbox`` splits mbox files.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path, PurePath

from app.extract.errors import EmptyFile, ExtractionError
from app.extract.html import html_blocks
from app.extract.model import Document, DocumentBuilder

log = logging.getLogger(__name__)

_HEADERS = ("Subject", "From", "To", "Cc", "Date")
#: Attachments read per message, and the largest one (bytes); more or larger are skipped.
MAX_ATTACHMENTS = 20
MAX_ATTACHMENT_BYTES = 32 * 1024 * 1024
#: Reads one attachment saved to a temporary file (the registry's ``extract_file``).
AttachmentReader = Callable[[Path], Document]


def parse_message(raw: bytes) -> EmailMessage:
    """Parse RFC 5322 bytes; the parser never raises, damage shows as defects."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _header(message: Message, name: str) -> str:
    """A header as text; a malformed one degrades to its raw value, never raises."""
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError, LookupError):
        raw = message.get_all(name, failobj=[]) if hasattr(message, "get_all") else []
        value = str(raw[0]) if raw else ""
    return " ".join(str(value or "").split())


def iso_date(value: str) -> str:
    """'Sat, 02 Mar 2024 14:05:00 +0100' -> '2024-03-02T14:05:00+01:00' ('' if unparsable)."""
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return ""


def addresses(value: str) -> list[str]:
    """Lower-case e-mail addresses in a From/To/Cc header."""
    return [addr.lower() for _, addr in getaddresses([value]) if "@" in addr]


def message_metadata(message: Message) -> dict[str, str]:
    """subject, from, to, cc, date (ISO 8601), message_id: the fields a result shows."""
    meta = {key.lower(): _header(message, key) for key in ("Subject", "From", "To", "Cc")}
    meta["date"] = iso_date(_header(message, "Date"))
    meta["message_id"] = _header(message, "Message-ID")
    return {k: v for k, v in meta.items() if v}


def _part_text(part: Message) -> str:
    """Decoded text of one part; unknown charsets degrade to replacement characters."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, ValueError, AssertionError, AttributeError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _body_parts(message: Message) -> list[Message]:
    parts = [p for p in message.walk() if not p.is_multipart() and not _is_attachment(p)]
    plain = [p for p in parts if p.get_content_type() == "text/plain"]
    return plain or [p for p in parts if p.get_content_type() == "text/html"]


def _is_attachment(part: Message) -> bool:
    return part.get_content_disposition() == "attachment" or (
        bool(part.get_filename()) and part.get_content_maintype() != "text"
    )


def _attachments(message: Message) -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) of each attachment worth reading, within the limits."""
    from app.extract.registry import supported_extensions

    known = set(supported_extensions()) | {".txt"}
    count = 0
    for part in message.walk():
        name = PurePath(str(part.get_filename() or "")).name
        if part.is_multipart() or not name or not _is_attachment(part):
            continue
        if PurePath(name).suffix.lower() not in known or count >= MAX_ATTACHMENTS:
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and 0 < len(payload) <= MAX_ATTACHMENT_BYTES:
            count += 1
            yield name, payload


def _read_attachment(name: str, data: bytes, reader: AttachmentReader) -> Document | None:
    """The attachment's document, or None when it yields nothing (logged, never fatal)."""
    with tempfile.TemporaryDirectory(prefix="quarry-mail-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            return reader(path)
        except ExtractionError as exc:
            log.debug("attachment %s skipped: %s", name, exc.reason)
            return None


def message_document(
    message: Message, reader: AttachmentReader | None = None, fmt: str = "eml"
) -> Document:
    """The searchable form of one message; raises ``EmptyFile`` when it has no text."""
    meta = message_metadata(message)
    subject = meta.get("subject", "")
    heading = (subject,) if subject else ()
    builder = DocumentBuilder()
    lines = [f"{h}: {_header(message, h)}" for h in _HEADERS if _header(message, h)]
    builder.add("\n".join(lines), heading_path=heading)
    for part in _body_parts(message):
        text = _part_text(part)
        if part.get_content_type() == "text/html":
            text = "\n\n".join(block for block, _ in html_blocks(text)[0])
        builder.add(text.replace("\r\n", "\n"), heading_path=heading)
    for name, data in _attachments(message) if reader is not None else ():
        attached = _read_attachment(name, data, reader)  # type: ignore[arg-type]
        for section in attached.sections if attached is not None else ():
            body = attached.text[section.start : section.end]  # type: ignore[union-attr]
            builder.add(body, heading_path=(*heading, f"Attachment: {name}"), ocr=section.ocr)
    if builder.empty:
        raise EmptyFile("empty message")
    document = builder.build(fmt, title=subject)
    document.metadata = meta
    return document


def extract_eml(path: Path, reader: AttachmentReader | None = None) -> Document:
    """One message file (``.eml``, or a file of a Maildir folder)."""
    return message_document(parse_message(path.read_bytes()), reader)
