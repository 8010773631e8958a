"""Turn files into text with structure: a registry of extractors and a sandboxed pool.

Public surface: ``extract_file(path, max_bytes)`` (in-process), ``ExtractorPool`` (worker
processes with a per-file time limit), ``Document``/``Section`` and the ``ExtractionError``
tree in ``app.extract.errors``.
"""

from __future__ import annotations

from app.extract.errors import ExtractionError
from app.extract.model import Document, DocumentBuilder, Section
from app.extract.registry import extract_file, supported_extensions
from app.extract.sandbox import ExtractorPool

__all__ = [
    "Document",
    "DocumentBuilder",
    "ExtractionError",
    "ExtractorPool",
    "Section",
    "extract_file",
    "supported_extensions",
]
