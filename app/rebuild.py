"""Background index rebuild (a new dimension) over the store's rebuild API; Qt-free.

The store builds the new vector index beside the active one; search keeps using the old
index until ``finish_rebuild`` swaps them in one transaction. Every stored chunk is embedded
from its stored text with ``app.chunker.embedded_text``, the rule the indexer uses, so its
vector lands under the same content hash and later indexing reuses it. The work comes from
the new index's backlog, in phase 2's priority order (``storage.backlog``).

The store remembers a rebuild in progress (``Store.rebuilding()``): calling ``run_rebuild``
again with the same fingerprint resumes where an interrupted run stopped. ``Pipeline`` does
that at start, so the window and the ``quarry`` CLI both finish an interrupted rebuild.

    done = run_rebuild(store, embedder, fingerprint, on_progress=print, cancelled=ev.is_set)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from app.embedding import batch_texts
from app.settings import Settings
from engine.protocols import Embedder
from storage.errors import RebuildError
from storage.models import Fingerprint
from storage.store import Store

log = logging.getLogger(__name__)
BATCH = 64


@dataclass(frozen=True)
class RebuildProgress:
    """A snapshot of a rebuild: distinct chunk texts embedded into the new index so far."""

    done: int
    total: int  # chunks in the new index's backlog (an upper bound: identical texts embed once)
    chunks_per_s: float
    eta_s: float | None


RebuildCallback = Callable[[RebuildProgress], None]


def rebuild_fingerprint(embedder: Embedder, settings: Settings) -> Fingerprint:
    """The fingerprint the pipeline would write under with this embedder and settings."""
    from app.indexer import make_fingerprint
    from app.pipeline import chunker_for

    return make_fingerprint(embedder, chunker_for(embedder, settings))


def same_chunking(a: Fingerprint, b: Fingerprint) -> bool:
    """True when both index the same chunk texts, so only the vectors need redoing."""
    return (a.chunker_version, a.heading_prefix) == (b.chunker_version, b.heading_prefix)


def run_rebuild(
    store: Store,
    embedder: Embedder,
    fingerprint: Fingerprint,
    *,
    on_progress: RebuildCallback | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    batch: int = BATCH,
) -> bool:
    """Begin (or resume) a rebuild under ``fingerprint``, fill its backlog, then swap.

    The new index is filled like phase 2 fills the active one: from the store's backlog, in
    priority order (promoted, then recently modified files first). Returns True once
    ``fingerprint`` is the active index (also when it already was), False when
    ``cancelled`` stopped it first or another rebuild took over; a stopped rebuild stays
    recorded in the store and resumes on the next call. Raises ``RebuildError`` when the
    chunking differs (the stored texts would not match their hashes: that needs a re-index).
    """
    active = store.fingerprint()
    if active is not None and active.key == fingerprint.key:
        return True
    if active is not None and not same_chunking(active, fingerprint):
        raise RebuildError("the chunking settings changed: re-index instead of rebuilding")
    store.begin_rebuild(fingerprint)
    total = max(1, store.backlog(fingerprint).chunks)
    done, started = 0, time.monotonic()
    while not cancelled():
        building = store.rebuilding()
        if building is None or building.key != fingerprint.key:
            log.info("another rebuild replaced the one towards %s", fingerprint.describe())
            return False
        work = store.embedding_work(fingerprint, max_tokens=batch * 1024, max_chunks=batch)
        if not work.file_ids:
            if _finish(store, fingerprint):
                return True
            continue  # files written meanwhile (the pipeline goes on): embed them too
        texts, hashes, stale = batch_texts(work, fingerprint.heading_prefix)
        if stale:
            raise RebuildError("stored chunks do not match their hashes: re-index instead")
        store.add_vectors(fingerprint, hashes, embedder.embed_documents(texts), work.file_ids)
        done += len(hashes)
        if on_progress is not None:
            rate = done / max(1e-6, time.monotonic() - started)
            eta = max(0, total - done) / rate if rate else None
            on_progress(RebuildProgress(done, max(done, total), rate, eta))
    return False


def _finish(store: Store, fingerprint: Fingerprint) -> bool:
    """Swap the new index in; False when new work arrived, an error when files failed."""
    try:
        store.finish_rebuild()
    except RebuildError:
        if store.embedding_work(fingerprint, max_chunks=1).file_ids:
            return False
        waiting = store.backlog(fingerprint).files
        raise RebuildError(f"{waiting} file(s) could not be embedded for the new index") from None
    return True


def rebuild_database(
    db_path: Path,
    settings: Settings,
    dimension: int,
    *,
    on_progress: RebuildCallback | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> bool:
    """Load the settings' model at ``dimension`` and rebuild the index at ``db_path``."""
    from app.loaders import make_embedder, open_store

    target = replace(settings, dimension=dimension)
    embedder = make_embedder(target)
    try:
        fingerprint = rebuild_fingerprint(embedder, target)
        with open_store(path=db_path) as store:
            return run_rebuild(
                store, embedder, fingerprint, on_progress=on_progress, cancelled=cancelled
            )
    finally:
        embedder.close()


__all__ = [
    "RebuildCallback",
    "RebuildProgress",
    "rebuild_database",
    "rebuild_fingerprint",
    "run_rebuild",
    "same_chunking",
]
