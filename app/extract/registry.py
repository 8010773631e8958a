"""Which extractor reads a file: content sniffing first, the extension second.

Sniffing the first bytes catches wrong extensions (a PDF saved as ``.txt``) and binaries
with text-looking names; the extension picks between text flavours (Markdown, code, CSV).
Size, permissions and special files are checked here, before any parser sees the file (a
FIFO or device is refused by its type, before any open). The result is checked too: text
that is mostly NUL bytes is binary, and text larger than the file-size limit is refused, so
a container that inflates far beyond its file size cannot flood the indexing process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from app.extract.archive import InflateBudget, nul_heavy, open_archive
from app.extract.errors import (
    Corrupt,
    EmptyFile,
    Encrypted,
    ExtractionError,
    TooLarge,
    TooMuchMemory,
    Unreadable,
    Unsupported,
)
from app.extract.files import NotRegularFile, open_regular, special_kind
from app.extract.html import extract_html
from app.extract.images import IMAGE_EXTS, extract_image, heif_support, image_kind
from app.extract.mail import extract_eml
from app.extract.mbox import MailItem, iter_mbox, looks_like_mbox
from app.extract.model import Document
from app.extract.ocr.reader import PageReader
from app.extract.office import extract_docx, extract_pptx, extract_xlsx
from app.extract.opendoc import extract_epub, extract_odt
from app.extract.pdf import extract_pdf
from app.extract.text import (
    CODE_EXTS,
    MARKDOWN_EXTS,
    extract_code,
    extract_csv,
    extract_markdown,
    extract_plain,
)

Extractor = Callable[[Path], Document]
#: Formats whose pages may need OCR: their extractors take the file's ``PageReader``.
OCR_FORMATS: dict[str, Callable[[Path, PageReader | None], Document]] = {
    "pdf": extract_pdf,
    "image": extract_image,
}

BY_FORMAT: dict[str, Extractor] = {
    "docx": extract_docx,
    "pptx": extract_pptx,
    "xlsx": extract_xlsx,
    "odt": extract_odt,
    "epub": extract_epub,
    "html": extract_html,
    "markdown": extract_markdown,
    "code": extract_code,
    "csv": extract_csv,
    "text": extract_plain,
}

_EXT_FORMAT = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".docm": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".odt": "odt",
    ".epub": "epub",
    ".eml": "eml",
    ".mbox": "mbox",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".csv": "csv",
    ".tsv": "csv",
    **dict.fromkeys(IMAGE_EXTS, "image"),
    **dict.fromkeys(MARKDOWN_EXTS, "markdown"),
    **dict.fromkeys(CODE_EXTS, "code"),
}

#: Leading bytes of formats we recognise as binary and never try to read as text.
_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"GIF8", "GIF image"),
    (b"\x7fELF", "executable (ELF)"),
    (b"MZ", "executable (Windows)"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf", "7-zip archive"),
    (b"Rar!", "RAR archive"),
    (b"SQLite format 3\0", "SQLite database"),
    (b"ID3", "MP3 audio"),
    (b"OggS", "Ogg media"),
    (b"fLaC", "FLAC audio"),
    (b"\xca\xfe\xba\xbe", "Java class / Mach-O"),
    (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
    (b"BZh", "bzip2 archive"),
    (b"\xfd7zXZ", "xz archive"),
    (b"wOFF", "web font"),
)
_ZIP_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/epub+zip": "epub",
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: Most characters one document may yield when no file-size limit is set.
MAX_TEXT_CHARS = 128 * 1024 * 1024


def _sniff_zip(path: Path) -> str | None:
    """Tell OOXML, ODT and EPUB apart by their members; other zips are unsupported."""
    try:
        with open_archive(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = InflateBudget(member_cap=256).read(archive, "mimetype").strip()
                if mimetype in _ZIP_MIMETYPES:
                    return _ZIP_MIMETYPES[mimetype]
    except (Corrupt, Encrypted):
        return None  # let the extension decide; its reader reports the damage
    for prefix, fmt in (("word/", "docx"), ("ppt/", "pptx"), ("xl/", "xlsx")):
        if any(name.startswith(prefix) for name in names):
            return fmt
    raise Unsupported("zip archive")


def sniff(path: Path, head: bytes) -> str | None:
    """Format named by the file's content, or None when only text-ness is known."""
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(path)
    if looks_like_mbox(head):
        return "mbox"
    kind = image_kind(head, path.suffix.lower())
    if kind == "HEIF" and not heif_support():
        raise Unsupported("HEIC image (install pillow-heif to read it)")
    if kind is not None:
        return "image"
    if head.startswith(_OLE_MAGIC):
        if path.suffix.lower() in {".docx", ".xlsx", ".pptx"}:
            raise Encrypted("password-protected Office document")
        raise Unsupported("legacy Office / OLE file (save it as .docx/.xlsx/.pptx)")
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            raise Unsupported(f"binary file ({what})")
    return None


