"""Leads written before schema v7: the first chunks that still need theirs worked out.

A lead is the opening of a file's (or mail message's) first chunk, embedded as a second
vector (``app/leads.py``). Chunks written since v7 carry theirs; for an index that existed
before, the v7 migration leaves a cursor in ``meta.lead_backfill`` and the indexer works
through the old first chunks a batch at a time (it has the tokenizer that measures a
lead), recording each lead and putting its file back in phase 2's backlog.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage import backlog
from storage.base import StoreBase

CURSOR = "lead_backfill"

#: First chunks: ordinal 0 of a file, or the first chunk of a mail message.
_FIRST = (
    "(c.ordinal = 0 OR (c.doc_id IS NOT NULL AND c.ordinal ="
    " (SELECT min(d.ordinal) FROM chunks d WHERE d.doc_id = c.doc_id)))"
)


class LeadsMixin(StoreBase):
    """``chunks_needing_leads`` and ``set_leads``: the backfill's two halves."""

    def chunks_needing_leads(self, limit: int = 256) -> list[tuple[int, str, str | None]]:
        """(chunk id, text, heading) of up to ``limit`` first chunks whose lead was never
        worked out, in id order; empty when the backfill is done (or was never needed)."""
        with self.transaction("DEFERRED"):
            cursor = self._meta(CURSOR)
            if cursor is None:
                return []
            rows = self.conn.execute(
                "SELECT c.id, c.text, c.heading FROM chunks c"
                f" WHERE c.id > ? AND c.lead_end IS NULL AND {_FIRST} ORDER BY c.id LIMIT ?",
                (int(cursor), limit),
            ).fetchall()
        return [(int(r[0]), str(r[1]), r[2]) for r in rows]

    def set_leads(self, leads: Sequence[tuple[int, int, str | None]]) -> int:
        """Record (chunk id, lead end, lead hash) of backfilled first chunks (end 0, hash
        None: too short for a lead) and queue their files for the new vectors, in ONE
        transaction; no leads ends the backfill. Returns the files queued."""
        with self.transaction():
            if not leads:
                self._set_meta(CURSOR, None)
                return 0
            self.conn.executemany(
                "UPDATE chunks SET lead_end = ?, lead_hash = ? WHERE id = ? AND lead_end IS NULL",
                [(end, digest, chunk_id) for chunk_id, end, digest in leads],
            )
            self._set_meta(CURSOR, str(max(chunk_id for chunk_id, _, _ in leads)))
            queued = self._queue_files([chunk_id for chunk_id, _, digest in leads if digest])
        return queued

    def _queue_files(self, chunk_ids: list[int]) -> int:
        """Put the files of these chunks in the backlog of every index being filled."""
        files: list[tuple[int, float]] = []
        for start in range(0, len(chunk_ids), 500):
            part = chunk_ids[start : start + 500]
            files += self.conn.execute(
                "SELECT DISTINCT f.id, f.mtime FROM files f JOIN chunks c ON c.file_id = f.id"
                f" WHERE c.id IN ({', '.join('?' * len(part))})",
                part,
            ).fetchall()
        for key in ("active_index", "building_index"):
            index_id = self._index_id(key)
            if index_id is not None:
                for file_id, mtime in files:
                    _requeue(self.conn, index_id, int(file_id), float(mtime))
        return len(files)


def _requeue(conn: Any, index_id: int, file_id: int, mtime: float) -> None:
    """A file with a new lead waits for its vector; a row it already has keeps its turns."""
    held = conn.execute(
        "SELECT 1 FROM embed_queue WHERE index_id = ? AND file_id = ?", (index_id, file_id)
    ).fetchone()
    backlog.settle_file(conn, index_id, file_id, mtime, fresh=held is None)
