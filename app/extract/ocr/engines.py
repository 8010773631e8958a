"""The OCR engines Quarry can drive, behind one small interface, each imported lazily.

    Engine.read(image, time_limit) -> list[Box]      text lines with their corners and score

* ``rapidocr``: RapidOCR on onnxruntime (``pip install 'quarry[ocr]'``): PP-OCRv4 detection
  and recognition models ship inside its wheel (Chinese and English in one model), so
  nothing is downloaded at run time and the bundle can carry it.
* ``tesseract``: Google's Tesseract through ``pytesseract`` when the ``tesseract`` program
  and its language packs are installed by the system (``apt-get install tesseract-ocr
  tesseract-ocr-chi-sim``, Homebrew, the UB Mannheim installer); many more scripts.

Which one ``auto`` picks, and why, is measured in ``benchmarks/ocr.py`` and written down in
the README. ``OcrUnavailable`` says what to install; it is the environment's fault.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from typing import Any, Protocol

from PIL import Image

from app.extract.ocr.layout import Box

ENGINES = ("rapidocr", "tesseract")
#: What the ``ocr`` extra installs, for messages that tell the user how to get it.
INSTALL_HINT = "pip install 'quarry[ocr]'"


class OcrUnavailable(Exception):
    """The chosen engine is not installed; the message names what to install."""


class Engine(Protocol):
    """Reads the text lines of one page image."""

    name: str
    #: Resolution PDF pages are rendered at for this engine (the best one measured).
    dpi: int

    def read(self, image: Image.Image, time_limit: float | None) -> list[Box]:
        """Text lines found on ``image``; may raise ``TimeoutError`` past ``time_limit``."""
        ...


class RapidEngine:
    """RapidOCR with one inference thread: extraction already runs one worker per core."""

    name = "rapidocr"
    #: At 150 dpi its model runs the words of 11-point lines together; from 200 it keeps them.
    dpi = 200
    #: Longest side handed to the detector (its own default); larger pages are scaled down.
    max_side = 2000

    def __init__(self) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise OcrUnavailable(f"RapidOCR is not installed ({INSTALL_HINT})") from exc
        self._ocr = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1,
                             max_side_len=self.max_side)  # fmt: skip

    #: Its recogniser drops word spaces on short text lines: an 11-point page at 150 dpi
    #: (25-pixel line boxes) kept 3 of its 22 spaces, the same page at 1.5x (37 pixels) all
    #: of them. Pages whose lines are shorter than ``min_line`` are read again enlarged.
    min_line = 36
    target_line = 40
    max_enlarge = 2.0

    def read(self, image: Image.Image, time_limit: float | None) -> list[Box]:
        boxes = self._recognise(image)
        # Never past ``max_side``: RapidOCR would shrink the page back to it (and a poster
        # that was shrunk to fit has nothing more to give).
        most = min(self.max_enlarge, self.max_side / max(image.size))
        factor = enlargement(boxes, self.min_line, self.target_line, most)
        if factor <= 1.0:
            return boxes
        size = (round(image.width * factor), round(image.height * factor))
        larger = image.resize(size, Image.Resampling.LANCZOS)
        return [box.scaled(1.0 / factor) for box in self._recognise(larger)]

    def _recognise(self, image: Image.Image) -> list[Box]:
        import numpy as np

        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        # No line classifier: it squeezes each line into 192 pixels and, on long lines,
        # calls level text upside down, which then reads as nothing (measured: a quarter of
        # the lines of a serif page lost). Whole pages are turned in ``page.read_page``.
        result, _ = self._ocr(bgr, use_cls=False)
        return [
            Box(tuple((float(x), float(y)) for x, y in points), str(text), float(score))
            for points, text, score in result or []
        ]


def enlargement(boxes: list[Box], min_line: float, target: float, most: float) -> float:
    """How much to enlarge a page whose median line box is shorter than ``min_line`` pixels
    (to ``target``, at most ``most`` times); 1.0 when its lines are tall enough or none."""
    heights = sorted(box.height for box in boxes)
    if not heights:
        return 1.0
    median = heights[len(heights) // 2]
    if median <= 0 or median >= min_line:
        return 1.0
    return min(most, target / median)


class TesseractEngine:
    """Tesseract, one text line per box.

    ``languages`` ("eng+deu") picks language packs; empty means every pack installed:
    Debian installs English alone, so a user who added packs wants them read. Each extra
    pack costs time (measured: English + Chinese reads English pages 30% slower).
    """

    name = "tesseract"
    dpi = 150

    def __init__(self, languages: str = "") -> None:
        try:
            import pytesseract
        except ImportError as exc:
            raise OcrUnavailable(f"pytesseract is not installed ({INSTALL_HINT})") from exc
        if shutil.which(pytesseract.pytesseract.tesseract_cmd) is None:
            raise OcrUnavailable(
                "the tesseract program is not installed (e.g. apt-get install tesseract-ocr)"
            )
        self._tess = pytesseract
        installed = tesseract_languages()
        asked = languages.split("+") if languages else list(installed)
        wanted = [lang for lang in asked if lang in installed]
        if not wanted:
            raise OcrUnavailable(
                f"Tesseract has no language pack for {languages or 'any language'}"
            )
        self.languages = "+".join(wanted)

    def read(self, image: Image.Image, time_limit: float | None) -> list[Box]:
        try:
            data = self._tess.image_to_data(
                image, lang=self.languages, output_type=self._tess.Output.DICT,
                timeout=time_limit or 0,
            )  # fmt: skip
        except RuntimeError as exc:  # pytesseract reports its own timeout this way
            if "timeout" in str(exc).lower():
                raise TimeoutError(str(exc)) from exc
            raise
        return _tesseract_lines(data)


def _tesseract_lines(data: dict[str, list[Any]]) -> list[Box]:
    """Tesseract's words grouped into its own lines, one box per line."""
    from app.extract.ocr.layout import join_words

    lines: dict[tuple[int, int, int], list[int]] = {}
    for i, word in enumerate(data["text"]):
        if str(word).strip() and float(data["conf"][i]) >= 0:
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            lines.setdefault(key, []).append(i)
    boxes = []
    for members in lines.values():
        x0 = min(data["left"][i] for i in members)
        y0 = min(data["top"][i] for i in members)
        x1 = max(data["left"][i] + data["width"][i] for i in members)
        y1 = max(data["top"][i] + data["height"][i] for i in members)
        text = join_words([str(data["text"][i]).strip() for i in members])
        score = sum(float(data["conf"][i]) for i in members) / len(members) / 100
        corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
        boxes.append(Box(tuple((float(x), float(y)) for x, y in corners), text, score))
    return boxes


