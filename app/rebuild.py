"""Index rebuild (a new dimension) over the store's rebuild API; Qt-free.

The store builds the new vector index beside the active one; search keeps using the old
index until ``finish_rebuild`` swaps them in one transaction. Every stored chunk is embedded
from its stored text with ``app.chunker.embedded_text``, the rule the indexer uses, so its
vector lands under the same content hash and later indexing reuses it. The work comes from
the new index's backlog, in phase 2's priority order (``storage.backlog``).

Every write goes through the one writer (the thread that owns the pipeline's ``Store``):

* ``LiveRebuild``: a running pipeline's writer loop fills the new index as a second
  phase 2 (``Pipeline.request_rebuild``), sharing the embed thread and the model (at the new
  Matryoshka size, ``engine.matryoshka``), and swaps it in between two of its own batches.
* ``run_rebuild``: the same, blocking, on the thread that owns the store when no run is
  going (``Pipeline.resume_rebuild`` at start, ``app.pipeline.rebuild_database``).

The store remembers a rebuild in progress (``Store.rebuilding()``): calling ``run_rebuild``
again with the same fingerprint resumes where an interrupted run stopped. ``Pipeline`` does
that at start, so the window and the ``quarry`` CLI both finish an interrupted rebuild.

    done = run_rebuild(store, embedder, fingerprint, on_progress=print, cancelled=ev.is_set)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from app.embedding import EmbedConfig, Embedding, batch_texts
from app.phases import Progress
from app.power import PowerProbe, never
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

    def as_progress(self) -> Progress:
        """The same snapshot as the one ``Progress`` the status bar reads ("rebuilding")."""
        return Progress(
            "rebuilding",
            self.done,
            self.total,
            chunks=self.done,
            tokens_per_s=self.chunks_per_s,
            eta_s=self.eta_s,
        )


RebuildCallback = Callable[[RebuildProgress], None]


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
    if check_target(store, fingerprint):
        return True
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
            on_progress(progress(done, total, started))
    return False


def progress(done: int, total: int, started: float) -> RebuildProgress:
    """The snapshot after ``done`` of ``total`` chunks, since monotonic time ``started``."""
    rate = done / max(1e-6, time.monotonic() - started)
    eta = max(0, total - done) / rate if rate else None
    return RebuildProgress(done, max(done, total), rate, eta)


def check_target(store: Store, fingerprint: Fingerprint) -> bool:
    """True when ``fingerprint`` is already active; ``RebuildError`` when the chunking differs
    (the stored texts would not match their hashes: that needs a re-index)."""
    active = store.fingerprint()
    if active is not None and active.key == fingerprint.key:
        return True
    if active is not None and not same_chunking(active, fingerprint):
        raise RebuildError("the chunking settings changed: re-index instead of rebuilding")
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


class LiveRebuild:
    """A rebuild a running writer drives: phase 2 for the new index, then the swap.

    Lives on the writer thread like ``Embedding`` (every read and write through the
    writer's ``Store``); only the model call runs on the embed thread it shares with phase
    2. ``result`` says True once the new index is active, False when the run ended first
    (the store keeps the rebuild; the next start at the new dimension finishes it).
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        fingerprint: Fingerprint,
        config: EmbedConfig,
        on_progress: RebuildCallback | None = None,
        on_battery: PowerProbe = never,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.fingerprint = fingerprint
        self.embedding = Embedding(store, embedder, fingerprint, config, on_battery)
        self.result: Future[bool] = Future()
        self._on_progress = on_progress
        self._total = 1
        self._started = time.monotonic()

    def begin(self, pool: ThreadPoolExecutor | None) -> bool:
        """Record the rebuild in the store and start filling; True when nothing is left to
        do (the target is already active)."""
        if check_target(self.store, self.fingerprint):
            return True
        self.store.begin_rebuild(self.fingerprint)
        self._total = max(1, self.store.backlog(self.fingerprint).chunks)
        self._started = time.monotonic()
        self.embedding.open(pool)
        return False

    def step(self, phase1_waiting: bool, may_swap: bool) -> bool:
        """Commit a finished batch, start the next; swap when the backlog is empty and
        ``may_swap`` (phase 2 has no batch in flight for the old index). True once swapped."""
        before = self.embedding.chunks
        self.embedding.step(phase1_waiting)
        if self.embedding.chunks != before and self._on_progress is not None:
            self._on_progress(progress(self.embedding.chunks, self._total, self._started))
        if not may_swap or self.embedding.state(phase1_waiting) != "idle":
            return False
        building = self.store.rebuilding()
        if building is None or building.key != self.fingerprint.key:
            raise RebuildError(f"another rebuild replaced the one towards {self.describe()}")
        if _finish(self.store, self.fingerprint):
            return True
        self.embedding.poke()  # files written meanwhile: embed them too
        return False

    @property
    def in_flight(self) -> Future[Any] | None:
        """The batch on the embed thread, if any (the writer waits on it too)."""
        return self.embedding.in_flight

    def describe(self) -> str:
        """The target index, for messages."""
        return self.fingerprint.describe()

    def close(self, swapped: bool | None = None, error: BaseException | None = None) -> None:
        """Commit the batch in flight, then answer the caller (False: stopped first)."""
        self.embedding.close()
        if error is not None:
            self.result.set_exception(error)
        else:
            self.result.set_result(bool(swapped))


__all__ = [
    "LiveRebuild",
    "RebuildCallback",
    "RebuildProgress",
    "check_target",
    "progress",
    "run_rebuild",
    "same_chunking",
]
