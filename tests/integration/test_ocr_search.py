"""OCR end to end with the installed ``quarry`` command: scans skipped with OCR off, found with
it on (page numbers kept, marked OCR), only files that need it re-read, nothing read twice."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from app.extract.ocr import load_engine
from app.extract.ocr.engines import OcrUnavailable
from tests.fixtures.cli import json_runner
from tests.fixtures.pages import ENGLISH, image_pdf, mixed_pdf, small_page

pytestmark = pytest.mark.ocr


@pytest.fixture
def quarry(tmp_path: Path, starter_model_dir: Path, quarry_home: Path) -> Any:
    try:
        load_engine("auto")
    except OcrUnavailable as exc:
        pytest.skip(f"no OCR engine: {exc}")
    return json_runner(tmp_path / "index.sqlite3", starter_model_dir, ok=(0, 1))


def test_scans_skipped_with_ocr_off_then_found_with_it_on(tmp_path: Path, quarry: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    small_page(ENGLISH[1]).save(docs / "receipt.png")
    image_pdf(docs / "scan.pdf", [small_page(ENGLISH[2])])
    mixed_pdf(docs / "minutes.pdf", [["Minutes of the harbour committee"],
                                     small_page(ENGLISH[3])])  # fmt: skip
    (docs / "notes.txt").write_text("Plain notes about the harbour office.")

    off = quarry("index", str(docs), "--no-ocr")
    reasons = {Path(p).name: r for p, s, r in ((x["path"], x["status"], x["reason"])
                                               for x in off["problems"])}  # fmt: skip
    assert "needs OCR" in reasons["receipt.png"] and "needs OCR" in reasons["scan.pdf"]
    assert off["ok"] == 2 and off["ocr_pages"] == 0  # notes.txt, minutes.pdf (text page)
    assert not quarry("search", "marmalade", "--mode", "keyword")

    on = quarry("index", str(docs), "--ocr")
    # Only the files with unread pages are read again; notes.txt is left alone (counted
    # as unchanged, as every file the run did not need to read).
    assert on["ocr_pages"] == 3 and on["ok"] == 3 and on["unchanged"] == 1
    assert on["ocr_pages_per_s"] > 0
    hits = quarry("search", "marmalade", "--mode", "keyword")
    assert Path(hits[0]["path"]).name == "receipt.png" and hits[0]["ocr"] is True
    sledge = quarry("search", "sledge lantern", "--mode", "keyword")[0]
    assert Path(sledge["path"]).name == "minutes.pdf" and sledge["page"] == 2 and sledge["ocr"]
    committee = quarry("search", "committee", "--mode", "keyword")[0]
    assert committee["page"] == 1 and committee["ocr"] is False
    images = quarry("search", "ledger", "--mode", "keyword", "--type", "image")
    assert {Path(h["path"]).name for h in images} == {"receipt.png"}

    # A scan moved while Quarry was closed, then its copy elsewhere: never read again.
    (docs / "scan.pdf").rename(docs / "scan-2024.pdf")
    shutil.copy(docs / "receipt.png", docs / "receipt-copy.png")
    again = quarry("index", str(docs), "--ocr")
    assert again["ocr_pages"] == 0 and again["ok"] == 2
    assert Path(quarry("search", "manifests", "--mode", "keyword")[0]["path"]).name == (
        "scan-2024.pdf"
    )
