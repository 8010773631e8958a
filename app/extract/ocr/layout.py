"""Reading order for OCR boxes: columns before rows, lines joined the way their script wants.

Detectors return text lines as boxes in no useful order (RapidOCR sorts them top to bottom,
which interleaves the lines of two columns). ``reading_order`` undoes the page's tilt
(measured from the boxes themselves), then cuts the page recursively: at a vertical gutter
that no box crosses first, else at the widest horizontal gap (a recursive XY-cut); what
cannot be cut further is one block, read line by line. Blocks and paragraph gaps become
blank lines, which the chunker treats as paragraph boundaries.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: A gutter between columns is at least this many line heights wide.
GUTTER_LINES = 1.2
#: A vertical gap larger than this many line heights starts a new paragraph.
PARAGRAPH_LINES = 0.9


@dataclass(frozen=True)
class Box:
    """One recognised run of text and the quadrilateral it was found in (pixels)."""

    points: tuple[tuple[float, float], ...]  # corners, clockwise from top-left
    text: str
    score: float

    @property
    def height(self) -> float:
        """Top to bottom of its corners (pixels)."""
        ys = [y for _, y in self.points]
        return max(ys) - min(ys)

    def scaled(self, factor: float) -> Box:
        """The same box on a page scaled by ``factor``."""
        points = tuple((x * factor, y * factor) for x, y in self.points)
        return Box(points, self.text, self.score)

    @property
    def angle(self) -> float:
        """Slope of the top edge in radians (0 for level text)."""
        (x0, y0), (x1, y1) = self.points[0], self.points[1]
        return math.atan2(y1 - y0, x1 - x0)


@dataclass(frozen=True)
class _Rect:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def middle(self) -> float:
        return (self.y0 + self.y1) / 2


def is_cjk(char: str) -> bool:
    """Chinese, Japanese and Korean characters and their full-width punctuation."""
    code = ord(char)
    return (
        0x2E80 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF
    )


def join_words(words: Sequence[str]) -> str:
    """Words of one line: spaces between them, except between two CJK characters."""
    out = ""
    for word in words:
        if out and not (is_cjk(out[-1]) and is_cjk(word[0])):
            out += " "
        out += word
    return out


def _level(boxes: Sequence[Box]) -> list[_Rect]:
    """Axis-aligned rectangles after turning the page back by its median tilt."""
    wide = [b.angle for b in boxes if len(b.text) > 3] or [b.angle for b in boxes]
    tilt = statistics.median(wide) if wide else 0.0
    cos, sin = math.cos(-tilt), math.sin(-tilt)
    rects = []
    for box in boxes:
        xs = [x * cos - y * sin for x, y in box.points]
        ys = [x * sin + y * cos for x, y in box.points]
        rects.append(_Rect(min(xs), min(ys), max(xs), max(ys), box.text))
    return rects


def _gaps(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Empty stretches between the union of ``spans`` (start, end), as (gap start, gap end)."""
    spans = sorted(spans)
    gaps, reach = [], spans[0][1]
    for start, end in spans[1:]:
        if start > reach:
            gaps.append((reach, start))
        reach = max(reach, end)
    return gaps


def _cut(rects: list[_Rect], line: float) -> list[list[_Rect]]:
    """Blocks in reading order: split at a column gutter first, else the widest row gap."""
    if len(rects) < 2:
        return [rects]
    gutters = [
        g for g in _gaps([(r.x0, r.x1) for r in rects]) if g[1] - g[0] >= GUTTER_LINES * line
    ]
    for gap in gutters:
        left = [r for r in rects if r.x1 <= gap[0]]
        right = [r for r in rects if r.x0 >= gap[1]]
        if len(left) >= 2 and len(right) >= 2:  # columns, not a stray word beside a line
            return _cut(left, line) + _cut(right, line)
    rows = _gaps([(r.y0, r.y1) for r in rects])
    if not rows:
        return [rects]
    widest = max(rows, key=lambda g: g[1] - g[0])
    top = [r for r in rects if r.y1 <= widest[0]]
    bottom = [r for r in rects if r.y0 >= widest[1]]
    return _cut(top, line) + _cut(bottom, line)


def _lines(block: list[_Rect]) -> list[list[_Rect]]:
    """Group a block's rectangles into lines by their vertical middles, top to bottom."""
    lines: list[list[_Rect]] = []
    for rect in sorted(block, key=lambda r: r.middle):
        current = lines[-1] if lines else None
        if current and abs(rect.middle - current[-1].middle) < 0.5 * max(rect.height, 1):
            current.append(rect)
        else:
            lines.append([rect])
    return [sorted(line, key=lambda r: r.x0) for line in lines]


def _bounds(block: list[_Rect]) -> _Rect:
    return _Rect(
        min(r.x0 for r in block), min(r.y0 for r in block),
        max(r.x1 for r in block), max(r.y1 for r in block), "",
    )  # fmt: skip


def _separator(above: _Rect, below: _Rect, line: float) -> str:
    """A line break inside a paragraph, or a blank line between paragraphs and columns."""
    same_column = below.x0 < above.x1 and above.x0 < below.x1
    gap = below.y0 - above.y1
    return "\n" if same_column and 0 <= gap <= PARAGRAPH_LINES * line else "\n\n"


def reading_order(boxes: Sequence[Box]) -> str:
    """The page's text: blocks (columns, paragraphs) in reading order, lines within them."""
    boxes = [b for b in boxes if b.text.strip()]
    if not boxes:
        return ""
    rects = _level(boxes)
    line = statistics.median(r.height for r in rects)
    out: list[str] = []
    previous: _Rect | None = None
    for block in (b for b in _cut(rects, line) if b):
        for row in _lines(block):
            row_bounds = _bounds(row)
            if previous is not None:
                out.append(_separator(previous, row_bounds, line))
            out.append(join_words([r.text for r in row]))
            previous = row_bounds
    return "".join(out)
