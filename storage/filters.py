"""SearchFilters -> a SQL predicate over ``chunks c`` and ``files f``, so filters run inside
every search."""

from __future__ import annotations

from storage.models import SearchFilters


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
    if filters.mail_only:
        parts.append("c.doc_id IS NOT NULL")
    if filters.senders:
        likes = " OR ".join("d.sender LIKE ? ESCAPE '\\'" for _ in filters.senders)
        parts.append(f"c.doc_id IN (SELECT d.id FROM documents d WHERE {likes})")
        params += [f"%{_escape_like(s)}%" for s in filters.senders]
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
