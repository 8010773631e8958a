"""Builders for hostile files: zip bombs, floods, special files, odd names, bad links.

Small versions where the real thing is gigabytes: each is big enough to cross the limit it
tests (a 128 MB inflating EPUB against a 64 MB per-member cap), never big enough to hurt
the machine when the limit is missing (the runner caps each process's address space).
Containers are built from the genuine files of ``tests.integration.corpus``, with one
member swapped for a streamed flood, so every other part is exactly what the real
libraries write.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

from tests.integration import corpus

MB = 1024 * 1024
BOMB_BYTES = 128 * MB
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_T = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_O = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"


def _flood(
    head: bytes, fill: bytes, total: int, tail: bytes
) -> Callable[[zipfile.ZipFile, str], None]:
    """A member writer: ``head``, ``fill`` repeated to ``total`` bytes, ``tail``; streamed."""

    def write(archive: zipfile.ZipFile, name: str) -> None:
        block = fill * max(1, MB // len(fill))
        with archive.open(name, "w", force_zip64=True) as member:
            member.write(head)
            for _ in range(total // len(block)):
                member.write(block)
            member.write(tail)

    return write


def swap_member(
    source: Path, dest: Path, name: str, write: Callable[[zipfile.ZipFile, str], None]
) -> Path:
    """Copy the zip ``source`` to ``dest`` with member ``name`` written by ``write``."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            if info.filename == name:
                write(out, name)
            else:
                out.writestr(info, src.read(info.filename))
    source.unlink()
    return dest


def epub_nul_bomb(path: Path, total: int = BOMB_BYTES) -> Path:
    """An EPUB whose chapter inflates to ``total`` NUL bytes (the 131 KB / 128 MB one)."""
    corpus.write_epub(path.with_suffix(".src"))
    head = b"<html><body><p>"
    return swap_member(path.with_suffix(".src"), path, "OEBPS/ch1.xhtml",
                       _flood(head, b"\0", total, b"</p></body></html>"))  # fmt: skip


def epub_text_bomb(path: Path, total: int = BOMB_BYTES) -> Path:
    """An EPUB whose chapter inflates to ``total`` bytes of real-looking words."""
    corpus.write_epub(path.with_suffix(".src"))
    head = b"<html><body><p>"
    return swap_member(path.with_suffix(".src"), path, "OEBPS/ch1.xhtml",
                       _flood(head, b"lorem ipsum ", total, b"</p></body></html>"))  # fmt: skip


def docx_bomb(path: Path, total: int = BOMB_BYTES) -> Path:
    """A DOCX whose body inflates to ``total`` bytes of one-letter paragraphs.

    Many small elements, not one long text run: lxml refuses a text node over 10 MB by
    itself, but builds a tree of millions of elements until memory runs out.
    """
    corpus.write_docx(path.with_suffix(".src"))
    head = f'<w:document xmlns:w="{_W}"><w:body>'.encode()
    fill = b"<w:p><w:r><w:t>A</w:t></w:r></w:p>"
    return swap_member(path.with_suffix(".src"), path, "word/document.xml",
                       _flood(head, fill, total, b"</w:body></w:document>"))  # fmt: skip


def pptx_bomb(path: Path, total: int = BOMB_BYTES) -> Path:
    """A PPTX whose first slide inflates to ``total`` bytes of one-letter paragraphs."""
    corpus.write_pptx(path.with_suffix(".src"))
    head = f'<p:sld xmlns:p="{_P}" xmlns:a="{_A}"><p:cSld><p:spTree><p:sp><p:txBody>'
    tail = b"</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
    return swap_member(path.with_suffix(".src"), path, "ppt/slides/slide1.xml",
                       _flood(head.encode(), b"<a:p><a:r><a:t>B</a:t></a:r></a:p>", total, tail))  # fmt: skip


def xlsx_bomb(path: Path, total: int = 288 * MB) -> Path:
    """An XLSX whose first sheet holds one cell inflating to ``total`` bytes.

    Bigger than the others: sheets are streamed, so their cap is higher (256 MB).
    """
    corpus.write_xlsx(path.with_suffix(".src"))
    head = f'<worksheet xmlns="{_S}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
    tail = b"</t></is></c></row></sheetData></worksheet>"
    return swap_member(path.with_suffix(".src"), path, "xl/worksheets/sheet1.xml",
                       _flood(head.encode(), b"C", total, tail))  # fmt: skip


def odt_bomb(path: Path, total: int = BOMB_BYTES) -> Path:
    """An ODT whose content.xml inflates to ``total`` bytes of one paragraph."""
    corpus.write_odt(path.with_suffix(".src"))
    head = f'<office:document-content xmlns:office="{_O}" xmlns:text="{_T}">'
    head += "<office:body><office:text><text:p>"
    tail = b"</text:p></office:text></office:body></office:document-content>"
    return swap_member(path.with_suffix(".src"), path, "content.xml",
                       _flood(head.encode(), b"D", total, tail))  # fmt: skip


def docx_memory_hog(path: Path, paragraphs: int = 8_000_000) -> Path:
    """A DOCX under every size cap (48 MB of XML) whose parse tree needs gigabytes."""
    corpus.write_docx(path.with_suffix(".src"))
    head = f'<w:document xmlns:w="{_W}"><w:body>'.encode()
    return swap_member(path.with_suffix(".src"), path, "word/document.xml",
                       _flood(head, b"<w:p/>", 6 * paragraphs, b"</w:body></w:document>"))  # fmt: skip


def long_line(path: Path, size: int = 4 * MB) -> Path:
    """One line of ``size`` characters without a space (a minified blob, a base64 dump)."""
    path.write_bytes(b"x" * size)
    return path


def pathological_heading(path: Path, repeat: int = 150_000) -> Path:
    """Markdown whose heading line made the old heading regex backtrack for minutes."""
    path.write_text("# a" + " #" * repeat + " z\n\nbody text after the heading\n")
    return path


def fifo(path: Path) -> Path:
    """A named pipe with an innocent name: opening it blocks until someone writes."""
    os.mkfifo(path)
    return path


def undecodable_name(folder: Path, text: str) -> Path:
    """A file whose name is not valid UTF-8 (byte 0xff), as POSIX allows."""
    raw = os.fsencode(folder) + b"/caf\xe9 \xff report.txt"
    with open(raw, "wb") as fh:
        fh.write(text.encode())
    return Path(os.fsdecode(raw))


def normal_files(folder: Path) -> list[Path]:
    """A few ordinary files that must index fine next to the hostile ones."""
    folder.mkdir(parents=True, exist_ok=True)
    notes = folder / "harbour.txt"
    notes.write_text("The harbour master logs every ship that passes the lighthouse.")
    guide = folder / "guide.md"
    guide.write_text("# Guide\n\nWater the tomatoes every morning before the sun is high.\n")
    return [notes, guide]
