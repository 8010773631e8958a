"""OCR for one file: what the user allowed, what is cached, what it cost.

The extraction worker builds one ``PageReader`` per file from the run's ``OcrOptions`` and
the pages already read for this file's content hash (the cache the indexer keeps in the
index). Extractors ask it for a page's text (``read(page, render)``) only when a page has
no usable text of its own; the image is rendered lazily, so a cached page costs nothing.
What it did travels back with the ``Document`` as an ``OcrReport``: new pages for the
cache, time spent, and pages left unread (OCR off, no engine, over the time limit), so
turning OCR on later re-reads exactly the files that have such pages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from PIL import Image

from app.extract.errors import Corrupt, EmptyFile, ExtractionError, NeedsOcr
from app.extract.ocr.engines import Engine, OcrUnavailable, load_engine
from app.extract.ocr.page import PageTimeout, read_page

log = logging.getLogger(__name__)

DEFAULT_PAGE_TIMEOUT_S = 60.0
#: Renders one page at the given resolution (dpi); images ignore it.
Render = Callable[[int], Image.Image]


@dataclass(frozen=True)
class OcrOptions:
    """The user's OCR choices for a run; picklable, sent to every extraction worker."""

    enabled: bool = False
    engine: str = "auto"
    languages: str = ""  # Tesseract language packs, e.g. "eng+deu"; "" = English
    page_timeout_s: float = DEFAULT_PAGE_TIMEOUT_S
    dpi: int = 0  # PDF pages are rendered at this resolution; 0 = the engine's best


@dataclass
class OcrReport:
    """What OCR did for one file (it travels back to the indexer with the Document)."""

    new_pages: dict[int, str] = field(default_factory=dict)  # page -> text, for the cache
    cached_pages: int = 0
    seconds: float = 0.0
    unread: int = 0  # pages that need OCR and did not get it (off, or no engine)
    timed_out: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # the engine raised on these pages
    reason: str = ""  # why pages were left unread, for the user

    @property
    def pages(self) -> int:
        """Pages actually recognised in this extraction."""
        return len(self.new_pages)


class PageReader:
    """Answers "what does page N say?" from the cache, the engine, or not at all."""

    def __init__(
        self,
        options: OcrOptions,
        cached: Mapping[int, str] | None = None,
        on_page: Callable[[int, float], None] | None = None,
    ) -> None:
        self.options = options
        self.cached = dict(cached or {})
        self.report = OcrReport()
        self._on_page = on_page
        self._engine: Engine | None = None

    def _load(self) -> Engine | None:
        if self._engine is None and not self.report.reason:
            try:
                self._engine = load_engine(self.options.engine, self.options.languages)
            except OcrUnavailable as exc:
                self.report.reason = f"OCR is on, but {exc}"
        return self._engine

    def read(self, page: int, render: Render) -> str | None:
        """Text of ``page`` (1-based), or None when OCR may not or could not read it."""
        if page in self.cached:
            self.report.cached_pages += 1
            return self.cached[page]
        if not self.options.enabled:
            self.report.unread += 1
            self.report.reason = self.report.reason or "needs OCR (off in Settings)"
            return None
        engine = self._load()
        if engine is None:
            self.report.unread += 1
            return None
        started = time.monotonic()
        try:
            image = render(self.options.dpi or engine.dpi)
            result = read_page(image, engine, self.options.page_timeout_s)
        except PageTimeout as exc:
            log.warning("page %d: %s", page, exc)
            self.report.timed_out.append(page)  # not "unread": the next run would time out too
            return None
        except (MemoryError, ExtractionError):
            raise  # the worker's memory limit, or damage found while decoding the image
        except Exception as exc:  # an engine failing on one odd image must not lose the file
            log.warning("OCR of page %d failed: %s: %s", page, type(exc).__name__, exc)
            self.report.failed.append(page)
            return None
        finally:
            self.report.seconds += time.monotonic() - started
        self.report.new_pages[page] = result.text
        if self._on_page is not None:
            self._on_page(page, result.seconds)
        return result.text

    def refusal(self, what: str) -> ExtractionError:
        """Why a file of which no page gave text yields nothing ("what": "scanned PDF")."""
        report = self.report
        if report.unread:
            return NeedsOcr(f"{what}: {report.reason}")
        if report.timed_out:
            limit = self.options.page_timeout_s
            return Corrupt(f"{what}: OCR took longer than {limit:g} s per page")
        if report.failed:
            return Corrupt(f"{what}: OCR failed on it (see the log)")
        return EmptyFile(f"{what}: OCR found no text")
