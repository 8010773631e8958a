"""Builders for real files of every supported format, and for the bad-input corpus.

Tests generate their inputs instead of shipping binaries: each builder writes a genuine
file with the format's own library (python-docx, python-pptx, openpyxl) or by hand where
the format is simple enough (PDF, EPUB, ODT, EML).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_bytes(pages: list[list[str]], *, encrypt: bool = False) -> bytes:
    """A valid PDF with one Helvetica text line per entry of each page."""
    objects: list[bytes] = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, lines in enumerate(pages):
        ops = ["BT /F1 12 Tf 14 TL 72 720 Td"]
        ops += [f"({_pdf_escape(line)}) Tj T*" for line in lines]
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R"
            f" /Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    trailer_extra = b""
    if encrypt:
        objects.append(
            b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P -44"
            b" /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> >>"
        )
        trailer_extra = b" /Encrypt %d 0 R /ID [<%s> <%s>]" % (
            len(objects),
            b"ab" * 16,
            b"ab" * 16,
        )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R" % (len(objects) + 1) + trailer_extra
    out += b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def write_pdf(path: Path, pages: list[list[str]], *, encrypt: bool = False) -> Path:
    path.write_bytes(pdf_bytes(pages, encrypt=encrypt))
    return path


def write_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Quarterly report", level=1)
    document.add_paragraph("Revenue grew strongly in the northern region.")
    document.add_heading("Costs", level=2)
    document.add_paragraph("Shipping costs fell by a tenth.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "item"
    table.cell(0, 1).text = "amount"
    table.cell(1, 0).text = "freight"
    table.cell(1, 1).text = "42"
    document.save(str(path))
    return path


def write_pptx(path: Path) -> Path:
    import pptx

    deck = pptx.Presentation()
    for title, body in (("Roadmap", "Ship the search box"), ("Risks", "Hiring is slow")):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    deck.save(str(path))
    return path


def write_xlsx(path: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Inventory"
    sheet.append(["fruit", "count"])
    sheet.append(["apples", 12])
    second = book.create_sheet("Prices")
    second.append(["pears", 3.5])
    book.save(str(path))
    return path


def write_odt(path: Path) -> Path:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
        '<text:h text:outline-level="1">Garden notes</text:h>'
        "<text:p>Tomatoes need<text:s/> sun.</text:p>"
        '<text:h text:outline-level="2">Pests</text:h>'
        "<text:p>Aphids dislike garlic.</text:p>"
        "</office:text></office:body></office:document-content>"
    )
    manifest = '<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>'
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)
    return path


def write_epub(path: Path) -> Path:
    container = (
        '<?xml version="1.0"?><container version="1.0"'
        ' xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
        '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )
    opf = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        '<manifest><item id="c1" href="ch1.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="c2" href="text/ch2.xhtml" media-type="application/xhtml+xml"/></manifest>'
        '<spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>'
    )
    chapter = "<html><head><title>t</title></head><body><h1>{}</h1><p>{}</p></body></html>"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", container)
        archive.writestr("OEBPS/content.opf", opf)
        archive.writestr("OEBPS/ch1.xhtml", chapter.format("Chapter One", "The whale rose."))
        archive.writestr("OEBPS/text/ch2.xhtml", chapter.format("Chapter Two", "The sea calmed."))
    return path


def write_eml(path: Path) -> Path:
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = "Lunch on Friday"
    message["From"] = "ana@example.org"
    message["To"] = "bo@example.org"
    message.set_content("Shall we try the new ramen place? Café at noon.")
    message.add_alternative("<p>Shall we try the <b>new ramen</b> place?</p>", subtype="html")
    path.write_bytes(bytes(message))
    return path


GOOD_TEXTS = {
    "notes.txt": "Plain notes about migrating birds.\n\nThey fly south in autumn.\n",
    "readme.md": "# Project\n\nIntro text.\n\n## Install\n\n```sh\npip install x\n```\n",
    "tool.py": "def add(a, b):\n    return a + b\n\n\nclass Box:\n    pass\n",
    "page.html": "<html><head><title>T</title><script>var x=1</script></head>"
    "<body><h1>Welcome</h1><p>Visible   text.</p><h2>Sub</h2><p>More.</p></body></html>",
    "table.csv": "name,age\nann,31\nbob,42\n",
}


def write_good_corpus(folder: Path) -> list[Path]:
    """One valid file per supported format; every one must index ok."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in GOOD_TEXTS.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    paths.append(write_pdf(folder / "paper.pdf", [["First page about owls."], ["Second page."]]))
    paths.append(write_docx(folder / "report.docx"))
    paths.append(write_pptx(folder / "deck.pptx"))
    paths.append(write_xlsx(folder / "book.xlsx"))
    paths.append(write_odt(folder / "garden.odt"))
    paths.append(write_epub(folder / "novel.epub"))
    paths.append(write_eml(folder / "lunch.eml"))
    (folder / "utf16.txt").write_text("UTF-16 text about kestrels.", encoding="utf-16")
    (folder / "latin1.txt").write_bytes("Café crème façade déjà vu à Zürich.".encode("cp1252"))
    (folder / "Ünïcødé 名前 🦉.txt").write_text("odd unicode name, fine content", encoding="utf-8")
    paths += [folder / "utf16.txt", folder / "latin1.txt", folder / "Ünïcødé 名前 🦉.txt"]
    return paths


def write_bad_corpus(folder: Path, *, huge_bytes: int) -> dict[str, Path]:
    """Inputs that must be skipped or failed with a reason, never crash a run."""
    folder.mkdir(parents=True, exist_ok=True)
    bad: dict[str, Path] = {}

    def put(name: str, data: bytes) -> Path:
        (folder / name).write_bytes(data)
        bad[name] = folder / name
        return folder / name

    put("empty.txt", b"")
    put("image.png", b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    put("blob.bin", b"\x00\x01\x02garbage\x00" * 50)
    put("huge.txt", b"a" * (huge_bytes + 1))
    put("fake.txt", b"\x7fELF" + os.urandom(100))  # wrong extension: an executable
    put("invalid-utf8.txt", b"\xc3\x28\xa0\xa1\x80\x81\xfe" * 50)
    put("locked.pdf", pdf_bytes([["secret"]], encrypt=True))
    good_pdf = pdf_bytes([["a whole page of text"] * 20] * 3)
    put("truncated.pdf", good_pdf[: len(good_pdf) // 3])
    docx_path = write_docx(folder / "tmp.docx")
    data = docx_path.read_bytes()
    docx_path.unlink()
    put("truncated.docx", data[: len(data) // 2])
    loop_a, loop_b = folder / "loop_a", folder / "loop_b"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    bad["loop_a"] = loop_a
    return bad
