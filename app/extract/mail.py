"""EML messages with the stdlib ``email`` package: headers, then the text parts.

The stdlib parser is strict about nothing and handles every transfer encoding and charset
the RFCs allow, so there is no reason for a dependency.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from app.extract.errors import EmptyFile
from app.extract.html import html_blocks
from app.extract.model import Document, DocumentBuilder

_HEADERS = ("Subject", "From", "To", "Cc", "Date")


def _part_text(part: EmailMessage) -> str:
    """Decoded text of one part; unknown charsets degrade to replacement characters."""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def extract_eml(path: Path) -> Document:
    """Header block plus every inline text part (HTML parts only when no plain text)."""
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    subject = str(message.get("Subject", "") or "").strip()
    heading = (subject,) if subject else ()
    builder = DocumentBuilder()
    header_lines = [f"{h}: {message[h]}" for h in _HEADERS if message.get(h)]
    builder.add("\n".join(header_lines), heading_path=heading)
    parts = [p for p in message.walk() if not p.is_multipart() and not p.is_attachment()]
    plain = [p for p in parts if p.get_content_type() == "text/plain"]
    for part in plain or [p for p in parts if p.get_content_type() == "text/html"]:
        text = _part_text(part)  # type: ignore[arg-type]
        if part.get_content_type() == "text/html":
            text = "\n\n".join(block for block, _ in html_blocks(text)[0])
        builder.add(text.replace("\r\n", "\n"), heading_path=heading)
    if builder.empty:
        raise EmptyFile("empty message")
    return builder.build("eml", title=subject)
