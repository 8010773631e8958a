"""Plain text, Markdown and source code: decode any encoding, keep headings and code fences.

Decoding order: a BOM wins; then strict UTF-8 (most files today); then UTF-16 without BOM
(recognised by its NUL pattern); then charset-normalizer, whose best guess is accepted only
when it is confident. Bytes that fit nothing raise ``UndecodableText`` instead of being
indexed as mojibake.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from app.extract.errors import EmptyFile, UndecodableText, Unsupported
from app.extract.model import Document, Section, clean_text

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_MAX_CHAOS = 0.2  # charset-normalizer's mess ratio above which a guess is garbage

MARKDOWN_EXTS = frozenset({".md", ".markdown", ".mdown", ".mkd", ".rst", ".adoc", ".org"})
CODE_EXTS = frozenset(
    [
        ".py",
        ".pyi",
        ".js",
        ".jsx",
        ".ts",
        ".tsx",
        ".mjs",
        ".cjs",
        ".java",
        ".kt",
        ".kts",
        ".scala",
        ".go",
        ".rs",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".hpp",
        ".cxx",
        ".cs",
        ".m",
        ".mm",
        ".swift",
        ".rb",
        ".php",
        ".pl",
        ".pm",
        ".lua",
        ".r",
        ".jl",
        ".sh",
        ".bash",
        ".zsh",
        ".fish",
        ".ps1",
        ".bat",
        ".sql",
        ".hs",
        ".ml",
        ".ex",
        ".exs",
        ".erl",
        ".clj",
        ".dart",
        ".vue",
        ".svelte",
        ".css",
        ".scss",
        ".less",
        ".toml",
        ".yaml",
        ".yml",
        ".ini",
        ".cfg",
        ".json",
        ".xml",
        ".gradle",
        ".cmake",
        ".mk",
        ".tex",
        ".proto",
        ".graphql",
    ]
)


def utf16_without_bom(data: bytes) -> str | None:
    """Detect BOM-less UTF-16 by its NULs in every other byte (ASCII-heavy text)."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    for zeros, enc in ((odd, "utf-16-le"), (even, "utf-16-be")):
        if zeros.count(0) > 0.4 * len(zeros):
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                return None
    return None


def decode(data: bytes) -> str:
    """Bytes to str in whatever encoding they were written; raise when none fits."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(enc)
            except UnicodeDecodeError as exc:
                raise UndecodableText(f"invalid {enc} after its byte-order mark") from exc
    if b"\0" in data[:4096]:  # NULs are valid UTF-8, so check UTF-16 first
        text = utf16_without_bom(data)
        if text is not None:
            return text
        raise Unsupported("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None or best.chaos > _MAX_CHAOS:
        raise UndecodableText("not valid UTF-8 and no other text encoding fits")
    # Short Western text fits several code pages equally well; Windows-1252 is by far the
    # most common legacy encoding, so it wins ties.
    for match in matches:
        if match.chaos <= best.chaos + 0.01 and "cp1252" in match.could_be_from_charset:
            return data.decode("cp1252", errors="replace")
    return str(best)


def _normalise(text: str) -> str:
    """Unify line endings so offsets mean the same on every OS; drop control characters."""
    return clean_text(text)


def read_text(path: Path) -> str:
    """Read and decode a text file; blank files raise ``EmptyFile``."""
    text = _normalise(decode(path.read_bytes()))
    if not text.strip():
        raise EmptyFile("no text")
    return text


_HEADING_START = re.compile(r"(#{1,6})([ \t]+)")
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")


def atx_heading(line: str) -> tuple[int, str] | None:
    """(level, title) of an ATX heading line ("## Title ##"), else None.

    Linear time: the obvious pattern ``^(#{1,6})[ \t]+(.+?)[ \t#]*$`` backtracks
    quadratically on a line like ``"# a" + " #" * 150_000`` (minutes per line). This gives
    the same answers: the title is the rest of the line without trailing spaces, tabs and
    #s, and never empty.
    """
    match = _HEADING_START.match(line)
    if match is None:
        return None
    rest = line[match.end() :]
    if not rest:  # only whitespace after the #s: the last blank is the title, if spare
        spaces = match.group(2)
        return (len(match.group(1)), spaces[-1]) if len(spaces) > 1 else None
    return len(match.group(1)), rest.rstrip(" \t#") or rest[0]


def markdown_sections(text: str) -> list[Section]:
    """Split Markdown at ATX headings (outside code fences), tracking the heading path."""
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    start, pos, in_fence = 0, 0, False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else atx_heading(line.rstrip("\n"))
        if heading and pos > start:
            sections.append(Section(start, pos, None, tuple(t for _, t in path)))
            start = pos
        if heading:
            level, title = heading
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
        pos += len(line)
    if pos > start:
        sections.append(Section(start, pos, None, tuple(t for _, t in path)))
    return sections


def extract_plain(path: Path) -> Document:
    """A text file as one section; the chunker finds its paragraphs."""
    text = read_text(path)
    return Document(text, [Section(0, len(text))], "text")


def extract_markdown(path: Path) -> Document:
    """Markdown with one section per heading, so chunks carry their heading path."""
    text = read_text(path)
    title = next((s.heading_path[0] for s in markdown_sections(text) if s.heading_path), "")
    return Document(text, markdown_sections(text), "markdown", title)


def extract_code(path: Path) -> Document:
    """Source code as one "code" section; the chunker cuts at blank lines and definitions."""
    text = read_text(path)
    return Document(text, [Section(0, len(text), kind="code")], "code")


def extract_csv(path: Path) -> Document:
    """CSV/TSV kept verbatim as one "table" section; the chunker cuts between rows."""
    text = read_text(path)
    return Document(text, [Section(0, len(text), kind="table")], "csv")
