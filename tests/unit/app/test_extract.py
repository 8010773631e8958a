"""Extractors on generated files of every format, the bad-input corpus, and the sandbox."""

from __future__ import annotations

import os
import re
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.extract import ExtractorPool, archive, extract_file
from app.extract.errors import (
    FAILED,
    SKIPPED,
    Corrupt,
    EmptyFile,
    Encrypted,
    ExtractionError,
    ExtractionTimeout,
    NeedsOcr,
    TooLarge,
    UndecodableText,
    Unreadable,
    Unsupported,
)
from app.extract.text import atx_heading, decode, markdown_sections
from app.prepare import file_digest
from tests.hostile import inputs
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
    "image.png": NeedsOcr,  # OCR is off: not even opened
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


# ---- hostile input (issue 16) ------------------------------------------------------------

_REFERENCE_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")  # the old, quadratic one


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="# \tab\u00e9", max_size=30))
def test_heading_parser_agrees_with_the_reference_pattern(line: str) -> None:
    match = _REFERENCE_HEADING.match(line)
    assert atx_heading(line) == (None if match is None else (len(match[1]), match[2]))


@settings(max_examples=20, deadline=None)
@given(st.integers(10_000, 40_000), st.sampled_from(["", " z", "x", " #z"]))
def test_pathological_headings_take_linear_time(repeat: int, tail: str) -> None:
    text = "# a" + " #" * repeat + tail + "\n\nbody\n"
    started = time.perf_counter()
    sections = markdown_sections(text)
    assert time.perf_counter() - started < 0.5
    assert "".join(text[s.start : s.end] for s in sections) == text


@pytest.mark.parametrize("build", [inputs.epub_text_bomb, inputs.docx_bomb])
def test_zip_bomb_is_refused_while_it_inflates(build: Any, tmp_path: Path) -> None:
    bomb = build(tmp_path / "bomb", total=80 * inputs.MB)
    started = time.perf_counter()
    with pytest.raises(TooLarge, match="inflates to more than 64 MB"):
        extract_file(bomb)
    assert time.perf_counter() - started < 3


def test_mostly_nul_text_is_binary(tmp_path: Path) -> None:
    with pytest.raises(Unsupported, match="NUL"):
        extract_file(inputs.epub_nul_bomb(tmp_path / "nul.epub", total=2 * inputs.MB))
    html = tmp_path / "page.html"
    html.write_bytes(b"<p>" + b"text " * 100 + b"</p>" + b"\0" * 5000)
    with pytest.raises(Unsupported, match="NUL"):
        extract_file(html)


def test_central_directory_with_too_many_members_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "MAX_ENTRIES", 10)
    path = corpus.write_epub(tmp_path / "many.epub")
    with zipfile.ZipFile(path, "a") as out:
        for i in range(10):
            out.writestr(f"OEBPS/extra{i}.txt", "x")
    with pytest.raises(TooLarge, match="members"):
        extract_file(path)


def test_odt_space_count_is_capped(tmp_path: Path) -> None:
    path = corpus.write_odt(tmp_path / "spaces.odt")
    source = zipfile.ZipFile(path).read("content.xml").replace(b"<text:s/>", b'<text:s text:c="1000000000"/>')  # fmt: skip
    inputs.swap_member(path, tmp_path / "wide.odt", "content.xml",
                       lambda archive, name: archive.writestr(name, source))  # fmt: skip
    assert len(extract_file(tmp_path / "wide.odt").text) < 5000


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    pipe = inputs.fifo(tmp_path / "notes.txt")
    with pytest.raises(Unreadable, match="FIFO"):
        extract_file(pipe)
    outcome: list[object] = []
    reader = threading.Thread(target=lambda: outcome.append(_digest_or_error(pipe)), daemon=True)
    reader.start()
    reader.join(2)
    if reader.is_alive():  # release the blocked open before failing
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("hashing a FIFO blocked")
    assert isinstance(outcome[0], OSError) and "FIFO" in str(outcome[0])


def _digest_or_error(path: Path) -> object:
    try:
        return file_digest(str(path))
    except OSError as exc:
        return exc


def test_closing_the_pool_kills_a_busy_worker_at_once(tmp_path: Path) -> None:
    ledger = corpus.write_pdf(tmp_path / "ledger.pdf", [[f"page {i}"] for i in range(100_000)])
    pool = ExtractorPool(size=1, timeout=60)
    outcome: list[BaseException] = []

    def extract() -> None:
        try:
            pool.extract(ledger)
        except ExtractionError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=extract)
    worker.start()
    time.sleep(2)  # the worker has started and is deep in the ledger
    started = time.perf_counter()
    pool.close()
    worker.join(5)
    assert time.perf_counter() - started < 1.5 and not worker.is_alive()
    assert isinstance(outcome[0], ExtractionTimeout) and "stopped" in outcome[0].reason
