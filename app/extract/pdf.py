"""PDF via pypdfium2: text per page, page numbers kept (1-based).

pypdfium2 wraps Google's PDFium (Chrome's PDF engine): permissively licensed, wheels for
every OS with no system dependency, fast, and tolerant of the broken PDFs found on real
disks. It runs inside the extraction sandbox because a pathological file can still hang it.
"""

from __future__ import annotations

from pathlib import Path

from app.extract.errors import Corrupt, EmptyFile, Encrypted, Unreadable
from app.extract.model import Document, DocumentBuilder

_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD


def _open(path: Path) -> object:
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


def _page_text(page: object) -> str:
    """Page text with PDFium's CRLFs unified."""
    textpage = page.get_textpage()  # type: ignore[attr-defined]
    try:
        text: str = textpage.get_text_bounded()
    finally:
        textpage.close()
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "")


def extract_pdf(path: Path) -> Document:
    """One section per page (page = 1-based number), so no chunk ever spans two pages."""
    pdf = _open(path)
    builder = DocumentBuilder()
    try:
        title = (pdf.get_metadata_dict().get("Title") or "").strip()  # type: ignore[attr-defined]
        for index in range(len(pdf)):  # type: ignore[arg-type]
            page = pdf[index]  # type: ignore[index]
            try:
                builder.add(_page_text(page), page=index + 1)
            finally:
                page.close()
    except Exception as exc:  # PDFium raises plain PdfiumError mid-document on damage
        if isinstance(exc, (Encrypted, Corrupt)):
            raise
        raise Corrupt(f"damaged PDF: {exc}") from exc
    finally:
        pdf.close()  # type: ignore[attr-defined]
    if builder.empty:
        raise EmptyFile("PDF has no text layer (scanned images need OCR)")
    return builder.build("pdf", title=title, page_unit="page")
