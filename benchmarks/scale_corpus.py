"""A large corpus of real text for ``scale.py``: paragraphs of this machine's documentation.

Paragraphs come from Python's help topics (``pydoc_data``) and the system's own manuals
(Debian's ``/usr/share/doc`` READMEs, changelogs, copyright files; ``/usr/share/info``),
so tokenisation, keyword statistics and chunk boundaries are those of real prose and
code. Each generated file strings random paragraphs together (seeded, so the corpus is
the same on every run), one in three as Markdown with headings; modification times are
spread over a year so "recently modified first" has something to order.
"""

from __future__ import annotations

import gzip
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

SOURCES = (Path("/usr/share/doc"), Path("/usr/share/info"))
TEXT_NAMES = re.compile(
    r"(readme|changelog|news|copyright|changes|authors|todo|faq|\.txt|\.md|\.rst|\.info)",
    re.IGNORECASE,
)
_PARAGRAPH = re.compile(r"\n\s*\n")
YEAR_S = 365 * 24 * 3600


def _read(path: Path, limit: int = 2_000_000) -> str:
    try:
        if path.suffix == ".gz":
            with gzip.open(path) as fh:
                raw = fh.read(limit)
        else:
            raw = path.read_bytes()[:limit]
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""
    text = raw.decode("utf-8", errors="ignore")
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in text[:4000])
    return text if text and printable / min(len(text), 4000) > 0.97 else ""


def _documents() -> Iterator[str]:
    from pydoc_data.topics import topics

    yield from topics.values()
    for root in SOURCES:
        for folder, _, names in os.walk(root):
            for name in sorted(names):
                if TEXT_NAMES.search(name):
                    yield _read(Path(folder) / name)


def paragraphs(min_chars: int = 60, max_chars: int = 3000) -> list[str]:
    """Distinct real paragraphs, in a stable order."""
    seen: dict[str, None] = {}
    for document in _documents():
        for part in _PARAGRAPH.split(document):
            part = part.strip("\n")
            if min_chars <= len(part.strip()) <= max_chars:
                seen.setdefault(part, None)
    return list(seen)


def _file_text(rng: random.Random, pool: list[str], chars: int, markdown: bool) -> str:
    parts: list[str] = []
    size = 0
    if markdown:
        parts.append(f"# {rng.choice(pool).split(chr(10))[0][:60].strip('# ')}")
    while size < chars:
        if markdown and rng.random() < 0.2:
            parts.append(f"## {rng.choice(pool).split(chr(10))[0][:50].strip('# ')}")
        para = rng.choice(pool)
        parts.append(para)
        size += len(para)
    return "\n\n".join(parts) + "\n"


def write_corpus(folder: Path, files: int, chars_per_file: int, seed: int = 9) -> int:
    """``files`` documents of about ``chars_per_file`` characters in 100-file subfolders.

    Returns the bytes written. Deterministic for a given seed and this machine's docs.
    """
    pool = paragraphs()
    rng = random.Random(seed)
    now = 1_760_000_000.0
    written = 0
    for i in range(files):
        sub = folder / f"d{i // 100:04d}"
        if i % 100 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        markdown = i % 3 == 0
        size = int(chars_per_file * rng.uniform(0.3, 1.7))
        text = _file_text(rng, pool, size, markdown)
        path = sub / f"doc{i:06d}.{'md' if markdown else 'txt'}"
        path.write_text(text, encoding="utf-8")
        mtime = now - rng.random() * YEAR_S
        os.utime(path, (mtime, mtime))
        written += len(text.encode("utf-8"))
    return written
