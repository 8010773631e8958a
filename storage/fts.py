"""Keyword search over FTS5: exact words, stems, CJK bigrams, fields, phrases; LIKE for 1 char.

Five sources, each ranked by BM25, scaled to (0, 1], weighted (``KeywordWeights``) and
summed per chunk:

- ``chunks_fts`` (unicode61, external content): the exact words of the chunk text;
- ``chunks_lex.stems``: the words stemmed in the language detected for each part of the
  chunk; the query is stemmed for every language it plausibly is in (``storage.lexical``).
  A chunk with the exact word also has its stem, so it collects both scores: exact matches
  outrank stemmed ones;
- ``chunks_lex.grams``: CJK text as overlapping bigrams, so a two-character Chinese or
  Japanese word is a ranked term; a longer query run also counts as a phrase of its
  bigrams, which favours chunks holding the whole run;
- ``chunks_fields``: the file name, title and heading path of the chunk, each its own
  column with its own BM25 weight, so "tar" finds ``tar.md`` before pages that mention tar;
- phrases: adjacent query words side by side (``word_pairs``) and the query's quoted
  phrases on the exact-word table, so a phrase match outranks the same words scattered.

A one-character CJK query has no bigram: it falls back to a LIKE scan over CJK chunks,
ranked by occurrence count. Every user term is quoted (``"term"``, inner quotes doubled),
so ``AND``, ``OR``, ``NOT``, ``NEAR``, ``"``, ``*``, ``-``, ``(`` and ``:`` are only ever
text, never query syntax. Terms are OR-ed: BM25 ranks chunks with more (and rarer) terms
first, which suits a keyword list that is fused with vector results anyway.

``chunks_lex`` is filled by the chunk insert trigger through the SQL functions that
``register_functions`` adds to every connection, so any code path that inserts chunks
keeps it in step, and the schema migration backfills it with one INSERT ... SELECT.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from storage import lexical
from storage.filters import filter_sql, phrase_matches, quote
from storage.models import Hit, SearchFilters

MAX_TERMS = 32
MAX_PAIRS = 16


@dataclass(frozen=True)
class KeywordWeights:
    """How much each keyword source counts (each is scaled to (0, 1] before weighting).

    ``name``/``title``/``heading`` weight the columns of ``chunks_fields`` inside its BM25.
    Defaults were measured on the pydoc set and confirmed on the SQLite documentation
    set (``benchmarks/quality.py``, ``benchmarks/tune.py``).
    """

    words: float = 1.0
    stems: float = 1.0
    grams: float = 1.0
    fields: float = 1.0
    phrase: float = 1.0
    name: float = 4.0
    title: float = 2.0
    heading: float = 1.0


DEFAULT_WEIGHTS = KeywordWeights()


def register_functions(conn: Any) -> None:
    """SQL functions the chunk triggers call to fill ``chunks_lex`` (see ``storage.schema``)."""
    conn.create_function(
        "quarry_lang", 1, lambda t: lexical.analyze(t or "").lang, deterministic=True
    )
    conn.create_function(
        "quarry_stems", 1, lambda t: lexical.analyze(t or "").stems, deterministic=True
    )
    conn.create_function(
        "quarry_grams", 1, lambda t: lexical.analyze(t or "").grams, deterministic=True
    )
    conn.create_function(
        "quarry_field",
        2,
        lambda t, lang: lexical.field_terms(t or "", lang or ""),
        deterministic=True,
    )
    conn.create_function("quarry_name", 1, lambda p: lexical.name_of(p or ""), deterministic=True)
    conn.create_function("quarry_lower", 1, lambda t: (t or "").lower(), deterministic=True)


def split_query(query: str) -> tuple[list[str], list[str]]:
    """(word terms, CJK runs) of a user query, de-duplicated, in order."""
    norm = lexical.normalise(query)
    runs = list(dict.fromkeys(lexical.CJK_RUN.findall(norm)))[:MAX_TERMS]
    return list(dict.fromkeys(lexical.words_of(norm)))[:MAX_TERMS], runs


def match_words(words: list[str]) -> str:
    """MATCH expression for the unicode61 table."""
    return " OR ".join(quote(w) for w in words)


def match_column(column: str, terms: list[str]) -> str:
    """MATCH expression for one ``chunks_lex`` column: any of ``terms``."""
    return f"{column} : (" + " OR ".join(quote(t) for t in terms) + ")"


def index_languages(conn: Any) -> list[str]:
    """Languages of the indexed chunks, most chunks first."""
    rows = conn.execute("SELECT lang FROM chunk_langs WHERE n > 0 ORDER BY n DESC, lang")
    return [str(r[0]) for r in rows]


def _fts_hits(
    conn: Any,
    table: str,
    match: str,
    k: int,
    filters: SearchFilters | None,
    rank: str = "",
) -> dict[int, float]:
    where, params = filter_sql(filters)
    rows = conn.execute(
        f"SELECT t.rowid, {rank or f'bm25({table})'} AS s FROM {table} t"
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


def word_pairs(query: str) -> list[str]:
    """Adjacent words of the query as two-word phrases, unless both are stopwords.

    A page where the query's words stand side by side ("memory leaks") is more likely
    about the query than one where they are scattered: each pair found adds to its score.
    """
    words = lexical.words_of(lexical.normalise(query))
    stop = frozenset().union(*lexical.STOPWORDS.values())
    pairs = [f"{a} {b}" for a, b in itertools.pairwise(words) if a not in stop or b not in stop]
    return list(dict.fromkeys(pairs))[:MAX_PAIRS]


def _sources(
    conn: Any,
    forms: lexical.QueryForms,
    query: str,
    k: int,
    filters: SearchFilters | None,
    w: KeywordWeights,
) -> list[tuple[float, dict[int, float]]]:
    """Each keyword source's hits with the weight it carries."""
    out: list[tuple[float, dict[int, float]]] = []
    if forms.words:
        out.append((w.words, _fts_hits(conn, "chunks_fts", match_words(forms.words), k, filters)))
    if forms.stems:
        match = match_column("stems", forms.stems)
        out.append((w.stems, _fts_hits(conn, "chunks_lex", match, k, filters)))
    phrases = [" ".join(lexical.bigrams(run)) for run in forms.runs if len(run) > 2]
    if forms.grams:
        match = match_column("grams", [*forms.grams, *phrases])
        out.append((w.grams, _fts_hits(conn, "chunks_lex", match, k, filters)))
    terms = list(dict.fromkeys([*forms.words, *forms.stems, *forms.grams]))
    if terms and w.fields:
        match = "{name title heading} : (" + " OR ".join(quote(t) for t in terms) + ")"
        rank = f"bm25(chunks_fields, {w.name:g}, {w.title:g}, {w.heading:g})"
        out.append((w.fields, _fts_hits(conn, "chunks_fields", match, k, filters, rank)))
    wanted = [*word_pairs(query), *(filters.phrases if filters else ())]
    matches = [m for text in wanted for t, m in phrase_matches(text) if t == "chunks_fts"]
    if matches and w.phrase:
        match = " OR ".join(dict.fromkeys(matches))
        out.append((w.phrase, _fts_hits(conn, "chunks_fts", match, k, filters)))
    for run in forms.runs:
        if len(run) == 1:
            out.append((w.grams, _like_hits(conn, run, k, filters)))
    return out


def search(
    conn: Any,
    query: str,
    k: int,
    filters: SearchFilters | None = None,
    weights: KeywordWeights = DEFAULT_WEIGHTS,
) -> list[Hit]:
    """Keyword hits, best first; never raises on any user text."""
    forms = lexical.query_forms(query, index_languages(conn), MAX_TERMS)
    total: dict[int, float] = {}
    for weight, source in _sources(conn, forms, query, k, filters, weights):
        for cid, score in _normalised(source).items():
            total[cid] = total.get(cid, 0.0) + weight * score
    ranked = sorted(total.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [Hit(cid, score) for cid, score in ranked]
