"""Optical character recognition for scanned pages and photographed documents (opt-in).

``read_page(image, engine, limit)`` turns one page image into text (``page``); engines
(RapidOCR, Tesseract) sit behind ``Engine`` in ``engines``; ``layout`` puts their text lines
in reading order. Nothing here runs unless the user switched OCR on.
"""

from __future__ import annotations

from app.extract.ocr.engines import Engine, OcrUnavailable, load_engine
from app.extract.ocr.page import OcrResult, PageTimeout, read_page

__all__ = ["Engine", "OcrResult", "OcrUnavailable", "PageTimeout", "load_engine", "read_page"]
