"""Images as documents: photos and scans of pages, whose text only OCR can read.

Pillow opens PNG, JPEG, TIFF, WebP and BMP (and HEIC/HEIF when ``pillow-heif`` is
installed); each frame of a multi-page TIFF is a page. Frames are decoded only when OCR
will read them (opening reads the header alone, so an image skipped because OCR is off
costs nothing), JPEGs are decoded straight at a reduced scale, and the EXIF orientation a
camera records is applied before reading, so a portrait photo is read upright.

Refusals: more than ``MAX_PIXELS`` (checked from the header, before any decoding),
damaged data, OCR off or not installed (``NeedsOcr``: remembered, re-read when OCR is
switched on), and images in which OCR finds no text.
"""

from __future__ import annotations

import contextlib
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from app.extract.errors import Corrupt, NeedsOcr, TooLarge, Unsupported
from app.extract.model import Document, DocumentBuilder
from app.extract.ocr.page import MAX_SIDE
from app.extract.ocr.reader import OcrOptions, PageReader

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".heic", ".heif")
#: Largest image read (pixels, from its header): beyond any camera or page scanner.
MAX_PIXELS = 150_000_000
#: Pages of one multi-page TIFF read at most (a fax archive, not a movie).
MAX_FRAMES = 2000
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_DAMAGE = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)


def image_kind(head: bytes, suffix: str) -> str | None:
    """The image format named by the first bytes ("PNG", "JPEG", ...), or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head.startswith(b"BM") and suffix == ".bmp":  # two letters alone are too weak a sign
        return "BMP"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


def heif_support() -> bool:
    """Register pillow-heif's HEIC/HEIF opener when that optional package is installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """Open (header only), refusing unknown, damaged and oversized images clearly."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise TooLarge(f"image too large to read ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise Corrupt("damaged or unknown image data") from exc
    except _DAMAGE as exc:
        if isinstance(exc, (PermissionError, FileNotFoundError)):
            raise
        raise Corrupt(f"damaged image: {exc}") from exc
    with image:
        pixels = image.width * image.height
        if pixels > MAX_PIXELS:
            raise TooLarge(f"image of {pixels / 1e6:.0f} megapixels exceeds the "
                           f"{MAX_PIXELS / 1e6:.0f}-megapixel limit")  # fmt: skip
        yield image


def frame(image: Image.Image, index: int) -> Image.Image:
    """Frame ``index`` decoded (JPEG at a reduced scale) and turned as its EXIF says."""
    try:
        image.seek(index)
        if image.format == "JPEG":
            image.draft("L", (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            upright = ImageOps.exif_transpose(image)
    except MemoryError:
        raise
    except _DAMAGE as exc:
        raise Corrupt(f"damaged image: {exc}") from exc
    return upright if upright is not None else image


def _frames(image: Image.Image) -> int:
    """Pages to read: every frame of a TIFF, the first frame of anything else."""
    if image.format != "TIFF":
        return 1
    return max(1, min(int(getattr(image, "n_frames", 1)), MAX_FRAMES))


def _read(image: Image.Image, reader: PageReader) -> DocumentBuilder:
    builder = DocumentBuilder()
    count = _frames(image)
    for index in range(count):

        def render(dpi: int, index: int = index) -> Image.Image:
            return frame(image, index)  # an image has its own resolution

        text = reader.read(index + 1, render)
        if text:
            builder.add(text, page=index + 1 if count > 1 else None, ocr=True)
    return builder


def extract_image(path: Path, ocr: PageReader | None = None) -> Document:
    """The text OCR finds in each page of the image; one section per page."""
    reader = ocr or PageReader(OcrOptions())
    if not reader.options.enabled and not reader.cached:
        # Not even opened: with OCR off an image is neither good nor bad, just unread.
        kind = path.suffix.lstrip(".").upper() or "an"
        raise NeedsOcr(f"{kind} image: needs OCR (off in Settings)")
    if not heif_support() and path.suffix.lower() in (".heic", ".heif"):
        raise Unsupported("HEIC image (install pillow-heif to read it)")
    with _opened(path) as image:
        what = f"{image.format or 'image'} image"
        builder = _read(image, reader)
        pages = _frames(image)
    if builder.empty:
        raise reader.refusal(what)
    document = builder.build("image", page_unit="page" if pages > 1 else "")
    document.ocr = reader.report
    return document
