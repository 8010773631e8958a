"""ODT and EPUB, read as zip + XML with the stdlib: both are small, stable standards.

Parsing them directly avoids odfpy/ebooklib (thin maintenance, heavier dependencies) and
gives us heading structure straight from the markup. Every member is read through one
``InflateBudget`` per file, so a zip bomb is refused while it inflates.
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

from app.extract.archive import InflateBudget, open_archive
from app.extract.errors import Corrupt, EmptyFile, Encrypted
from app.extract.html import add_html
from app.extract.model import Document, DocumentBuilder

_TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_OPF_NS = "http://www.idpf.org/2007/opf"
_CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
_MAX_SPACES = 1000


def _parse(data: bytes, what: str) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise Corrupt(f"damaged {what}: {exc}") from exc


def _space_count(element: ET.Element) -> int:
    """``<text:s text:c="N"/>``: N spaces, capped (a hostile N of 10^9 is a 1 GB string)."""
    raw = element.get(f"{{{_TEXT_NS}}}c", "1")
    return min(int(raw), _MAX_SPACES) if raw.isdigit() else 1


def _odt_text(element: ET.Element) -> str:
    """Text of a paragraph/heading, with <text:s/>, tabs and line breaks expanded."""
    parts = [element.text or ""]
    for child in element:
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "s":
            parts.append(" " * _space_count(child))
        elif tag == "tab":
            parts.append("\t")
        elif tag == "line-break":
            parts.append("\n")
        else:
            parts.append(_odt_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def extract_odt(path: Path) -> Document:
    """Paragraphs and headings (text:h outline levels) of an OpenDocument text."""
    budget = InflateBudget()
    with open_archive(path) as archive:
        if b"manifest:encryption-data" in budget.read(archive, "META-INF/manifest.xml"):
            raise Encrypted("password-protected OpenDocument")
        root = _parse(budget.read(archive, "content.xml"), "content.xml")
    builder = DocumentBuilder()
    stack: list[tuple[int, str]] = []
    for element in root.iter():
        if element.tag == f"{{{_TEXT_NS}}}h":
            level = int(element.get(f"{{{_TEXT_NS}}}outline-level", "1"))
            text = _odt_text(element).strip()
            stack = [(lv, t) for lv, t in stack if lv < level] + [(level, text)]
            builder.add(text, heading_path=tuple(t for _, t in stack))
        elif element.tag == f"{{{_TEXT_NS}}}p":
            builder.add(_odt_text(element), heading_path=tuple(t for _, t in stack))
    if builder.empty:
        raise EmptyFile("no text")
    return builder.build("odt")


def _epub_spine(archive: zipfile.ZipFile, budget: InflateBudget) -> list[str]:
    """Zip member names of the book's reading order, from container.xml -> OPF spine."""
    container = _parse(budget.read(archive, "META-INF/container.xml"), "container.xml")
    rootfile = container.find(f".//{{{_CONTAINER_NS}}}rootfile")
    if rootfile is None or not rootfile.get("full-path"):
        raise Corrupt("EPUB container names no package file")
    opf_path = rootfile.get("full-path", "")
    opf = _parse(budget.read(archive, opf_path), opf_path)
    base = posixpath.dirname(opf_path)
    items = {item.get("id"): item.get("href", "") for item in opf.iter(f"{{{_OPF_NS}}}item")}
    spine = [ref.get("idref") for ref in opf.iter(f"{{{_OPF_NS}}}itemref")]
    return [posixpath.normpath(posixpath.join(base, items[i])) for i in spine if i in items]


def extract_epub(path: Path) -> Document:
    """Chapters in spine order; each chapter's headings form the heading path."""
    builder = DocumentBuilder()
    budget = InflateBudget()
    with open_archive(path) as archive:
        for name in _epub_spine(archive, budget):
            add_html(builder, budget.read(archive, name).decode("utf-8", errors="replace"))
    if builder.empty:
        raise EmptyFile("no text in the book's chapters")
    return builder.build("epub")
