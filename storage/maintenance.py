"""Maintenance: counts for ``quarry status`` (both phases), integrity checks, pruning, VACUUM."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from storage import backlog, bits, jobs
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
        waiting = backlog.totals(self.conn, active)
        building = self._index_id("building_index")
        return Stats(
            files=by_status,
            chunks=chunks,
            embeddings=embeddings,
            db_bytes=self._db_bytes(),
            fingerprint=self.fingerprint(),
            rebuilding=self.rebuilding(),
            queued_jobs=jobs.counts(self.conn).get("queued", 0),
            problems=self._problems(problem_limit),
            keyword_files=by_status["ok"],
            meaning_files=max(0, by_status["ok"] - waiting.files),
            backlog=waiting,
            rebuild_backlog=None if building is None else backlog.totals(self.conn, building),
            embed_tokens_per_s=self.embedding_rate(),
        )

    def _problems(self, limit: int) -> list[ProblemFile]:
        """Skipped and failed files, then files phase 2 gave up on (keyword-searchable)."""
        rows = self.conn.execute(
            "SELECT path, status, error, retries FROM files"
            " WHERE status IN ('skipped', 'failed') ORDER BY status, path LIMIT ?",
            (limit,),
        )
        problems = [ProblemFile(r[0], r[1], r[2], r[3]) for r in rows]
        rows = self.conn.execute(
            "SELECT f.path, q.error, q.failures FROM embed_queue q JOIN files f"
            " ON f.id = q.file_id WHERE q.error IS NOT NULL ORDER BY f.path LIMIT ?",
            (max(0, limit - len(problems)),),
        )
        problems += [
            ProblemFile(r[0], "failed", f"searchable by keyword only: {r[1]}", r[2]) for r in rows
        ]
        return problems

    def embedding_rate(self) -> float:
        """The last measured phase-2 speed in tokens/s (0.0 before any)."""
        value = self._meta("embed_rate")
        try:
            return float(value) if value else 0.0
        except ValueError:
            return 0.0

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
        problems += self._bit_problems()
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

    def _bit_problems(self) -> list[str]:
        """The persisted sign bits must cover exactly the stored vectors of each index."""
        out = []
        for (index_id,) in self.conn.execute("SELECT id FROM vector_indexes").fetchall():
            held = bits.stored_ids(self.conn, index_id)
            rows = self.conn.execute(
                "SELECT id FROM embeddings WHERE index_id = ? ORDER BY id", (index_id,)
            )
            stored = np.fromiter((r[0] for r in rows), dtype=np.int64)
            if not np.array_equal(held, stored):
                out.append(f"vector index {index_id}: sign bits out of step with its vectors")
        return out

    def prune_embeddings(self) -> int:
        """Drop vectors no chunk references any more (kept until now for cheap re-adds)."""
        with self.transaction():
            cur = self.conn.execute(
                "DELETE FROM embeddings WHERE NOT EXISTS"
                " (SELECT 1 FROM chunks c WHERE c.content_hash = embeddings.content_hash)"
                " AND NOT EXISTS"
                " (SELECT 1 FROM chunks c WHERE c.lead_hash = embeddings.content_hash)"
            )
            if cur.rowcount:
                for (index_id,) in self.conn.execute("SELECT id FROM vector_indexes").fetchall():
                    bits.rewrite(self.conn, index_id)
                self._bump_epoch()
        return int(cur.rowcount)

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file and truncate it (after a bulk
        write: a long phase 1 leaves tens of MB of WAL that every reader must consult)."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def vacuum(self) -> int:
        """Prune orphan vectors, optimise FTS, VACUUM and truncate the WAL; returns bytes saved."""
        before = self._db_bytes()
        self.prune_embeddings()
        with self.transaction():
            for table in ("chunks_fts", "chunks_lex"):
                self.conn.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
        self.conn.execute("VACUUM")
        self.checkpoint()
        return max(0, before - self._db_bytes())
