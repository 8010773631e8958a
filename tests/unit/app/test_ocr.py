"""OCR in extraction: images and scanned PDFs rendered from real text, read or skipped.

Pages are rendered with real fonts (``tests/fixtures/pages.py``) and kept small so each
reading takes a second or two; the full-page comparison of engines is benchmarks/ocr.py.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from app.extract import ExtractorPool, extract_file
from app.extract.errors import Corrupt, EmptyFile, NeedsOcr, TooLarge
from app.extract.images import frame
from app.extract.ocr import load_engine, read_page
from app.extract.ocr.engines import (
    AUTO_ORDER,
    OcrUnavailable,
    auto_order,
    enlargement,
    tesseract_languages,
)
from app.extract.ocr.layout import Box
from app.extract.ocr.reader import OcrOptions, PageReader
from tests.fixtures.pages import (
    CHINESE,
    ENGLISH,
    PageSpec,
    image_pdf,
    mixed_pdf,
    render,
    small_page,
)

pytestmark = pytest.mark.ocr


@pytest.fixture(scope="module", autouse=True)
def engine_installed() -> None:
    try:
        load_engine("auto")
    except OcrUnavailable as exc:
        pytest.skip(f"no OCR engine: {exc}")


ON = OcrOptions(enabled=True)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def read(path: Path, options: OcrOptions = ON, cached: dict[int, str] | None = None):  # type: ignore[no-untyped-def]
    reader = PageReader(options, cached)
    return extract_file(path, ocr=reader), reader.report


def test_png_is_read_with_ocr_on(tmp_path: Path) -> None:
    path = tmp_path / "receipt.png"
    small_page(ENGLISH[1]).save(path)
    doc, report = read(path)
    assert {"marmalade", "lisbon", "steamer", "clocks"} <= words(doc.text)
    assert doc.format == "image" and all(s.ocr for s in doc.sections)
    assert report.pages == 1 and report.seconds > 0


def test_png_is_skipped_with_a_reason_when_ocr_is_off(tmp_path: Path) -> None:
    path = tmp_path / "receipt.png"
    small_page(ENGLISH[1]).save(path)
    with pytest.raises(NeedsOcr, match="needs OCR"):
        extract_file(path)


@pytest.mark.parametrize("font", ["serif", "mono", "default"])
def test_fonts(tmp_path: Path, font: str) -> None:
    path = tmp_path / f"{font}.jpg"
    small_page(ENGLISH[3], font=font).convert("RGB").save(path, quality=90)
    doc, _ = read(path)
    expected = words(ENGLISH[3])
    # Most words: tight fonts on short lines lose a space here and there ("harbourfroze").
    assert len(expected & words(doc.text)) >= 0.8 * len(expected)


def test_sideways_page_is_turned(tmp_path: Path) -> None:
    path = tmp_path / "sideways.png"
    small_page(ENGLISH[0], rotate=1).save(path)
    doc, _ = read(path)
    assert {"harbour", "ledger", "sunset", "clerk"} <= words(doc.text)


def test_two_columns_in_reading_order(tmp_path: Path) -> None:
    path = tmp_path / "columns.png"
    small_page(ENGLISH[:2], columns=2, font="serif").save(path)
    doc, _ = read(path)
    text = " ".join(doc.text.lower().split())
    assert text.index("green ink") < text.index("last winter") < text.index("lisbon")


def test_chinese_page(tmp_path: Path) -> None:
    if load_engine("auto", "eng+chi_sim").name == "tesseract":
        assert "chi_sim" in tesseract_languages(), "auto chose Tesseract without Chinese"
    path = tmp_path / "chinese.png"
    small_page(CHINESE[:2], font="cjk", lang="zh").save(path)
    doc, _ = read(path, OcrOptions(enabled=True, languages="eng+chi_sim"))
    text = re.sub(r"\s+", "", doc.text)
    assert "港口办公室" in text and "绿色墨水" in text


def test_auto_prefers_an_engine_with_the_languages_asked_for() -> None:
    if not shutil.which("tesseract"):
        pytest.skip("the tesseract program is not installed (optional, not in the README's setup)")
    order = auto_order("eng+xyz_missing")
    assert order[0] == "rapidocr" and auto_order("eng") == AUTO_ORDER


@pytest.mark.parametrize("name", ["rapidocr", "tesseract"])
def test_each_installed_engine_reads_english(name: str) -> None:
    try:
        engine = load_engine(name)
    except OcrUnavailable as exc:
        pytest.skip(str(exc))
    result = read_page(render(PageSpec("en", (ENGLISH[2],)), engine.dpi, 8.27), engine)
    assert {"inspectors", "customs", "manifests", "percent"} <= words(result.text)
    assert 0.8 < result.score <= 1.0 and result.turned == 0


def test_rapidocr_keeps_word_spaces_on_a_150_dpi_image() -> None:
    """Its recogniser runs the words of short lines together ("Lastwintertheledger");
    such a page is read again enlarged, and the boxes come back in the page's pixels."""
    engine = load_engine("rapidocr")
    page = small_page(ENGLISH[1])  # 11-point text at 150 dpi: 25-pixel line boxes
    boxes = engine.read(page, None)
    assert {"last", "winter", "marmalade", "clocks", "lisbon"} <= words(
        " ".join(box.text for box in boxes)
    )
    assert max(x for box in boxes for x, _ in box.points) <= page.width
    assert max(y for box in boxes for _, y in box.points) <= page.height


