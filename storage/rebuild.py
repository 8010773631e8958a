"""Background rebuild for a new model or dimension, swapped in atomically.

A second vector index is built beside the active one (``begin_rebuild`` ...
``finish_rebuild``); search keeps answering from the old index until the swap, which is
one transaction. ``begin_rebuild`` puts every indexed file in the new index's phase-2
backlog, so the rebuild is filled through ``Store.embedding_work`` / ``add_vectors`` in the
same priority order as new files (recently modified and promoted files first).
"""

from __future__ import annotations

from storage import backlog
from storage.base import StoreBase
from storage.errors import RebuildError
from storage.models import Fingerprint


class RebuildMixin(StoreBase):
    """``begin_rebuild`` and ``finish_rebuild``; the filling in between is phase 2's."""

    def begin_rebuild(self, fp: Fingerprint) -> None:
        """Start (or restart under another fingerprint) a second index beside the active one.

        With no active index yet, ``fp`` simply becomes the active fingerprint.
        """
        with self.transaction():
            active = self._index_id("active_index")
            if active is None:
                self._ensure_active(fp)
                return
            current = self._index_fp(active)
            if current is not None and current.key == fp.key:
                raise RebuildError(f"the index already uses {fp.describe()}")
            building = self._index_id("building_index")
            if building is not None:
                if (self._index_fp(building) or fp).key == fp.key:
                    return  # resume after a restart
                self.conn.execute("DELETE FROM vector_indexes WHERE id = ?", (building,))
                self._bump_epoch()
            building = self._create_index(fp)
            self._set_meta("building_index", str(building))
            backlog.enqueue_all(self.conn, building)

    def _building(self) -> int:
        building = self._index_id("building_index")
        if building is None:
            raise RebuildError("no rebuild in progress; call begin_rebuild first")
        return building

    def finish_rebuild(self) -> Fingerprint:
        """Atomically make the new index active and drop the old one.

        Raises RebuildError if chunks written meanwhile still lack new vectors: fill the
        backlog again (``embedding_work`` / ``add_vectors``), then retry. Returns the
        now-active fingerprint.
        """
        with self.transaction():
            building = self._building()
            waiting = backlog.totals(self.conn, building).files
            if waiting:
                raise RebuildError(f"{waiting} file(s) still wait for vectors in the new index")
            left = self.conn.execute(
                "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM embeddings e"
                " WHERE e.index_id = ? AND e.content_hash = c.content_hash)"
                " OR (c.lead_hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM embeddings e"
                " WHERE e.index_id = ? AND e.content_hash = c.lead_hash))",
                (building, building),
            ).fetchone()[0]
            if left:
                raise RebuildError(f"{left} chunk(s) still lack vectors in the new index")
            old = self._index_id("active_index")
            self._set_meta("active_index", str(building))
            self._set_meta("building_index", None)
            if old is not None:
                self.conn.execute("DELETE FROM vector_indexes WHERE id = ?", (old,))
            self._bump_epoch()
            fp = self._index_fp(building)
        assert fp is not None
        return fp
