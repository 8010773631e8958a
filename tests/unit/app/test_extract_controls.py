"""No extractor lets control characters or split words through (issue 11, item 8).

Each format carries a word broken the way that format breaks words ("manip" + marker +
"ulation": PDFium's \\x02 for a hyphenated line end, a soft hyphen elsewhere) and the control
characters the format can hold; the extracted text must read "manipulation" and hold no
control character but newline and tab.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from app.extract import extract_file
from app.extract.html import html_blocks
from tests.integration import corpus

CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\xad]")
WORD = "manip\xadulation"  # a soft hyphen: invisible, but it splits the word for search
NOISE = "bell\x07 escape\x1b[0m form\x0cfeed"


def _text(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def _pdf(path: Path) -> Path:  # PDFium turns a line-end hyphen into \x02
    return corpus.write_pdf(path, [["Robot arms for object manip-", "ulation tasks."]])


def _docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_paragraph(f"Robot {WORD} tasks.").add_run().add_break()
    document.save(str(path))
    return path


def _pptx(path: Path) -> Path:
    import pptx

    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Robots"
    slide.placeholders[1].text = f"Object {WORD}\vsecond line"  # \v is a line break
    deck.save(str(path))
    return path


def _xlsx(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append([f"object {WORD}", "line one\nline two"])
    book.save(str(path))
    return path


def _odt(path: Path) -> Path:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
        f"<text:p>Robot {WORD}<text:line-break/>tasks.</text:p>"
        "</office:text></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0"?><manifest:manifest'
        ' xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>'
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)
    return path


def _epub(path: Path) -> Path:
    corpus.write_epub(path)
    chapter = f"<html><body><h1>One</h1><p>Robot {WORD} &#xad;</p></body></html>"
    with zipfile.ZipFile(path) as old:
        members = {n: old.read(n) for n in old.namelist()}
    members["OEBPS/ch1.xhtml"] = chapter.encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _eml(path: Path) -> Path:
    message = EmailMessage()
    message["Subject"] = "Robots"
    message.set_content(f"Robot {WORD}.\n{NOISE}\n")
    path.write_bytes(bytes(message))
    return path


WRITERS: dict[str, Callable[[Path], Path]] = {
    "notes.txt": lambda p: _text(p, f"Robot {WORD}.\n{NOISE}\n"),
    "readme.md": lambda p: _text(p, f"# Ro\x01bots\n\nRobot {WORD}.\n{NOISE}\n"),
    "tool.py": lambda p: _text(p, f"# Robot {WORD}\x1b\ndef f():\n    return 1\n"),
    "table.csv": lambda p: _text(p, f"name,what\nrobot,{WORD}\x01\n"),
    "page.html": lambda p: _text(p, f"<h1>Ro\x01bots</h1><p>Robot {WORD}. {NOISE}</p>"),
    "paper.pdf": _pdf,
    "report.docx": _docx,
    "deck.pptx": _pptx,
    "sheet.xlsx": _xlsx,
    "notes.odt": _odt,
    "book.epub": _epub,
    "mail.eml": _eml,
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_no_control_characters_and_whole_words(name: str, tmp_path: Path) -> None:
    doc = extract_file(WRITERS[name](tmp_path / name))
    assert "manipulation" in doc.text, repr(doc.text)
    assert not CONTROLS.search(doc.text), repr(doc.text)
    for section in doc.sections:
        assert not any(CONTROLS.search(h) for h in section.heading_path), section


def test_html_drops_permalinks_source_links_and_copy_buttons() -> None:
    markup = (
        '<h1>File system<a class="headerlink" href="#fs" title="Permalink">#</a></h1>'
        '<h2>Common Objects<a href="#co">¶</a></h2>'
        '<dl><dt>Stream<a class="reference internal" href="_modules/s.html">'
        '<span class="viewcode-link">[src]</span></a><a href="#s">#</a></dt></dl>'
        '<div class="highlight"><pre>f(x);\n});</pre><button class="copybtn">copy</button></div>'
        '<p>See <a href="#co">Common Objects</a>.</p>'
    )
    blocks, _ = html_blocks(markup)
    texts = [text for text, _ in blocks]
    assert texts == ["File system", "Common Objects", "Stream", "f(x);\n});", "See Common Objects."]
    assert blocks[-1][1] == ("File system", "Common Objects")
