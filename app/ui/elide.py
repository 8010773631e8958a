"""Eliding a heading path ("p. 3 · Guide > Install > Linux") to a width, whole headings at a time.

Qt's own ``elidedText`` cuts wherever the width runs out, often mid-word, and in the middle
mode it drops the end of the path: the last heading, the most specific one, is what tells
two passages of the same document apart. So headings are dropped from the middle ("Guide >
… > Linux"), then the first one too ("… > Linux"); only when the last heading alone does not
fit are its words dropped, from the start, whole words still.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics

SEP = " > "
ELLIPSIS = "…"


def elide_location(text: str, metrics: QFontMetrics, width: int) -> str:
    """``text`` if it fits ``width``, else the most informative shorter form that does."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    for candidate in shorter_paths(text.split(SEP)):
        if metrics.horizontalAdvance(candidate) <= width:
            return candidate
    return elide_words(text.split(SEP)[-1], metrics, width)


def shorter_paths(headings: list[str]) -> list[str]:
    """Forms of the path, most informative first, each keeping the last heading."""
    n = len(headings)
    keep_first = [
        SEP.join([headings[0], ELLIPSIS, *headings[n - k :]]) for k in range(n - 2, 0, -1)
    ]
    drop_first = [SEP.join([ELLIPSIS, *headings[n - k :]]) for k in range(n - 1, 0, -1)]
    return keep_first + drop_first


def elide_words(text: str, metrics: QFontMetrics, width: int) -> str:
    """The last words of ``text`` after "…" that fit; Qt's cut only for a single long word."""
    words = text.split(" ")
    for start in range(1, len(words)):
        candidate = f"{ELLIPSIS} {' '.join(words[start:])}"
        if metrics.horizontalAdvance(candidate) <= width:
            return candidate
    return metrics.elidedText(text, Qt.TextElideMode.ElideLeft, width)
