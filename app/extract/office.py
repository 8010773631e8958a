"""Office Open XML: DOCX (python-docx), PPTX (python-pptx), XLSX (openpyxl read-only).

These three are the maintained, pure-Python readers for their formats (no LibreOffice, no
COM). Zip or XML damage inside them is wrapped as ``Corrupt`` at this boundary. The libraries
inflate parts by themselves (python-docx and python-pptx load every part into memory), so
each file first passes ``check_archive``: one streaming pass that refuses a zip bomb at its
first block over the limits, before any library sees it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from xml.etree.ElementTree import ParseError

from app.extract.archive import check_archive
from app.extract.errors import Corrupt, EmptyFile, ExtractionError
from app.extract.model import Document, DocumentBuilder

T = TypeVar("T")
_MAX_ROWS_PER_SHEET = 200_000  # beyond this a sheet is data, not prose worth embedding


def _guarded(what: str, fn: Callable[[], T]) -> T:
    """Run a library call, turning its zoo of parse errors into ``Corrupt``."""
    try:
        return fn()
    except MemoryError:
        raise  # the sandbox's memory limit: reported as "too much memory", not as damage
    except ExtractionError:
        raise
    except (zipfile.BadZipFile, KeyError, ParseError, ValueError, EOFError, OSError) as exc:
        if isinstance(exc, PermissionError):
            raise
        raise Corrupt(f"damaged {what}: {exc}") from exc
    except Exception as exc:  # lxml.etree.XMLSyntaxError and friends
        raise Corrupt(f"damaged {what}: {type(exc).__name__}: {exc}") from exc


def _heading_level(style_name: str) -> int:
    """'Heading 2' -> 2, 'Title' -> 1, anything else -> 0."""
    if style_name == "Title":
        return 1
    if style_name.startswith("Heading "):
        tail = style_name.removeprefix("Heading ").strip()
        return int(tail) if tail.isdigit() else 0
    return 0


def _docx_blocks(path: Path) -> Iterator[tuple[int, str]]:
    """(heading level or 0, text) for each paragraph and table, in body order."""
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = ("\t".join(cell.text for cell in row.cells) for row in item.rows)
            yield 0, "\n".join(rows)
        else:
            style = item.style.name if item.style is not None else ""
            yield _heading_level(style or ""), item.text


def extract_docx(path: Path) -> Document:
    """Paragraphs and tables; Heading N / Title styles build the heading path."""
    check_archive(path)
    builder = DocumentBuilder()
    stack: list[tuple[int, str]] = []
    title = ""
    for level, text in _guarded("DOCX", lambda: list(_docx_blocks(path))):
        if level and text.strip():
            stack = [(lv, t) for lv, t in stack if lv < level] + [(level, text.strip())]
            title = title or text.strip()
        builder.add(text, heading_path=tuple(t for _, t in stack))
    if builder.empty:
        raise EmptyFile("no text")
    return builder.build("docx", title=title)


def _shape_texts(shapes: Any) -> Iterator[str]:
    """Text of every shape on a slide, groups and tables included."""
    for shape in shapes:
        if getattr(shape, "shape_type", None) == 6:  # MSO_SHAPE_TYPE.GROUP
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield shape.text_frame.text
        elif getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                yield "\t".join(cell.text for cell in row.cells)


def _pptx_slides(path: Path) -> list[tuple[str, list[str]]]:
    """(title, texts) per slide, speaker notes last."""
    import pptx

    slides = []
    for slide in pptx.Presentation(str(path)).slides:
        title_shape = slide.shapes.title
        title = title_shape.text.strip() if title_shape is not None else ""
        texts = list(_shape_texts(slide.shapes))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            texts.append(slide.notes_slide.notes_text_frame.text)
        slides.append((title, texts))
    return slides


def extract_pptx(path: Path) -> Document:
    """One section per slide (page = slide number), headed by the slide title."""
    check_archive(path)
    builder = DocumentBuilder()
    for number, (title, texts) in enumerate(_guarded("PPTX", lambda: _pptx_slides(path)), 1):
        heading = (title,) if title else ()
        for text in texts:
            builder.add(text, page=number, heading_path=heading)
    if builder.empty:
        raise EmptyFile("no text on any slide")
    return builder.build("pptx", page_unit="slide")


def _xlsx_sheets(path: Path) -> list[tuple[str, str]]:
    """(sheet name, tab-separated rows) per worksheet, computed values not formulas."""
    import openpyxl

    book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    try:
        sheets = []
        for sheet in book.worksheets:
            lines = []
            for i, row in enumerate(sheet.iter_rows(values_only=True)):
                if i >= _MAX_ROWS_PER_SHEET:
                    break
                cells = ["" if v is None else str(v) for v in row]
                if any(cells):
                    lines.append("\t".join(cells).rstrip("\t"))
            sheets.append((sheet.title, "\n".join(lines)))
        return sheets
    finally:
        book.close()


def _streamed_sheet(name: str) -> bool:
    """Worksheets that openpyxl's read-only mode streams (and we stop at a row limit)."""
    return name.startswith("xl/worksheets/") and name.endswith(".xml")


def extract_xlsx(path: Path) -> Document:
    """One "table" section per sheet (page = sheet number, heading = sheet name)."""
    check_archive(path, streamed=_streamed_sheet)
    builder = DocumentBuilder()
    for number, (name, text) in enumerate(_guarded("XLSX", lambda: _xlsx_sheets(path)), 1):
        builder.add(text, page=number, heading_path=(name,), kind="table")
    if builder.empty:
        raise EmptyFile("no cell values")
    return builder.build("xlsx", page_unit="sheet")