def _check_file(path: Path, max_bytes: int | None) -> int:
    """Stat once: regular file, within the size limit, non-empty; returns the size."""
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise Unreadable("file vanished") from exc
    except OSError as exc:  # ELOOP for symlink loops, EACCES on a parent dir
        raise Unreadable(f"cannot stat: {exc.strerror or exc}") from exc
    kind = special_kind(info.st_mode)
    if kind is not None:
        raise Unreadable(f"not a regular file: {kind}")
    if max_bytes is not None and info.st_size > max_bytes:
        raise TooLarge(f"{_size(info.st_size)} exceeds the {_size(max_bytes)} limit")
    if info.st_size == 0:
        raise EmptyFile("empty file (0 bytes)")
    return info.st_size


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def _read_head(path: Path) -> bytes:
    try:
        with open_regular(path) as fh:
            return fh.read(8192)
    except PermissionError as exc:
        raise Unreadable("permission denied") from exc
    except NotRegularFile as exc:  # swapped for a FIFO or device since the stat
        raise Unreadable(exc.strerror or "not a regular file") from exc
    except OSError as exc:
        raise Unreadable(f"cannot read: {exc.strerror or exc}") from exc


def in_maildir(path: Path) -> bool:
    """A message file of a Maildir folder (``cur/`` or ``new/`` beside ``tmp/``)."""
    folder = path.parent
    return folder.name in ("cur", "new") and (folder.parent / "tmp").is_dir()


def choose_format(path: Path, head: bytes) -> str:
    """The extractor name for ``path``: sniffed content, else extension, else plain text."""
    sniffed = sniff(path, head)
    if sniffed:
        return sniffed
    if in_maildir(path):
        return "eml"
    by_ext = _EXT_FORMAT.get(path.suffix.lower())
    if by_ext in {"pdf", "docx", "pptx", "xlsx", "odt", "epub", "image"}:
        # The extension promises a binary container but the bytes are not one.
        what = path.suffix.lstrip(".").upper() if by_ext == "image" else by_ext.upper()
        raise Corrupt(f"not a valid {what} file (truncated or mislabelled)")
    if b"\0" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        from app.extract.text import utf16_without_bom

        if utf16_without_bom(head[: len(head) & ~1]) is None:
            raise Unsupported("binary file (contains NUL bytes)")
    return by_ext or "text"


def _attachment_reader(max_bytes: int | None, ocr: PageReader | None) -> Callable[[Path], Document]:
    """Reads a mail attachment like a file, but never a mail's attachments in turn."""
    return lambda path: extract_file(path, max_bytes, ocr, attachments=False)


def _extract(
    path: Path, fmt: str, max_bytes: int | None, ocr: PageReader | None, attachments: bool
) -> Document:
    if fmt in OCR_FORMATS:
        return OCR_FORMATS[fmt](path, ocr)
    if fmt == "eml":
        return extract_eml(path, _attachment_reader(max_bytes, ocr) if attachments else None)
    if fmt == "mbox":
        raise Unsupported("mail archive (mbox): its messages are read one by one")
    return BY_FORMAT[fmt](path)


def extract_file(
    path: Path,
    max_bytes: int | None = None,
    ocr: PageReader | None = None,
    *,
    attachments: bool = True,
) -> Document:
    """Extract ``path`` in this process; raises an ``ExtractionError`` subclass on any refusal.

    ``ocr`` reads the pages that have no text of their own (scans, photos); without it
    they are left unread and counted, as with OCR switched off. ``attachments``: read the
    attached documents of a mail message too.
    """
    path = Path(path)
    _check_file(path, max_bytes)
    fmt = choose_format(path, _read_head(path))
    try:
        document = _extract(path, fmt, max_bytes, ocr, attachments)
    except PermissionError as exc:
        raise Unreadable("permission denied") from exc
    except FileNotFoundError as exc:
        raise Unreadable("file vanished") from exc
    except MemoryError as exc:  # the sandbox's per-worker memory limit was reached
        raise TooMuchMemory("too much memory") from exc
    except RecursionError as exc:
        raise Corrupt(f"document too complex to parse: {type(exc).__name__}") from exc
    _check_text(document.text, max_bytes or MAX_TEXT_CHARS)
    return document


def _check_text(text: str, limit: int) -> None:
    """Refuse text that no person wrote (NUL floods), that floods memory, or that is blank."""
    if len(text) > limit:
        raise TooLarge(
            f"the extracted text ({len(text):,} characters) exceeds the {_size(limit)} limit"
        )
    if nul_heavy(text):
        raise Unsupported("binary content (NUL bytes where text belongs)")
    if not text.strip():
        raise EmptyFile("no text")


def is_mailbox(path: Path) -> bool:
    """An mbox file (by its first bytes), read message by message with ``extract_mailbox``."""
    try:
        _check_file(Path(path), None)
        return looks_like_mbox(_read_head(Path(path)))
    except ExtractionError:
        return False


def extract_mailbox(
    path: Path, start: int = 0, max_bytes: int | None = None, ocr: PageReader | None = None
) -> Iterator[MailItem]:
    """The messages of an mbox from offset ``start``, parsed one at a time.

    A mailbox is streamed, so the file-size limit applies to each message's attachments,
    not to the archive (a 2 GB mbox is normal, and costs no more memory than a small one).
    """
    path = Path(path)
    _check_file(path, None)
    if not looks_like_mbox(_read_head(path)):
        raise Unsupported("not an mbox mail archive")
    try:
        yield from iter_mbox(path, start, _attachment_reader(max_bytes, ocr))
    except PermissionError as exc:
        raise Unreadable("permission denied") from exc
    except FileNotFoundError as exc:
        raise Unreadable("file vanished") from exc
    except MemoryError as exc:
        raise TooMuchMemory("too much memory") from exc


def supported_extensions() -> list[str]:
    """Extensions with a dedicated extractor (any other text file is read as plain text)."""
    return sorted(_EXT_FORMAT)


__all__ = ["extract_file", "extract_mailbox", "is_mailbox", "supported_extensions"]
