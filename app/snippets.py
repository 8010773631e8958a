"""Snippets: the chunk's best sentence(s) for a query, with matched terms as spans.

Highlights follow the units keyword search matches on (``storage.lexical``):

- words match case- and accent-insensitively at word starts, and so do their Snowball
  stems in the languages the query plausibly is in; the whole word is marked, so
  ``index`` marks "indexing" and "Prozesse beenden" marks "beendet" and "Prozess";
- CJK runs are split into the same overlapping bigrams the index holds; every occurrence
  is marked and overlapping ones merge, so "机器学习" marks the whole word wherever it
  stands and also a lone "学习".

Folding keeps one character for one, so offsets stay valid; it strips accents of
alphabetic scripts only: kana voicing marks and Hangul syllables are kept whole (NFD
would turn が into か and 한 into its first jamo, matching unrelated syllables).
Latin stopwords ("the", "of") and one-letter words are not highlighted, unless the query
holds nothing else; CJK has no such filter (one character can be a whole word there).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from storage import lexical

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n{1,}")
MAX_CHARS = 240
MAX_SCAN_CHARS = 65_536

# Function words of the languages Quarry's users mostly write in; matching them marks
# half of every sentence and says nothing about why the chunk was found. (Broader than
# the keyword query's stopwords: "who" or "how" can be what a search is about, but marking
# every "who" in a snippet helps nobody.)
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


MIN_STEM = 4  # shorter stems ("le" from "les") would mark the start of too many words


@functools.lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    wide = unicodedata.normalize("NFKC", ch)  # full-width Ｌ -> L, half-width ｶ -> カ
    ch = wide if len(wide) == 1 else ch
    if lexical.is_cjk(ch):
        return ch
    base = unicodedata.normalize("NFD", ch)[0]
    low = base.casefold()
    return low if len(low) == 1 else base.lower()[:1] or ch


class _FoldTable(dict[int, str]):
    """``str.translate`` table that folds each character the first time it is seen."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """Lower-case, accent-free copy of ``text`` with exactly one char per input char.

    ``str.translate`` over a growing table runs the per-character loop in C: a 30 kB
    passage with one non-ASCII character folds in microseconds, not milliseconds.
    """
    if text.isascii():
        return text.lower()
    return text.translate(_FOLD)


STOPWORDS = frozenset(fold(w) for w in _STOPWORD_TEXT.split())  # folded: "für" -> "fur"


def query_terms(query: str) -> list[str]:
    """Folded terms to highlight: content words, their stems, and CJK bigrams.

    Stopwords are dropped unless every word is one ("The Who"); 1-letter words always.
    A one-character CJK run is its own unit. (Cached: every passage of a search asks.)
    """
    return list(_query_terms(query))


@functools.lru_cache(maxsize=64)
def _query_terms(query: str) -> tuple[str, ...]:
    forms = lexical.query_forms(query)
    typed = lexical.words_of(lexical.normalise(query))  # forms.words lacks query stopwords
    folded = [w for w in dict.fromkeys(fold(w) for w in typed) if len(w) > 1]
    content = [w for w in folded if w not in STOPWORDS] or folded
    stems = [
        fold(stem)
        for lang in forms.langs
        for stem in lexical.stem_words(content, lang)
        if len(stem) >= MIN_STEM
    ]
    units = [*forms.grams, *(run for run in forms.runs if len(run) == 1)]
    return tuple(t for t in dict.fromkeys([*content, *stems, *(fold(u) for u in units)]) if t)


@functools.lru_cache(maxsize=64)
def term_groups(query: str) -> tuple[tuple[str, ...], ...]:
    """The query's terms as groups a text must each hold for a full keyword match.

    One group per content word (the folded word and its stems, any of which counts) and
    one per CJK run (the run itself). Stopwords are left out unless nothing else is left.
    """
    forms = lexical.query_forms(query)
    typed = lexical.words_of(lexical.normalise(query))
    folded = [w for w in dict.fromkeys(fold(w) for w in typed) if len(w) > 1 or w.isdigit()]
    content = [w for w in folded if w not in STOPWORDS] or folded
    groups = [
        tuple(
            dict.fromkeys(
                [word]
                + [
                    fold(stem)
                    for lang in forms.langs
                    for stem in lexical.stem_words([word], lang)
                    if len(stem) >= MIN_STEM
                ]
            )
        )
        for word in content
    ]
    return tuple(groups + [(fold(run),) for run in forms.runs])


def coverage(text: str, groups: tuple[tuple[str, ...], ...]) -> float:
    """Share of ``groups`` (``term_groups``) that ``text`` holds: words at a word start,
    CJK runs anywhere. 1.0 means every term of the query is there."""
    if not groups:
        return 0.0
    folded = fold(text[:MAX_SCAN_CHARS])
    found = sum(1 for group in groups if any(_holds(folded, unit) for unit in group))
    return found / len(groups)


def _holds(folded: str, unit: str) -> bool:
    if lexical.is_cjk(unit):
        return unit in folded
    start = folded.find(unit)
    while start != -1:
        if start == 0 or not folded[start - 1].isalnum():
            return True
        start = folded.find(unit, start + 1)
    return False


def match_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """(start, end) spans of ``terms`` in ``text``, in order.

    CJK units mark every occurrence and overlapping ones merge into one span; words (and
    stems) mark the whole word they start, unless a longer term marked it already.
    """
    folded = fold(text)
    units = _cjk_spans(folded, [t for t in terms if lexical.is_cjk(t)])
    spans = list(units)
    for term in sorted((t for t in terms if not lexical.is_cjk(t)), key=len, reverse=True):
        start = folded.find(term)
        while start != -1:
            if start and folded[start - 1].isalnum():  # inside a word: not a match
                start = folded.find(term, start + 1)
                continue
            end = _word_end(folded, start + len(term))
            if not any(s < end and start < e for s, e in spans):
                spans.append((start, end))
            # No word starts before this one ends: searching on from ``start + 1`` walked a
            # 4 MB one-word blob once per character (minutes per search).
            start = folded.find(term, end)
    return sorted(spans)


def _word_end(folded: str, end: int) -> int:
    """Where the word continuing at ``end`` stops (CJK after Latin starts a new word)."""
    while end < len(folded) and folded[end].isalnum() and not lexical.is_cjk(folded[end]):
        end += 1
    return end


def _cjk_spans(folded: str, units: list[str]) -> list[tuple[int, int]]:
    """Every occurrence of every unit, overlapping occurrences merged."""
    found = sorted(
        (start, start + len(unit)) for unit in units for start in _occurrences(folded, unit)
    )
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _occurrences(text: str, term: str) -> list[int]:
    out, start = [], text.find(term)
    while start != -1:
        out.append(start)
        start = text.find(term, start + 1)
    return out


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
