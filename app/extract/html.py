"""HTML (and EPUB's XHTML): visible text only, block structure and h1-h6 headings kept.

Uses the stdlib ``html.parser``: it never raises on broken markup, which real-world pages
and e-books are full of, and it needs no extra dependency.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from app.extract.errors import EmptyFile
from app.extract.model import Document, DocumentBuilder
from app.extract.text import read_text

# ``button``: "copy" / "Copy to clipboard" buttons on code blocks are page controls, not text.
_HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "button"})
# What documentation generators put beside headings and code: permalink anchors ("#", "¶")
# and source links ("[source]", "[src]"). A link whose whole text is one of these is dropped.
_MARKERS = frozenset({"#", "¶", "§", "🔗", "[source]", "[src]", "[docs]", "link", "permalink"})
_DECORATION_CLASSES = ("headerlink", "anchor", "permalink", "viewcode", "copybtn", "copy-button")
_BLOCK = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "aside",
        "header",
        "footer",
        "nav",
        "main",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "tr",
        "td",
        "th",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "br",
        "hr",
        "form",
        "fieldset",
        "address",
        "details",
        "summary",
        "caption",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "body",
        "html",
        "tbody",
        "thead",
        "tfoot",
    ]
)
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "wbr", "source"})
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_SPACES = re.compile(r"[ \t\r\n\f\v]+")


class _Blocks(HTMLParser):
    """Collects (text, heading_path) blocks; a heading starts a new heading path."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, tuple[str, ...]]] = []
        self.title = ""
        self._hidden = 0
        self._pre = 0
        self._buf: list[str] = []
        self._heading_level = 0
        self._in_title = False
        self._path: list[tuple[int, str]] = []
        self._link_start: int | None = None  # self._buf length where the open <a> began
        self._decorations: list[str] = []  # open tags hidden by their class

    def _flush(self) -> None:
        raw = "".join(self._buf)
        self._buf = []
        text = raw.strip("\n") if self._pre else _SPACES.sub(" ", raw).strip()
        if not text:
            return
        if self._heading_level:
            level = self._heading_level
            self._path = [(lv, t) for lv, t in self._path if lv < level] + [(level, text)]
        self.blocks.append((text, tuple(t for _, t in self._path)))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag == "a":
            self._link_start = len(self._buf)
        if tag not in _HIDDEN and tag not in _VOID and _decoration(attrs):
            self._decorations.append(tag)
            self._hidden += 1
        elif tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCK:
            self._flush()
            self._pre += tag == "pre"
            self._heading_level = _HEADINGS.get(tag, self._heading_level)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag == "a":
            self._drop_marker_link()
        if self._decorations and self._decorations[-1] == tag:
            self._decorations.pop()
            self._hidden = max(0, self._hidden - 1)
        elif tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK:
            self._flush()
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            if tag in _HEADINGS:
                self._heading_level = 0

    def _drop_marker_link(self) -> None:
        """Remove the text of the link just closed when it is only a permalink marker."""
        start, self._link_start = self._link_start, None
        if start is None or start > len(self._buf):
            return
        if "".join(self._buf[start:]).strip().lower() in _MARKERS:
            del self._buf[start:]

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
        elif not self._hidden:
            self._buf.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def _decoration(attrs: list[tuple[str, str | None]]) -> bool:
    """A permalink, source-link or copy-button element, by its class or title."""
    values = {name: (value or "").lower() for name, value in attrs}
    if "permalink" in values.get("title", ""):
        return True
    return any(word in values.get("class", "") for word in _DECORATION_CLASSES)


def html_blocks(markup: str) -> tuple[list[tuple[str, tuple[str, ...]]], str]:
    """Parse markup into visible (text, heading_path) blocks plus the <title>."""
    parser = _Blocks()
    parser.feed(markup)
    parser.close()
    return parser.blocks, parser.title


def add_html(builder: DocumentBuilder, markup: str, prefix: tuple[str, ...] = ()) -> str:
    """Append a page's blocks to ``builder`` under ``prefix``; returns the page title."""
    blocks, title = html_blocks(markup)
    for text, heading in blocks:
        builder.add(text, heading_path=prefix + heading)
    return title


def extract_html(path: Path) -> Document:
    """An HTML file's visible text with its headings."""
    builder = DocumentBuilder()
    title = add_html(builder, read_text(path))
    if builder.empty:
        raise EmptyFile("no visible text")
    return builder.build("html", title=title)
