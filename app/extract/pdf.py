"""PDF via pypdfium2: text per page, page numbers kept (1-based); OCR for scanned pages.

pypdfium2 wraps Google's PDFium (Chrome's PDF engine): permissively licensed, wheels for
every OS with no system dependency, fast, and tolerant of the broken PDFs found on real
disks. It runs inside the extraction sandbox because a pathological file can still hang it.

Each page is judged on its own: a page whose text layer is usable keeps it; a page with
(almost) no text but an image on it is a scan, and a page whose text is mostly symbols,
control or private-use characters has a broken font encoding. Those pages are rendered
(at the engine's best resolution, capped in pixels) and read by OCR when the user allows it, so a
mixed document costs OCR only for its scanned pages, and each keeps its page number.
"""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path
from typing import Any

from PIL import Image

from app.extract.errors import Corrupt, EmptyFile, Encrypted, Unreadable
from app.extract.model import Document, DocumentBuilder
from app.extract.ocr.reader import OcrOptions, PageReader

_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD
#: A text layer with fewer visible characters than this does not describe a scanned page.
MIN_TEXT_CHARS = 16
#: Share of odd characters (symbols, controls, private use, U+FFFD) that marks a broken layer.
GARBAGE_SHARE = 0.5
#: Most pixels a page is rendered at for OCR (a 200-inch poster would otherwise be GBs).
MAX_RENDER_PIXELS = 25_000_000
_ODD_CATEGORIES = {"Co", "Cc", "Cn", "Cs", "So", "Sm", "Sk"}


def _open(path: Path) -> Any:
    """Open the PDF, mapping PDFium's error codes to our exception tree."""
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        message = str(exc).lower()
        if code == _PASSWORD_ERROR or "password" in message:
            raise Encrypted("password-protected PDF") from exc
        if "file access" in message:
            raise Unreadable(f"cannot open PDF: {exc}") from exc
        raise Corrupt(f"damaged PDF: {exc}") from exc


def _page_text(page: Any) -> str:
    """Page text with PDFium's CRLFs unified."""
    textpage = page.get_textpage()
    try:
        text: str = textpage.get_text_bounded()
    finally:
        textpage.close()
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "")


def garbled(text: str) -> bool:
    """Mostly symbols, controls or unmapped glyphs: a text layer no reader can use."""
    visible = [c for c in text if not c.isspace()]
    odd = sum(c == "\ufffd" or unicodedata.category(c) in _ODD_CATEGORIES for c in visible)
    return odd > GARBAGE_SHARE * len(visible)


def _has_image(page: Any) -> bool:
    import pypdfium2.raw as pdfium_c

    objects = page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,))
    return next(iter(objects), None) is not None


def needs_ocr(text: str, page: Any) -> bool:
    """Is this page a scan (no real text, an image) or a page with a broken text layer?"""
    visible = sum(not c.isspace() for c in text)
    if visible < MIN_TEXT_CHARS:
        return _has_image(page)
    return garbled(text)


def render(page: Any, dpi: int) -> Image.Image:
    """The page as a grayscale image at ``dpi``, or smaller when that would be huge."""
    width, height = page.get_size()  # points
    scale = min(dpi / 72, math.sqrt(MAX_RENDER_PIXELS / max(width * height, 1.0)))
    image: Image.Image = page.render(scale=scale, grayscale=True).to_pil()
    return image


def _page_content(page: Any, number: int, ocr: PageReader) -> tuple[str, bool]:
    """(text, came from OCR) for one page."""
    text = _page_text(page)
    if not needs_ocr(text, page):
        return text, False
    read = ocr.read(number, lambda dpi: render(page, dpi))
    if read is None or not read.strip():
        return ("" if garbled(text) else text), False
    return read, True


def extract_pdf(path: Path, ocr: PageReader | None = None) -> Document:
    """One section per page (page = 1-based number), so no chunk ever spans two pages."""
    reader = ocr or PageReader(OcrOptions())
    pdf = _open(path)
    builder = DocumentBuilder()
    try:
        title = (pdf.get_metadata_dict().get("Title") or "").strip()
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                text, from_ocr = _page_content(page, index + 1, reader)
                builder.add(text, page=index + 1, ocr=from_ocr)
            finally:
                page.close()
    except Exception as exc:  # PDFium raises plain PdfiumError mid-document on damage
        if isinstance(exc, (Encrypted, Corrupt, MemoryError)):
            raise
        raise Corrupt(f"damaged PDF: {exc}") from exc
    finally:
        pdf.close()
    report = reader.report
    if builder.empty:
        scanned = report.unread or report.pages or report.timed_out or report.failed
        raise reader.refusal("scanned PDF") if scanned else EmptyFile("PDF has no text")
    document = builder.build("pdf", title=title, page_unit="page")
    document.ocr = report if (report.pages or report.unread or report.cached_pages) else None
    return document
