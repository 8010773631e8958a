"""Cut documents into token-sized chunks at the best structural boundary, with exact offsets.

Each page (slide, sheet) is tokenized once with the active model's tokenizer; every token
boundary gets a score (section start > blank line > line end > sentence end > any token),
and a chunk ends at the best-scoring boundary inside its token budget. Chunks never cross
a page, keep ``text == document.text[start:end]``, and carry page and heading path.
Consecutive chunks inside one section share ``overlap_tokens`` tokens; a chunk that ends at
a section boundary needs no overlap, because the next section starts a new topic.

The embedded text may be prefixed with the heading path (``heading_prefix``), which helps
retrieval of short sections; the stored text stays the exact span. ``CHUNKER_VERSION`` and
the prefix flag belong in the index fingerprint: changing either changes every vector.

Size is bounded in characters too, because a token can be arbitrarily long (a tokenizer
maps a 95 MB word without spaces to one [UNK] token): no chunk is longer than
``max_chars``, cut at whitespace when there is some and hard otherwise. A page longer than
``SLICE_CHARS`` is tokenized a slice at a time, cut at a paragraph or line break near the
slice end, so memory stays flat whatever the page length. Both rules only change chunks of
text that ordinary prose never produces, so the chunker version stays the same.

Chunking a huge text takes a while (about 0.7 s per MB), so ``chunk`` takes a cancel check,
polled before each slice and each page: Ctrl-C then stops a run within a slice's time
instead of after the whole document (``ChunkingCancelled``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from app.extract.model import Document, Section
from engine.protocols import Tokenizer

CHUNKER_VERSION = "1"

# Boundary scores: higher is a better place to cut.
SECTION, PARAGRAPH, DEFINITION, LINE, SENTENCE, TOKEN = 6, 5, 4, 3, 1, 0

_BLANK_LINE = re.compile(r"\n[ \t]*\n\s*")
_LINE = re.compile(r"\n")
# Latin full stops need the space after them (3.14, e.g.); CJK ones end a sentence as they
# are, since Chinese and Japanese put no space between sentences.
_SENTENCE = re.compile(r"[.!?;:][\"'”’)\]]*\s+|[。！？；][」』”’)\]）]*\s*")
_TOP_LEVEL = re.compile(r"\n[ \t]*\n(?=\S)")  # blank line before an unindented line
_FENCE = re.compile(r"^[ \t]{0,3}(?:```|~~~).*$", re.MULTILINE)

#: Characters tokenized at once; a longer page is cut into slices at a good boundary.
SLICE_CHARS = 256_000
#: Characters per token above which text is not prose (the default ``max_chars`` ratio).
MAX_CHARS_PER_TOKEN = 16


class ChunkingCancelled(Exception):
    """The caller's cancel check said stop; no chunks of the document are returned."""


def _never() -> bool:
    return False


@dataclass(frozen=True)
class ChunkerConfig:
    """Chunk size in model tokens; ``target_tokens`` includes the heading prefix."""

    target_tokens: int = 384
    overlap_tokens: int = 48
    heading_prefix: bool = True
    #: A chunk is never cut shorter than this share of the budget, except at a page end.
    min_fill: float = 0.25
    #: Most characters in one chunk; 0 means ``MAX_CHARS_PER_TOKEN * target_tokens``.
    max_chars: int = 0
    #: Tokens in the lead of a file's first chunk, embedded as a second vector (0: none).
    #: 96 measured best of 48/64/96/128/160 on the pydoc tuning set (``app/leads.py``).
    lead_tokens: int = 96

    @property
    def char_limit(self) -> int:
        """The effective ``max_chars``."""
        return self.max_chars or MAX_CHARS_PER_TOKEN * self.target_tokens

    def fingerprint(self) -> str:
        """The part of the index fingerprint that the chunker contributes."""
        prefix = "prefix" if self.heading_prefix else "noprefix"
        return f"chunker{CHUNKER_VERSION}-{self.target_tokens}-{self.overlap_tokens}-{prefix}"


