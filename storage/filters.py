"""SearchFilters -> a SQL predicate over ``files f`` and ``chunks c``, so filters run inside
every search (vector and keyword alike), never on a truncated top-k.

Phrases and exclusions are FTS5 queries: a phrase is the words of the text in order on the
exact-word table, or, for Chinese/Japanese/Korean, its bigrams in order on the ``grams``
column (``storage.lexical``). User text is always quoted, so it can never become syntax.
"""

from __future__ import annotations

from storage import lexical
from storage.models import SearchFilters


def quote(term: str) -> str:
    """An FTS5 string literal for ``term``: user text can never become query syntax."""
    return '"' + term.replace('"', '""') + '"'


def phrase_matches(text: str) -> list[tuple[str, str]]:
    """(table, MATCH expression) pairs that together find ``text`` as a phrase.

    Latin-script words go to ``chunks_fts`` as one phrase; each CJK run goes to the
    ``grams`` column as the phrase of its bigrams. Empty when ``text`` has no words.
    """
    norm = lexical.normalise(text)
    out: list[tuple[str, str]] = []
    words = lexical.words_of(norm)
    if words:
        out.append(("chunks_fts", quote(" ".join(words))))
    for run in lexical.CJK_RUN.findall(norm):
        out.append(("chunks_lex", "grams : " + quote(" ".join(lexical.bigrams(run)))))
    return out


def _chunks_matching(text: str) -> tuple[str, list[object]]:
    """SQL for the ids of chunks holding ``text`` as a phrase (every part of it)."""
    parts = [
        (f"SELECT rowid FROM {table} WHERE {table} MATCH ?", [match])
        for table, match in phrase_matches(text)
    ]
    sql = " INTERSECT ".join(p[0] for p in parts) or "SELECT NULL WHERE 0"
    return sql, [v for p in parts for v in p[1]]


def _folder_prefix(folder: str) -> str:
    folder = folder.rstrip("/\\")
    return folder + ("\\" if "\\" in folder and "/" not in folder else "/")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_sql(filters: SearchFilters | None) -> tuple[str, list[object]]:
    """A predicate (``1`` when unrestricted) and its parameters, for ``WHERE ... AND <sql>``.

    Folder prefixes compare with ``substr`` rather than LIKE so ``%`` and ``_`` in real
    folder names need no escaping.
    """
    if filters is None or not filters.active:
        return "1", []
    parts: list[str] = []
    params: list[object] = []
    if filters.folders:
        ors = []
        for folder in filters.folders:
            prefix = _folder_prefix(folder)
            ors.append("substr(f.path, 1, ?) = ?")
            params += [len(prefix), prefix]
        parts.append("(" + " OR ".join(ors) + ")")
    if filters.extensions:
        exts = [e.lower().lstrip(".") for e in filters.extensions]
        parts.append(f"f.ext IN ({', '.join('?' * len(exts))})")
        params += exts
    _text_filters(filters, parts, params)
    _mail_filters(filters, parts, params)
    if filters.languages:
        # chunks_lex.lang is the language the chunk's keywords were stemmed in (schema v3)
        marks = ", ".join("?" * len(filters.languages))
        parts.append(f"c.id IN (SELECT rowid FROM chunks_lex WHERE lang IN ({marks}))")
        params += list(filters.languages)
    for column, op, value in (
        ("f.mtime", ">=", filters.modified_after),
        ("f.mtime", "<", filters.modified_before),
        ("f.size", ">=", filters.size_min),
        ("f.size", "<=", filters.size_max),
    ):
        if value is not None:
            parts.append(f"{column} {op} ?")
            params.append(value)
    return " AND ".join(parts), params


def _text_filters(filters: SearchFilters, parts: list[str], params: list[object]) -> None:
    """Folder names, path text, required phrases and excluded words."""
    for name in filters.folder_names:
        needle = name.strip("/\\").lower()
        parts.append("(instr(quarry_lower(f.path), ?) > 0 OR instr(quarry_lower(f.path), ?) > 0)")
        params += [f"/{needle}/", f"\\{needle}\\"]
    for part in filters.path_parts:
        parts.append("instr(quarry_lower(f.path), ?) > 0")
        params.append(part.lower())
    for phrase in filters.phrases:
        sql, values = _chunks_matching(phrase)
        parts.append(f"c.id IN ({sql})")
        params += values
    for word in filters.excluded:
        sql, values = _chunks_matching(word)
        parts.append(f"f.id NOT IN (SELECT x.file_id FROM chunks x WHERE x.id IN ({sql}))")
        params += values


def _mail_filters(filters: SearchFilters, parts: list[str], params: list[object]) -> None:
    """Mail messages only, and messages whose From header holds one of ``senders``."""
    if filters.mail_only:
        parts.append("c.doc_id IS NOT NULL")
    if filters.senders:
        likes = " OR ".join("d.sender LIKE ? ESCAPE '\\'" for _ in filters.senders)
        parts.append(f"c.doc_id IN (SELECT d.id FROM documents d WHERE {likes})")
        params += [f"%{_escape_like(s)}%" for s in filters.senders]