def test_only_short_lines_are_enlarged() -> None:
    def box(height: float) -> Box:
        return Box(((0, 0), (100, 0), (100, height), (0, height)), "x", 1.0)

    assert enlargement([box(25), box(24), box(26)], 36, 40, 2.0) == pytest.approx(40 / 25)
    assert enlargement([box(10)], 36, 40, 2.0) == 2.0
    assert enlargement([box(45), box(50)], 36, 40, 2.0) == 1.0
    assert enlargement([], 36, 40, 2.0) == 1.0


def test_scanned_pdf_pages_keep_their_numbers(tmp_path: Path) -> None:
    path = image_pdf(tmp_path / "scan.pdf", [small_page(ENGLISH[0]), small_page(ENGLISH[1])])
    doc, report = read(path)
    pages = {s.page: doc.text[s.start : s.end] for s in doc.sections}
    assert "sunset" in pages[1].lower() and "marmalade" in pages[2].lower()
    assert report.pages == 2


def test_scanned_pdf_is_skipped_with_a_reason_when_ocr_is_off(tmp_path: Path) -> None:
    path = image_pdf(tmp_path / "scan.pdf", [small_page(ENGLISH[0])])
    with pytest.raises(NeedsOcr, match="scanned PDF: needs OCR"):
        extract_file(path)


def test_mixed_pdf_reads_only_the_scanned_page(tmp_path: Path) -> None:
    path = mixed_pdf(tmp_path / "mixed.pdf", [
        ["Minutes of the harbour committee", "Present: the night clerk"],
        small_page(ENGLISH[1]),
        ["Next meeting after the thaw"],
    ])  # fmt: skip
    doc, report = read(path)
    by_page = {s.page: s for s in doc.sections}
    assert set(by_page) == {1, 2, 3}
    assert "marmalade" in doc.text[by_page[2].start : by_page[2].end].lower()
    assert [s.ocr for s in doc.sections] == [False, True, False]
    assert report.pages == 1  # the text pages were not OCR'd


def test_mixed_pdf_with_ocr_off_keeps_text_pages_and_counts_the_scan(tmp_path: Path) -> None:
    path = mixed_pdf(tmp_path / "mixed.pdf", [["A text page"], small_page(ENGLISH[1])])
    doc, report = read(path, OcrOptions())
    assert doc.text == "A text page" and report.unread == 1 and report.pages == 0


def test_cached_pages_are_not_read_again(tmp_path: Path) -> None:
    path = image_pdf(tmp_path / "scan.pdf", [small_page(ENGLISH[0])])
    doc, report = read(path, OcrOptions(), cached={1: "remembered text"})
    assert doc.text == "remembered text"
    assert report.cached_pages == 1 and report.pages == 0