@dataclass(frozen=True)
class ChunkDraft:
    """A span of a document plus what gets embedded for it, as the chunker cuts it (written
    as a ``storage.models.NewChunk``, read back as a ``storage.models.Chunk``)."""

    ordinal: int
    text: str  # == document.text[start:end]
    start: int
    end: int
    page: int | None
    heading_path: tuple[str, ...]
    embed_text: str  # text, optionally prefixed by the heading path
    token_count: int  # tokens of ``text`` (prefix excluded)
    content_hash: str  # sha256 of embed_text: the key for embedding reuse
    ocr: bool = False  # the text was recognised in an image (a page never mixes both)
    lead_end: int | None = None  # first chunk only: where its lead ends in ``text`` (0: none)
    lead_hash: str | None = None  # the lead's content hash, when it has one


#: Joins a heading path into the label stored with each chunk ("Guide > Install").
HEADING_SEPARATOR = " > "
#: Longest heading kept in a label: a 300,000-character "heading" line would otherwise be
#: stored with, and embedded before, every chunk under it.
MAX_HEADING_CHARS = 200


def _short(title: str) -> str:
    if len(title) <= MAX_HEADING_CHARS:
        return title
    return title[: MAX_HEADING_CHARS - 1].rstrip() + "\u2026"


def heading_label(heading_path: Sequence[str]) -> str:
    """The heading path as one label, exactly as the store keeps it ("" when none)."""
    return HEADING_SEPARATOR.join(_short(title) for title in heading_path)


def embedded_text(
    chunk_text: str, heading_path: Sequence[str] | str | None, heading_prefix: bool
) -> str:
    """The text embedded (and hashed) for a chunk: the one heading-prefix rule.

    ``heading_path`` is the chunk's path tuple, or the stored label (already joined, as
    ``storage.models.Chunk.heading`` has it); both give the same text, so the indexer and a
    rebuild from stored chunks produce the same ``content_hash`` and so reuse each other's
    vectors.
    """
    label = heading_path if isinstance(heading_path, str) else heading_label(heading_path or ())
    if not heading_prefix or not label:
        return chunk_text
    return f"{label}\n\n{chunk_text}"


def content_hash(embed_text: str) -> str:
    """Stable key of an embedded text; identical text anywhere reuses one vector."""
    return hashlib.sha256(embed_text.encode("utf-8")).hexdigest()


def _regions(doc: Document) -> Iterator[tuple[int | None, list[Section]]]:
    """Runs of consecutive sections on the same page: the chunker's hard boundaries."""
    run: list[Section] = []
    for section in doc.sections:
        if run and section.page != run[0].page:
            yield run[0].page, run
            run = []
        run.append(section)
    if run:
        yield run[0].page, run


def _fences(text: str) -> list[tuple[int, int]]:
    """(start, end) char ranges of fenced code blocks in Markdown-ish text."""
    marks = [m.start() for m in _FENCE.finditer(text)]
    return [(marks[i], marks[i + 1]) for i in range(0, len(marks) - 1, 2)]


def _section_breaks(text: str, section: Section, base: int) -> Iterator[tuple[int, int]]:
    """(char position relative to region, score) of every candidate cut in one section."""
    body = text[section.start - base : section.end - base]
    offset = section.start - base
    patterns: tuple[tuple[re.Pattern[str], int], ...]
    if section.kind == "code":
        patterns = ((_TOP_LEVEL, PARAGRAPH), (_BLANK_LINE, DEFINITION), (_LINE, LINE))
    elif section.kind == "table":
        patterns = ((_BLANK_LINE, PARAGRAPH), (_LINE, DEFINITION))
    else:
        patterns = ((_BLANK_LINE, PARAGRAPH), (_LINE, LINE), (_SENTENCE, SENTENCE))
    fences = _fences(body) if section.kind == "text" else []
    for pattern, score in patterns:
        for match in pattern.finditer(body):
            pos = match.end()
            inside = any(a < pos <= b for a, b in fences)
            yield offset + pos, min(score, LINE) if inside else score
    for a, b in fences:  # just before a fence and just after it are good cuts
        yield offset + a, PARAGRAPH
        yield offset + b, DEFINITION


def _clip(sections: list[Section], start: int, end: int) -> list[Section]:
    """The parts of ``sections`` inside [start, end)."""
    return [
        replace(s, start=max(s.start, start), end=min(s.end, end))
        for s in sections
        if s.start < end and start < s.end
    ]


