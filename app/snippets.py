"""Snippets: the chunk's best sentence(s) for a query, with matched terms as spans.

Matching is case-insensitive and accent-insensitive (each character folded to its base
letter, one character for one, so offsets stay valid); CJK terms match as substrings,
word terms at word starts (``index`` finds "indexing"). Latin stopwords ("the", "of") and
one-letter words are not highlighted, unless the query holds nothing else; CJK has no
such filter (one character can be a whole word there).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from storage.fts import split_query

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n{1,}")
MAX_CHARS = 240
MAX_SCAN_CHARS = 65_536

# Function words of the languages Quarry's users mostly write in; matching them marks
# half of every sentence and says nothing about why the chunk was found.
_STOPWORD_TEXT = """
    a about an and are as at be been but by can could did do does for from had has have he
    her his how i if in into is it its me my no not of on or our she so than that the their
    them then there these they this those to too us was we were what when where which who
    why will with would you your
    au aux avec ce ces dans de des du en est et il la le les leur lui ne nous ou par pas
    pour qu que qui sa se ses son sur un une vous
    am auf aus bei das dem den der des die ein eine einem einen einer es für im ist mit
    nicht oder sich sie und von zu zum zur
    al con del el en es las lo los para por se su sus una y
"""


@dataclass(frozen=True)
class Snippet:
    """Text to show and (start, end) spans of matched terms within it."""

    text: str
    spans: list[tuple[int, int]]
    offset: int  # where ``text`` starts inside the chunk


def _fold_char(ch: str) -> str:
    base = unicodedata.normalize("NFD", ch)[0]
    low = base.casefold()
    return low if len(low) == 1 else base.lower()[:1] or ch


def fold(text: str) -> str:
    """Lower-case, accent-free copy of ``text`` with exactly one char per input char."""
    return "".join(_fold_char(c) for c in text)


STOPWORDS = frozenset(fold(w) for w in _STOPWORD_TEXT.split())  # folded: "für" -> "fur"


def query_terms(query: str) -> list[str]:
    """Folded terms to highlight: content words and CJK runs (runs also as 2-char pieces).

    Stopwords are dropped unless every word is one ("The Who"); 1-letter words always.
    """
    words, runs = split_query(query)
    folded = [w for w in dict.fromkeys(fold(w) for w in words) if len(w) > 1]
    content = [w for w in folded if w not in STOPWORDS] or folded
    pieces = [r[i : i + 2] for r in runs if len(r) > 2 for i in range(len(r) - 1)]
    return [t for t in dict.fromkeys([*content, *(fold(t) for t in [*runs, *pieces])]) if t]


def match_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) spans of ``terms`` in ``text``, in order."""
    folded = fold(text)
    spans: list[tuple[int, int]] = []
    for term in sorted(terms, key=len, reverse=True):
        cjk = (not term.isascii() and not term[0].isalpha()) or _is_cjk(term)
        start = folded.find(term)
        while start != -1:
            end = start + len(term)
            at_word_start = start == 0 or not folded[start - 1].isalnum()
            if (cjk or at_word_start) and not any(s < end and start < e for s, e in spans):
                spans.append((start, end))
            start = folded.find(term, start + 1)
    return sorted(spans)


def _is_cjk(term: str) -> bool:
    return any("\u2e80" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af" for c in term)


def _sentences(text: str) -> list[tuple[int, int]]:
    bounds, pos = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > pos:
            bounds.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        bounds.append((pos, len(text)))
    return [(s, e) for s, e in bounds if text[s:e].strip()] or [(0, len(text))]


def best_snippet(text: str, query: str, max_chars: int = MAX_CHARS) -> Snippet:
    """The sentence with the most distinct matched terms, extended by neighbours to fill.

    Only the first ``MAX_SCAN_CHARS`` characters are looked at: folding is per character
    in Python, and a snippet is a glance, not a search of a whole book.
    """
    text = text[:MAX_SCAN_CHARS]
    terms = query_terms(query)
    spans = match_spans(text, terms)
    sentences = _sentences(text)
    folded = fold(text)

    def score(bound: tuple[int, int]) -> tuple[int, int]:
        inside = {folded[s:e] for s, e in spans if bound[0] <= s and e <= bound[1]}
        return len(inside), -bound[0]

    best = max(range(len(sentences)), key=lambda i: score(sentences[i]))
    start, end = sentences[best]
    nxt = best + 1
    while nxt < len(sentences) and sentences[nxt][1] - start <= max_chars:
        end = sentences[nxt][1]
        nxt += 1
    if end - start > max_chars:
        first = next((s for s, e in spans if start <= s < end), start)
        start = max(start, min(first - 40, end - max_chars))
        end = min(end, start + max_chars)
    shown = [(s - start, e - start) for s, e in spans if start <= s and e <= end]
    return Snippet(text=text[start:end], spans=shown, offset=start)