@functools.cache
def tesseract_languages() -> tuple[str, ...]:
    """Language packs the installed Tesseract has (empty when there is no Tesseract)."""
    try:
        import pytesseract

        return tuple(sorted(set(pytesseract.get_languages(config="")) - {"osd"}))
    except Exception:  # not installed, or the program fails: then there are none
        return ()


def available(languages: str = "") -> list[str]:
    """Engines that can run here, in the order ``auto`` tries them (nothing is loaded)."""
    return [name for name in AUTO_ORDER if resolve(name, languages) == name]


#: Which engine ``auto`` tries first. Measured in benchmarks/ocr.py (README, "Supported
#: formats"): where the system has it, Tesseract reads Latin text as well or better at about
#: 3x the speed and a sixth of the memory, and keeps word spaces that RapidOCR's model drops
#: on short lines (``RapidEngine`` then reads the page again enlarged, at twice the cost);
#: RapidOCR needs nothing but pip and reads Chinese a little better.
AUTO_ORDER = ("tesseract", "rapidocr")

_LOADERS: dict[str, Callable[[str], Engine]] = {
    "rapidocr": lambda languages: RapidEngine(),
    "tesseract": lambda languages: TesseractEngine(languages),
}


def auto_order(languages: str = "") -> tuple[str, ...]:
    """``AUTO_ORDER``, unless Tesseract lacks a language pack asked for (Chinese, say):
    then RapidOCR goes first, as it may read what Tesseract here cannot."""
    if not languages or not shutil.which("tesseract"):
        return AUTO_ORDER
    installed = tesseract_languages()
    if all(lang in installed for lang in languages.split("+")):
        return AUTO_ORDER
    return tuple(sorted(AUTO_ORDER, key=lambda name: name != "rapidocr"))


def resolve(name: str = "auto", languages: str = "") -> str | None:
    """The engine ``name`` would load here, judged without loading it (None: none)."""
    import importlib.util

    candidates = auto_order(languages) if name == "auto" else (name,)
    for candidate in candidates:
        if candidate == "rapidocr" and importlib.util.find_spec("rapidocr_onnxruntime"):
            return candidate
        if candidate == "tesseract" and importlib.util.find_spec("pytesseract"):
            installed = tesseract_languages()
            asked = languages.split("+") if languages else list(installed)
            if any(lang in installed for lang in asked):
                return candidate
    return None


#: Address space an extraction worker needs on top of its usual limit, per engine: RapidOCR's
#: detector peaks near 1 GB on a 2000-pixel page (measured: VmPeak 1.05 GB, RSS 0.9 GB);
#: Tesseract runs as a program of its own, under the same per-process limit.
EXTRA_MEMORY = {"rapidocr": 1024 * 1024 * 1024, "tesseract": 0}


def memory_needed(name: str = "auto", languages: str = "") -> int:
    """Extra bytes of address space the engine ``name`` needs in an extraction worker."""
    return EXTRA_MEMORY.get(resolve(name, languages) or "", 0)


@functools.cache
def load_engine(name: str = "auto", languages: str = "") -> Engine:
    """The engine called ``name`` (loaded once per process), or the first installed one."""
    if name == "auto":
        for candidate in auto_order(languages):
            try:
                return load_engine(candidate, languages)
            except OcrUnavailable:
                continue
        raise OcrUnavailable(f"no OCR engine is installed ({INSTALL_HINT})")
    if name not in _LOADERS:
        raise OcrUnavailable(f"unknown OCR engine {name!r} (choose from {', '.join(ENGINES)})")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract's OpenMP: one core per worker
    return _LOADERS[name](languages)
