"""One page image to text: made readable for the engine, turned upright, in a time limit.

A page may arrive sideways or upside down (scanners feed pages any way round, and photos
carry no orientation the OCR can trust). The first reading decides: when most lines come
back taller than wide, or the recognition scores are poor, the page is read again turned a
quarter, three quarters and half way round, and the best reading (score x characters)
wins. A level page costs one reading; only doubtful pages pay for more.

The time limit is per page and covers every reading of it. In an extraction worker (the
main thread of its process) a timer signal interrupts the engine between its native calls;
elsewhere (tests extracting in-thread) there is no limit, as for the rest of extraction.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image

from app.extract.ocr.engines import Engine
from app.extract.ocr.layout import Box, reading_order

#: Pages whose mean score per character is below this are read again, turned.
DOUBTFUL_SCORE = 0.75
#: A reading with at least this score (and level lines) ends the search for the right way up.
GOOD_SCORE = 0.85
#: Longest side any engine is handed; larger images are scaled down first (memory and time).
MAX_SIDE = 4000
#: Smaller than this on both sides, an image holds no readable text.
MIN_SIDE = 16


class PageTimeout(Exception):
    """OCR of one page ran past its time limit."""


@dataclass(frozen=True)
class OcrResult:
    """The text of one page and what reading it cost."""

    text: str
    score: float  # mean recognition score per character, 0..1
    seconds: float
    turned: int  # degrees (counter-clockwise) the page was turned to read it


@contextlib.contextmanager
def time_limit(seconds: float | None, message: str = "") -> Iterator[None]:
    """Raise ``PageTimeout`` in this thread after ``seconds`` (main thread, POSIX only)."""
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    text = message or f"OCR took longer than {seconds:g} s"
    fired: list[bool] = []

    def on_alarm(signum: int, frame: object) -> None:
        fired.append(True)
        raise PageTimeout(text)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds or 0))
    try:
        yield
    except PageTimeout:
        raise
    except Exception as exc:
        # The alarm can land inside an engine's own clean-up (pytesseract's ``finally``
        # then fails with UnboundLocalError): that is still this page running out of time.
        if fired:
            raise PageTimeout(text) from exc
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def readable(image: Image.Image, max_side: int = MAX_SIDE) -> Image.Image:
    """Grayscale on white, at most ``max_side`` pixels long (transparency becomes paper)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = _to_8bit(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    gray = image.convert("L")
    if max(gray.size) > max_side:
        gray.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return gray


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and float scans stretched into 8 bits (a plain convert would clip them)."""
    import numpy as np

    values = np.asarray(image, dtype=np.float32)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
    return Image.fromarray(scaled.astype(np.uint8), mode="L")


def _score(boxes: list[Box]) -> float:
    chars = sum(len(b.text) for b in boxes)
    return sum(b.score * len(b.text) for b in boxes) / chars if chars else 0.0


def _sideways(boxes: list[Box]) -> bool:
    """Most of the text (by characters) sits in boxes taller than wide."""
    tall = 0
    for box in boxes:
        (x0, _), (x1, y1), (_, y2) = box.points[0], box.points[1], box.points[2]
        width, height = abs(x1 - x0) + 1, abs(y2 - y1) + 1
        tall += len(box.text) if height > 1.5 * width else 0
    return tall > 0.5 * sum(len(b.text) for b in boxes)


def _quality(boxes: list[Box]) -> float:
    """What a reading is worth: characters weighted by their scores, level text only."""
    return 0.0 if _sideways(boxes) else sum(b.score * len(b.text) for b in boxes)


def _doubtful(boxes: list[Box]) -> bool:
    return bool(boxes) and (_sideways(boxes) or _score(boxes) < DOUBTFUL_SCORE)


def _upright(image: Image.Image, engine: Engine, limit: float | None) -> tuple[list[Box], int]:
    """The best reading of ``image`` and the turn that gave it."""
    started = time.monotonic()

    def left() -> float | None:
        return None if limit is None else max(0.01, limit - (time.monotonic() - started))

    best, turned = engine.read(image, left()), 0
    if not _doubtful(best):
        return best, 0
    for turn in (90, 270, 180):
        boxes = engine.read(image.rotate(turn, expand=True), left())
        if _quality(boxes) > _quality(best):
            best, turned = boxes, turn
        if _score(best) >= GOOD_SCORE and not _sideways(best):
            break
    return best, turned


def read_page(image: Image.Image, engine: Engine, limit: float | None = None) -> OcrResult:
    """OCR one page image; raises ``PageTimeout`` past ``limit`` seconds."""
    started = time.monotonic()
    if max(image.size) < MIN_SIDE:
        return OcrResult("", 0.0, 0.0, 0)
    page = readable(image, getattr(engine, "max_side", MAX_SIDE))
    # An engine with a limit of its own (Tesseract's program is killed) gets to use it first.
    alarm = None if limit is None else limit + min(2.0, limit)
    message = f"OCR took longer than {limit or 0:g} s"
    with time_limit(alarm, message):
        try:
            boxes, turned = _upright(page, engine, limit)
        except TimeoutError as exc:
            raise PageTimeout(message) from exc
    return OcrResult(reading_order(boxes), _score(boxes), time.monotonic() - started, turned)