def _cut_near(text: str, lo: int, hi: int) -> int:
    """The best place to cut ``text`` in (lo, hi]: after a blank line, a line, a space."""
    for mark in ("\n\n", "\n"):
        at = text.rfind(mark, lo, hi)
        if at > lo:
            return at + len(mark)
    at = max(text.rfind(" ", lo, hi), text.rfind("\t", lo, hi))
    return at + 1 if at > lo else hi


def _slices(text: str, sections: list[Section], limit: int) -> Iterator[list[Section]]:
    """One page's sections cut into runs of at most ``limit`` characters."""
    pos, stop = sections[0].start, sections[-1].end
    while stop - pos > limit:
        cut = _cut_near(text, pos + limit // 2, pos + limit)
        yield _clip(sections, pos, cut)
        pos = cut
    yield _clip(sections, pos, stop) if pos > sections[0].start else sections


def _hard_pieces(text: str, start: int, end: int, limit: int) -> Iterator[tuple[int, int]]:
    """[start, end) cut into spans of at most ``limit`` characters, at spaces when any."""
    while end - start > limit:
        cut = _cut_near(text, start + limit // 2, start + limit)
        yield start, cut
        start = cut
    yield start, end


class Chunker:
    """Splits ``Document``s into ``ChunkDraft``s for one tokenizer and configuration."""

    def __init__(self, tokenizer: Tokenizer, config: ChunkerConfig | None = None) -> None:
        self.tokenizer = tokenizer
        self.config = config or ChunkerConfig()
        self._prefix_cost: dict[tuple[str, ...], int] = {}

    def prefix(self, heading_path: tuple[str, ...]) -> str:
        """The text put before a chunk when embedding it (empty when disabled)."""
        return embedded_text("", heading_path, self.config.heading_prefix)

    def _budget(self, heading_path: tuple[str, ...]) -> int:
        """Tokens left for the chunk body once its heading prefix is paid for."""
        if heading_path not in self._prefix_cost:
            self._prefix_cost[heading_path] = self.tokenizer.count(self.prefix(heading_path))
        spare = self.config.target_tokens - self._prefix_cost[heading_path]
        return max(spare, self.config.target_tokens // 2, 8)

    def chunk(self, doc: Document, cancelled: Callable[[], bool] = _never) -> list[ChunkDraft]:
        """All chunks of ``doc`` in reading order, ordinals from 0.

        Raises ``ChunkingCancelled`` once ``cancelled()`` is true (checked per page and per
        slice of ``SLICE_CHARS``, a fraction of a second of work each).
        """
        chunks: list[ChunkDraft] = []
        for page, sections in _regions(doc):
            ocr = any(section.ocr for section in sections)
            for start, end, heading, count in self._chunk_region(doc.text, sections, cancelled):
                body = doc.text[start:end]
                embed = embedded_text(body, heading, self.config.heading_prefix)
                chunks.append(
                    ChunkDraft(
                        len(chunks), body, start, end, page, heading, embed, count,
                        content_hash(embed), ocr,
                    )
                )  # fmt: skip
        if chunks:
            first = chunks[0]
            end, digest = self.lead(first.text, first.heading_path) or (0, None)
            chunks[0] = replace(first, lead_end=end, lead_hash=digest)
        return chunks

    def lead(self, text: str, heading: Sequence[str] | str | None) -> tuple[int, str] | None:
        """(end, content hash) of the lead of a first chunk ``text``: its opening
        ``lead_tokens`` tokens, which get a vector of their own (``app/leads.py`` says why).

        None when the chunk is at most twice as long as its lead: its own vector is focused
        enough (measured on the pydoc tuning set: leads for chunks over 2x gave MRR@10 0.714,
        over 1.25x 0.704, with 55 instead of 70 extra texts). ``heading`` is the chunk's
        heading path or stored label; the lead is embedded with the same prefix as its chunk.
        """
        n = self.config.lead_tokens
        if n <= 0:
            return None
        spans = self.tokenizer.token_spans(text[: (2 * n + 1) * MAX_CHARS_PER_TOKEN])
        if len(spans) <= 2 * n:
            return None
        end = len(text[: spans[n - 1][1]].rstrip())
        if end <= 0:
            return None
        return end, content_hash(embedded_text(text[:end], heading, self.config.heading_prefix))

    def _chunk_region(
        self, full_text: str, sections: list[Section], cancelled: Callable[[], bool]
    ) -> Iterator[tuple[int, int, tuple[str, ...], int]]:
        """(start, end, heading_path, tokens) of each chunk of one page's sections."""
        for part in _slices(full_text, sections, SLICE_CHARS):
            if cancelled():
                raise ChunkingCancelled
            for start, end, heading, count in self._chunk_slice(full_text, part):
                if end - start <= self.config.char_limit:
                    yield start, end, heading, count
                    continue
                # One token longer than the character limit: hard cut.
                for a, b in _hard_pieces(full_text, start, end, self.config.char_limit):
                    piece = full_text[a:b].strip()
                    if piece:
                        a += len(full_text[a:b]) - len(full_text[a:b].lstrip())
                        yield a, a + len(piece), heading, self.tokenizer.count(piece)

    def _chunk_slice(
        self, full_text: str, sections: list[Section]
    ) -> Iterator[tuple[int, int, tuple[str, ...], int]]:
        """(start, end, heading_path, tokens) of each chunk of one slice of a page."""
        base, stop = sections[0].start, sections[-1].end
        text = full_text[base:stop]
        spans = self.tokenizer.token_spans(text)
        if not spans:
            return
        starts = np.fromiter((s for s, _ in spans), dtype=np.int64, count=len(spans))
        ends = np.fromiter((e for _, e in spans), dtype=np.int64, count=len(spans))
        scores = self._scores(text, sections, base, ends)
        section_starts = np.array([s.start - base for s in sections], dtype=np.int64)
        for i, j in self._windows(scores, starts, ends, section_starts, sections):
            start, end = int(starts[i]), int(ends[j - 1])
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if start < end:
                heading = sections[int(np.searchsorted(section_starts, start, "right")) - 1]
                yield base + start, base + end, heading.heading_path, j - i

    def _scores(
        self, text: str, sections: list[Section], base: int, ends: NDArray[np.int64]
    ) -> NDArray[np.int8]:
        """Score of cutting before token k, for every k (index len(ends) = region end).

        A boundary at char ``pos`` maps to the first token that does not end by ``pos``:
        BPE tokens carry their leading space (" Next"), so "first token starting at or
        after pos" would skip a word.
        """
        scores = np.zeros(len(ends) + 1, dtype=np.int8)
        positions: list[int] = []
        values: list[int] = []
        for index, section in enumerate(sections):
            if index:
                positions.append(section.start - base)
                values.append(SECTION)
            for pos, score in _section_breaks(text, section, base):
                positions.append(pos)
                values.append(score)
        if positions:
            tokens = np.searchsorted(ends, np.array(positions, dtype=np.int64), "right")
            np.maximum.at(scores, tokens, np.array(values, dtype=np.int8))
        scores[0] = TOKEN
        scores[-1] = SECTION
        return scores

    def _windows(
        self,
        scores: NDArray[np.int8],
        starts: NDArray[np.int64],
        ends: NDArray[np.int64],
        section_starts: NDArray[np.int64],
        sections: list[Section],
    ) -> Iterator[tuple[int, int]]:
        """Token ranges [i, j) of each chunk: greedy, best boundary within the budget.

        The budget is the token budget, shrunk to the tokens that end within
        ``char_limit`` characters of the chunk start (at least one token).
        """
        n = len(starts)
        i = 0
        while i < n:
            section = sections[int(np.searchsorted(section_starts, starts[i], "right")) - 1]
            fit = int(np.searchsorted(ends, starts[i] + self.config.char_limit, "right")) - i
            budget = max(1, min(self._budget(section.heading_path), fit))
            if n - i <= budget:
                yield i, n
                return
            lo = i + max(1, int(budget * self.config.min_fill))
            window = scores[lo : i + budget + 1]
            j = lo + len(window) - 1 - int(np.argmax(window[::-1]))
            yield i, j
            overlap = min(self.config.overlap_tokens, budget // 2)
            i = j if scores[j] >= SECTION or overlap <= 0 else max(j - overlap, i + 1)
