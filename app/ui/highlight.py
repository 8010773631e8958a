"""Match spans to escaped HTML, and colour blends, shared by the result rows and the preview."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtGui import QColor

from app.ui.protocols import Span


def blend(a: QColor, b: QColor, share: float) -> QColor:
    """``share`` of ``a`` over ``b``, opaque (Qt rich text drops fractional rgba alpha)."""
    return QColor(
        round(a.red() * share + b.red() * (1 - share)),
        round(a.green() * share + b.green() * (1 - share)),
        round(a.blue() * share + b.blue() * (1 - share)),
    )


def merge_spans(spans: Sequence[Span], length: int) -> list[Span]:
    """Clip spans to ``[0, length)``, sort them and merge overlaps (backends may repeat terms)."""
    clipped = sorted((max(0, s), min(length, e)) for s, e in spans if e > s)
    merged: list[Span] = []
    for start, end in clipped:
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def collapse_spaces(text: str, spans: Sequence[Span]) -> tuple[str, tuple[Span, ...]]:
    """``text`` with each run of whitespace as one space and none leading, as HTML shows it,
    and ``spans`` moved along; a layout that must map positions back to ``text`` (pre-wrap)
    then shows what a browser would."""
    out: list[str] = []
    moved = [0] * (len(text) + 1)
    after_space = True
    for i, ch in enumerate(text):
        moved[i] = len(out)
        if ch.isspace():
            if not after_space:
                out.append(" ")
            after_space = True
        else:
            out.append(ch)
            after_space = False
    moved[len(text)] = len(out)
    clip = [(min(max(s, 0), len(text)), min(max(e, 0), len(text))) for s, e in spans]
    return "".join(out), tuple((moved[s], moved[e]) for s, e in clip if e > s)


def highlight_html(text: str, spans: Sequence[Span], style: str) -> str:
    """``text`` escaped, with each span wrapped in ``<span style=...>``; newlines kept as spaces.

    Escaping happens piecewise so a document containing ``<b>`` never becomes markup.
    """
    out: list[str] = []
    pos = 0
    for start, end in merge_spans(spans, len(text)):
        out.append(html.escape(text[pos:start]))
        out.append(f'<span style="{style}">{html.escape(text[start:end])}</span>')
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\n", " ")
