"""The extracted form of a file: one text plus sections with exact character offsets.

Every extractor builds its ``Document`` through ``DocumentBuilder`` so offsets are correct by
construction: the chunker and the preview both slice ``text[start:end]`` and trust the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.extract.ocr.reader import OcrReport

# PDFium marks a word hyphenated across a line break with \x02 (and drops the hyphen);
# the soft hyphen U+00AD is invisible where the word is whole. Both join the word halves.
_HYPHEN_BREAK = re.compile(r"\x02[ \t]*(?:\r\n|\r|\n)?[ \t]*|\xad(?:[ \t]*(?:\r\n|\r|\n)[ \t]*)?")
# Line and page breaks in other spellings (python-pptx gives \v for a line break).
_BREAKS = re.compile(r"\r\n|[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# Every other C0/C1 control character: never visible text, and they break keyword matching.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")


def clean_text(text: str) -> str:
    """Text as people read it: hyphenated words joined, breaks as \\n, controls dropped."""
    text = _HYPHEN_BREAK.sub("", text)
    return _CONTROLS.sub("", _BREAKS.sub("\n", text))


@dataclass(frozen=True)
class Section:
    """A span of ``Document.text`` sharing one page/slide/sheet and heading path.

    ``kind`` tells the chunker how to cut inside it: "text" at paragraphs and sentences,
    "code" at blank lines and definitions, "table" at rows.
    """

    start: int
    end: int
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    kind: str = "text"
    #: The text was recognised in an image (OCR), not read from the file's own text.
    ocr: bool = False


@dataclass
class Document:
    """Plain text of a file and its structure; ``sections`` are ordered and disjoint."""

    text: str
    sections: list[Section]
    format: str
    title: str = ""
    #: What ``Section.page`` counts: "page" (PDF), "slide" (PPTX), "sheet" (XLSX) or "".
    page_unit: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    #: What OCR did for this file (None when no page needed it).
    ocr: OcrReport | None = None


class DocumentBuilder:
    """Appends blocks of text, recording each block's exact offsets as a ``Section``.

    Consecutive blocks with the same page, heading path and kind are merged into one
    section so the chunker sees whole runs of prose, not one section per paragraph.
    """

    def __init__(self, separator: str = "\n\n") -> None:
        self._parts: list[str] = []
        self._pos = 0
        self._sections: list[Section] = []
        self._sep = separator

    def add(
        self,
        text: str,
        *,
        page: int | None = None,
        heading_path: tuple[str, ...] = (),
        kind: str = "text",
        ocr: bool = False,
    ) -> None:
        """Append one block; blank blocks are dropped (they carry nothing to search)."""
        text = clean_text(text).strip("\n")
        heading_path = tuple(clean_text(h) for h in heading_path)
        if not text.strip():
            return
        if self._parts:
            self._parts.append(self._sep)
            self._pos += len(self._sep)
        start = self._pos
        self._parts.append(text)
        self._pos += len(text)
        prev = self._sections[-1] if self._sections else None
        if (
            prev is not None
            and prev.page == page
            and prev.heading_path == heading_path
            and prev.kind == kind
            and prev.ocr == ocr
            and prev.end + len(self._sep) == start
        ):
            self._sections[-1] = Section(prev.start, self._pos, page, heading_path, kind, ocr)
        else:
            self._sections.append(Section(start, self._pos, page, heading_path, kind, ocr))

    @property
    def empty(self) -> bool:
        """True while nothing but blank blocks has been added."""
        return not self._parts

    def build(self, fmt: str, *, title: str = "", page_unit: str = "") -> Document:
        """The finished document; the builder must not be used afterwards."""
        return Document("".join(self._parts), self._sections, fmt, title, page_unit)
