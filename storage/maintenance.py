"""Maintenance: counts for ``quarry status``, integrity checks, pruning and VACUUM."""

from __future__ import annotations

import contextlib
from pathlib import Path

from storage import jobs
from storage.base import StoreBase
from storage.connection import database_errors
from storage.models import FILE_STATUSES, ProblemFile, Stats


class MaintenanceMixin(StoreBase):
    """``stats``, ``integrity_check``, ``prune_embeddings``, ``vacuum``."""

    def stats(self, problem_limit: int = 200) -> Stats:
        """Counts for ``quarry status`` and the window's status bar."""
        by_status: dict[str, int] = dict.fromkeys(FILE_STATUSES, 0)
        by_status.update(self.conn.execute("SELECT status, count(*) FROM files GROUP BY status"))
        chunks = self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        active = self._index_id("active_index")
        embeddings = self.conn.execute(
            "SELECT count(*) FROM embeddings WHERE index_id = ?", (active or -1,)
        ).fetchone()[0]
        problems = [
            ProblemFile(r[0], r[1], r[2], r[3])
            for r in self.conn.execute(
                "SELECT path, status, error, retries FROM files"
                " WHERE status IN ('skipped', 'failed') ORDER BY status, path LIMIT ?",
                (problem_limit,),
            )
        ]
        return Stats(
            files=by_status,
            chunks=chunks,
            embeddings=embeddings,
            db_bytes=self._db_bytes(),
            fingerprint=self.fingerprint(),
            rebuilding=self.rebuilding(),
            queued_jobs=jobs.counts(self.conn).get("queued", 0),
            problems=problems,
        )

    def _db_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += Path(str(self.path) + suffix).stat().st_size
        return total

    def integrity_check(self) -> list[str]:
        """Problems found by SQLite (and FTS on the writer); an empty list means healthy."""
        rows = [r[0] for r in self.conn.execute("PRAGMA integrity_check")]
        problems = [r for r in rows if r != "ok"]
        if not self.readonly:
            for table in ("chunks_fts", "chunks_lex"):
                try:
                    self.conn.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
                except database_errors() as exc:
                    problems.append(f"{table}: {exc}")
        missing = self.conn.execute(
            "SELECT (SELECT count(*) FROM chunks) - (SELECT count(*) FROM chunks_lex)"
        ).fetchone()[0]
        if missing:
            problems.append(f"chunks_lex: {missing} chunk(s) without stems/bigrams")
        return problems

    def prune_embeddings(self) -> int:
        """Drop vectors no chunk references any more (kept until now for cheap re-adds)."""
        with self.transaction():
            cur = self.conn.execute(
                "DELETE FROM embeddings WHERE NOT EXISTS"
                " (SELECT 1 FROM chunks c WHERE c.content_hash = embeddings.content_hash)"
            )
            if cur.rowcount:
                self._bump_epoch()
        return int(cur.rowcount)

    def vacuum(self) -> int:
        """Prune orphan vectors, optimise FTS, VACUUM and truncate the WAL; returns bytes saved."""
        before = self._db_bytes()
        self.prune_embeddings()
        with self.transaction():
            for table in ("chunks_fts", "chunks_lex"):
                self.conn.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
        self.conn.execute("VACUUM")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return max(0, before - self._db_bytes())
