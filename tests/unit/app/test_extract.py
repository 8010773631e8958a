"""Extractors on generated files of every format, the bad-input corpus, and the sandbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.extract import ExtractorPool, extract_file
from app.extract.errors import (
    FAILED,
    SKIPPED,
    Corrupt,
    EmptyFile,
    Encrypted,
    ExtractionError,
    ExtractionTimeout,
    TooLarge,
    UndecodableText,
    Unreadable,
    Unsupported,
)
from app.extract.text import decode, markdown_sections
from tests.integration import corpus


def _check_offsets(doc_text: str, sections: list) -> None:  # type: ignore[type-arg]
    last = 0
    for section in sections:
        assert last <= section.start < section.end <= len(doc_text)
        assert doc_text[section.start : section.end].strip()
        last = section.end


@pytest.fixture
def good(tmp_path: Path) -> dict[str, Path]:
    return {p.name: p for p in corpus.write_good_corpus(tmp_path / "good")}


def test_every_good_file_extracts_with_exact_sections(good: dict[str, Path]) -> None:
    for path in good.values():
        doc = extract_file(path)
        assert doc.text.strip(), path
        _check_offsets(doc.text, doc.sections)


def test_pdf_keeps_page_numbers(good: dict[str, Path]) -> None:
    doc = extract_file(good["paper.pdf"])
    pages = {s.page: doc.text[s.start : s.end] for s in doc.sections}
    assert pages == {1: "First page about owls.", 2: "Second page."}
    assert doc.page_unit == "page"


def test_docx_headings_from_styles(good: dict[str, Path]) -> None:
    doc = extract_file(good["report.docx"])
    paths = [s.heading_path for s in doc.sections]
    assert ("Quarterly report", "Costs") in paths
    assert "freight\t42" in doc.text


def test_pptx_slide_numbers_and_titles(good: dict[str, Path]) -> None:
    doc = extract_file(good["deck.pptx"])
    assert [(s.page, s.heading_path) for s in doc.sections] == [(1, ("Roadmap",)), (2, ("Risks",))]


def test_xlsx_sheets(good: dict[str, Path]) -> None:
    doc = extract_file(good["book.xlsx"])
    assert [s.heading_path for s in doc.sections] == [("Inventory",), ("Prices",)]
    assert "apples\t12" in doc.text


def test_odt_epub_eml_html(good: dict[str, Path]) -> None:
    odt = extract_file(good["garden.odt"])
    assert "Tomatoes need  sun." in odt.text
    assert odt.sections[-1].heading_path == ("Garden notes", "Pests")
    epub = extract_file(good["novel.epub"])
    assert [s.heading_path for s in epub.sections] == [("Chapter One",), ("Chapter Two",)]
    eml = extract_file(good["lunch.eml"])
    assert "Subject: Lunch on Friday" in eml.text and "Café at noon" in eml.text
    assert "<b>" not in eml.text
    html = extract_file(good["page.html"])
    assert "var x" not in html.text and "Visible text." in html.text


def test_markdown_headings_ignore_code_fences() -> None:
    text = "# A\n\ntext\n\n```\n# not a heading\n```\n\n## B\n\nmore\n"
    sections = markdown_sections(text)
    assert [s.heading_path for s in sections] == [("A",), ("A", "B")]
    assert "".join(text[s.start : s.end] for s in sections) == text


def test_decodes_boms_utf16_and_legacy_codepages() -> None:
    assert decode("héllo".encode("utf-8-sig")) == "héllo"
    assert decode("héllo wörld".encode("utf-16")) == "héllo wörld"
    assert decode("plain ascii here".encode("utf-16-le")) == "plain ascii here"
    assert decode("Café crème à Zürich.".encode("cp1252")) == "Café crème à Zürich."
    with pytest.raises(UndecodableText):
        decode(b"\xc3\x28\xa0\xa1\x80\x81\xfe" * 50)


def test_wrong_extension_is_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "actually-a-pdf.txt"
    corpus.write_pdf(path, [["sniffed text"]])
    assert extract_file(path).format == "pdf"


EXPECTED = {
    "empty.txt": EmptyFile,
    "image.png": Unsupported,
    "blob.bin": Unsupported,
    "huge.txt": TooLarge,
    "fake.txt": Unsupported,
    "invalid-utf8.txt": UndecodableText,
    "locked.pdf": Encrypted,
    "truncated.pdf": Corrupt,
    "truncated.docx": Corrupt,
    "loop_a": Unreadable,
}


def test_bad_corpus_each_refused_with_a_reason(tmp_path: Path) -> None:
    bad = corpus.write_bad_corpus(tmp_path / "bad", huge_bytes=50_000)
    assert set(bad) == set(EXPECTED)
    for name, path in bad.items():
        with pytest.raises(ExtractionError) as info:
            extract_file(path, max_bytes=50_000)
        assert isinstance(info.value, EXPECTED[name]), (name, info.value)
        assert info.value.reason and info.value.status in (SKIPPED, FAILED)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("top secret")
    if os.geteuid() == 0:
        # root reads anything; a directory posing as a file is the unreadable case instead
        path.unlink()
        path.mkdir()
    else:
        path.chmod(0)
    with pytest.raises(Unreadable):
        extract_file(path)


def test_sandbox_matches_inline_and_maps_errors(tmp_path: Path) -> None:
    paths = corpus.write_good_corpus(tmp_path / "good")
    bad = corpus.write_bad_corpus(tmp_path / "bad", huge_bytes=50_000)
    with ExtractorPool(size=1, timeout=60, max_bytes=50_000) as pool:
        for path in paths[:3]:
            assert pool.extract(path) == extract_file(path)
        with pytest.raises(Encrypted):
            pool.extract(bad["locked.pdf"])


def test_sandbox_timeout_kills_and_recovers(tmp_path: Path) -> None:
    pdf = corpus.write_pdf(tmp_path / "slow.pdf", [["page"]] * 50)
    with ExtractorPool(size=1, timeout=0.0001) as pool:
        with pytest.raises(ExtractionTimeout) as info:
            pool.extract(pdf)
        assert info.value.status == FAILED and info.value.retryable
        pool.timeout = 60
        assert pool.extract(pdf).format == "pdf"
