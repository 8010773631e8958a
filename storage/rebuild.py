"""Background rebuild for a new model or dimension, swapped in atomically.

A second vector index is built beside the active one (``begin_rebuild`` ...
``finish_rebuild``); search keeps answering from the old index until the swap, which is
one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage import vectors
from storage.base import CHUNK_COLS, StoreBase, chunk_record
from storage.errors import RebuildError
from storage.models import Chunk, Fingerprint
from storage.vectors import FloatArray


class RebuildMixin(StoreBase):
    """``begin_rebuild``, ``rebuild_missing``, ``add_rebuild_vectors``, ``finish_rebuild``."""

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
            self._set_meta("building_index", str(self._create_index(fp)))

    def _building(self) -> int:
        building = self._index_id("building_index")
        if building is None:
            raise RebuildError("no rebuild in progress; call begin_rebuild first")
        return building

    def rebuild_missing(self, limit: int = 256) -> list[Chunk]:
        """Up to ``limit`` chunks (one per content hash) still lacking a new-index vector.

        The pipeline embeds each chunk's text exactly as it embeds documents (heading prefix
        included when the new fingerprint says so) and hands the results to
        ``add_rebuild_vectors``. An empty list means the new index is complete.
        """
        building = self._building()
        rows = self.conn.execute(
            f"SELECT {CHUNK_COLS} FROM chunks c JOIN files f ON f.id = c.file_id"
            " WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.index_id = ?"
            " AND e.content_hash = c.content_hash) GROUP BY c.content_hash LIMIT ?",
            (building, limit),
        )
        return [chunk_record(r) for r in rows]

    def add_rebuild_vectors(self, hashes: Sequence[str], vecs: FloatArray) -> None:
        """Store new-index vectors for content hashes (rows aligned with ``hashes``)."""
        with self.transaction():
            building = self._building()
            fp = self._index_fp(building)
            assert fp is not None
            vectors.insert_vectors(self.conn, building, hashes, vecs, fp.dim)

    def finish_rebuild(self) -> Fingerprint:
        """Atomically make the new index active and drop the old one.

        Raises RebuildError if chunks written meanwhile still lack new vectors: drive
        ``rebuild_missing`` again, then retry. Returns the now-active fingerprint.
        """
        with self.transaction():
            building = self._building()
            left = self.conn.execute(
                "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM embeddings e"
                " WHERE e.index_id = ? AND e.content_hash = c.content_hash)",
                (building,),
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
