"""Keyword search over FTS5: words by ``unicode61``, CJK by ``trigram``, short CJK by LIKE.

Every user term is quoted (``"term"``, inner quotes doubled), so ``AND``, ``OR``, ``NOT``,
``NEAR``, ``"``, ``*``, ``-``, ``(`` and ``:`` are only ever text, never query syntax.
Terms are OR-ed: BM25 ranks chunks with more (and rarer) terms first, which suits a
keyword list that is fused with vector results anyway.

Trigram matching needs 3+ characters, but Chinese and Japanese words are often 2: such
terms fall back to a LIKE scan over CJK chunks only, ranked by occurrence count.
"""

from __future__ import annotations

import re
from typing import Any

from storage.filters import filter_sql
from storage.models import Hit, SearchFilters

_CJK_RUN = re.compile(
    r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]+"
)
_WORD = re.compile(r"\w+")
MAX_TERMS = 32


def quote(term: str) -> str:
    """An FTS5 string literal for ``term``: user text can never become query syntax."""
    return '"' + term.replace('"', '""') + '"'


def split_query(query: str) -> tuple[list[str], list[str]]:
    """(word terms, CJK runs) of a user query, de-duplicated, in order."""
    cjk = list(dict.fromkeys(_CJK_RUN.findall(query)))[:MAX_TERMS]
    rest = _CJK_RUN.sub(" ", query)
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(rest)))[:MAX_TERMS]
    return words, cjk


def _trigrams(run: str) -> list[str]:
    return list(dict.fromkeys(run[i : i + 3] for i in range(len(run) - 2)))[:MAX_TERMS]


def match_words(words: list[str]) -> str:
    """MATCH expression for the unicode61 table."""
    return " OR ".join(quote(w) for w in words)


def _fts_hits(
    conn: Any, table: str, match: str, k: int, filters: SearchFilters | None
) -> dict[int, float]:
    where, params = filter_sql(filters)
    rows = conn.execute(
        f"SELECT t.rowid, bm25({table}) AS s FROM {table} t"
        " JOIN chunks c ON c.id = t.rowid JOIN files f ON f.id = c.file_id"
        f" WHERE {table} MATCH ? AND {where} ORDER BY s LIMIT ?",
        [match, *params, k],
    )
    return {int(r[0]): -float(r[1]) for r in rows}


def _like_hits(conn: Any, term: str, k: int, filters: SearchFilters | None) -> dict[int, float]:
    where, params = filter_sql(filters)
    pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute(
        "SELECT c.id, (length(c.text) - length(replace(c.text, ?, ''))) / length(?) AS n"
        " FROM chunks c JOIN files f ON f.id = c.file_id"
        f" WHERE c.cjk AND c.text LIKE ? ESCAPE '\\' AND {where} ORDER BY n DESC LIMIT ?",
        [term, term, pattern, *params, k],
    )
    return {int(r[0]): float(r[1]) for r in rows}


def _normalised(scores: dict[int, float]) -> dict[int, float]:
    """Scale one source's scores to (0, 1] so sources can be summed."""
    top = max(scores.values(), default=0.0)
    return {cid: (s / top if top > 0 else 1.0) for cid, s in scores.items()}


def search(conn: Any, query: str, k: int, filters: SearchFilters | None = None) -> list[Hit]:
    """Keyword hits, best first; never raises on any user text."""
    words, runs = split_query(query)
    sources: list[dict[int, float]] = []
    if words:
        sources.append(_fts_hits(conn, "chunks_fts", match_words(words), k, filters))
    grams = [g for run in runs for g in _trigrams(run)]
    if grams:
        sources.append(_fts_hits(conn, "chunks_tri", " OR ".join(map(quote, grams)), k, filters))
    for run in runs:
        if len(run) < 3:
            sources.append(_like_hits(conn, run, k, filters))
    total: dict[int, float] = {}
    for source in sources:
        for cid, score in _normalised(source).items():
            total[cid] = total.get(cid, 0.0) + score
    ranked = sorted(total.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [Hit(cid, score) for cid, score in ranked]
