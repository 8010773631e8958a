"""ODT and EPUB, read as zip + XML with the stdlib: both are small, stable standards.

Parsing them directly avoids odfpy/ebooklib (thin maintenance, heavier dependencies) and
gives us heading structure straight from the markup.
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

from app.extract.errors import Corrupt, EmptyFile, Encrypted
from app.extract.html import add_html
from app.extract.model import Document, DocumentBuilder

_TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_OPF_NS = "http://www.idpf.org/2007/opf"
_CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"


def _read_zip(path: Path, name: str) -> bytes:
    """One member of a zip, with zip damage reported as ``Corrupt``."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(name)
    except KeyError as exc:
        raise Corrupt(f"missing {name}") from exc
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise Corrupt(f"damaged zip container: {exc}") from exc
    except RuntimeError as exc:  # zipfile raises this for encrypted members
        raise Encrypted("password-protected archive") from exc


def _parse(data: bytes, what: str) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise Corrupt(f"damaged {what}: {exc}") from exc


def _odt_text(element: ET.Element) -> str:
    """Text of a paragraph/heading, with <text:s/>, tabs and line breaks expanded."""
    parts = [element.text or ""]
    for child in element:
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "s":
            parts.append(" " * int(child.get(f"{{{_TEXT_NS}}}c", "1")))
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
    root = _parse(_read_zip(path, "content.xml"), "content.xml")
    if b"manifest:encryption-data" in _read_zip(path, "META-INF/manifest.xml"):
        raise Encrypted("password-protected OpenDocument")
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


def _epub_spine(path: Path) -> list[str]:
    """Zip member names of the book's reading order, from container.xml -> OPF spine."""
    container = _parse(_read_zip(path, "META-INF/container.xml"), "container.xml")
    rootfile = container.find(f".//{{{_CONTAINER_NS}}}rootfile")
    if rootfile is None or not rootfile.get("full-path"):
        raise Corrupt("EPUB container names no package file")
    opf_path = rootfile.get("full-path", "")
    opf = _parse(_read_zip(path, opf_path), opf_path)
    base = posixpath.dirname(opf_path)
    items = {item.get("id"): item.get("href", "") for item in opf.iter(f"{{{_OPF_NS}}}item")}
    spine = [ref.get("idref") for ref in opf.iter(f"{{{_OPF_NS}}}itemref")]
    return [posixpath.normpath(posixpath.join(base, items[i])) for i in spine if i in items]


def extract_epub(path: Path) -> Document:
    """Chapters in spine order; each chapter's headings form the heading path."""
    builder = DocumentBuilder()
    for name in _epub_spine(path):
        markup = _read_zip(path, name).decode("utf-8", errors="replace")
        add_html(builder, markup)
    if builder.empty:
        raise EmptyFile("no text in the book's chapters")
    return builder.build("epub")