def test_multipage_tiff_has_pages(tmp_path: Path) -> None:
    path = tmp_path / "fax.tiff"
    first, *rest = [small_page(p) for p in ENGLISH[:3]]
    first.save(path, save_all=True, append_images=rest, compression="tiff_deflate")
    doc, report = read(path)
    assert doc.page_unit == "page" and [s.page for s in doc.sections] == [1, 2, 3]
    assert "inspectors" in doc.text[doc.sections[2].start : doc.sections[2].end].lower()
    assert report.pages == 3


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    """A camera stores the pixels sideways and says so in EXIF; the page is read upright."""
    page = small_page(ENGLISH[0])
    stored = page.rotate(90, expand=True).convert("RGB")  # pixels as the sensor saw them
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "photo.jpg"
    stored.save(path, exif=exif, quality=92)
    with Image.open(path) as image:
        assert frame(image, 0).size == page.size
    doc, _ = read(path)
    assert {"harbour", "ledger", "sunset"} <= words(doc.text)


def test_blank_image_is_skipped_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.png"
    Image.new("L", (800, 600), 255).save(path)
    with pytest.raises(EmptyFile, match="OCR found no text"):
        read(path)


def test_image_over_the_pixel_limit_is_refused_from_its_header(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("1", (16_000, 10_000), 1).save(path)  # 160 megapixels, a few KB on disk
    with pytest.raises(TooLarge, match="megapixel"):
        read(path)


def truncated_png(path: Path) -> Path:
    buffer = io.BytesIO()
    small_page(ENGLISH[0]).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return path


def test_corrupt_image_fails_with_a_reason_in_the_sandbox(tmp_path: Path) -> None:
    with ExtractorPool(1, timeout=60, ocr=ON) as pool, pytest.raises(Corrupt, match="damaged"):
        pool.extract(truncated_png(tmp_path / "cut.png"))


def test_page_time_limit_skips_the_page_not_the_run(tmp_path: Path) -> None:
    slow = image_pdf(tmp_path / "slow.pdf", [small_page(ENGLISH)])
    quick = tmp_path / "quick.png"
    small_page(ENGLISH[1]).save(quick)
    pages: list[int] = []
    options = OcrOptions(enabled=True, page_timeout_s=0.01)
    with ExtractorPool(1, timeout=60, ocr=options, on_page=lambda p, s: pages.append(p)) as pool:
        with pytest.raises(Corrupt, match=r"OCR took longer than 0\.01 s"):
            pool.extract(slow)  # its only page ran out of time: nothing left to index
        pool.ocr = ON
        assert "marmalade" in pool.extract(quick).text.lower()  # the same worker goes on
    assert pages == [1]


@pytest.mark.slow
def test_60_megapixel_image_within_the_time_and_memory_limits(tmp_path: Path) -> None:
    image = Image.new("L", (10_000, 6_000), 255)
    image.paste(small_page(ENGLISH[1]).resize((3300, 1200)), (300, 300))
    path = tmp_path / "poster.png"
    image.save(path, compress_level=1)
    with ExtractorPool(1, timeout=120, ocr=ON) as pool:  # the default 1 GB per worker
        doc = pool.extract(path)
    assert {"marmalade", "lisbon"} <= words(doc.text)


def test_alarm_inside_an_engines_clean_up_is_still_a_timeout() -> None:
    """The alarm can fire inside pytesseract's ``finally``, which then fails with an
    UnboundLocalError of its own (seen in CI): the page still ran out of time."""
    import time

    from app.extract.ocr.page import PageTimeout, time_limit

    def engine_with_clean_up() -> None:
        try:
            time.sleep(2)
        finally:
            raise UnboundLocalError("cannot access local variable 'f'")

    with pytest.raises(PageTimeout, match="too slow"), time_limit(0.01, "too slow"):
        engine_with_clean_up()
    with pytest.raises(UnboundLocalError), time_limit(5.0, "too slow"):  # no alarm: a bug
        raise UnboundLocalError("x")
