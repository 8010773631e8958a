"""Phase 2: embed the chunks phase 1 wrote, in the store's priority order, one batch at a time.

``Embedding`` lives on the writer thread (it owns no connection of its own: every read and
write goes through the writer's ``Store``); only the model call runs on the embed thread.
Each turn of the writer's loop calls ``step``: a finished batch is committed (vectors + the
files it settles, one transaction), then the next batch is planned and started, unless
phase 2 is paused, the machine runs on battery (with that option on), or phase 1 still has
a queue of files to read (phase 1 first: keyword search for everything comes fast, and the
slow model must not slow it down).

Batches are sized by the measured speed, about ``target_batch_s`` of work each, so a slow
CPU model (15-500 tokens/s) still commits every few seconds and a pause or a promotion
takes effect soon; a big file contributes at most ``slice_chunks`` chunks to a batch and
then yields to files that have had no turn yet.

A model error fails only this batch: its files stay keyword-searchable, count an attempt,
and yield; after ``max_attempts`` they are listed as problems ("searchable by keyword
only"). In watch mode the next batch waits with exponential backoff.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.chunker import content_hash, embedded_text
from app.phases import EmbedState
from app.power import PowerProbe, never
from engine.protocols import Embedder
from storage.models import EmbedWork, Fingerprint
from storage.store import Store

log = logging.getLogger(__name__)

EMBED_NICE = 10  # how much lower the embed thread's CPU priority is than the window's


def lower_thread_priority(step: int = EMBED_NICE) -> bool:
    """Lower the calling thread's CPU priority (Linux: nice is per thread); True if done.

    Phase 2 can keep a core busy for hours; searches, the window and other programs should
    win the CPU whenever they want it. Elsewhere the priority is per process and lowering
    it would slow the whole app down, so this does nothing there.
    """
    if not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + step))
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class EmbedConfig:
    """Phase 2's knobs; defaults suit a laptop CPU and a GPU alike."""

    target_batch_s: float = 8.0  # aim for a commit about this often
    min_tokens: int = 512  # smallest batch once the speed is known
    first_tokens: int = 2048  # first batch, before any speed is known
    max_chunks: int = 256  # largest batch (length-sorted for the model)
    slice_chunks: int = 32  # most chunks one file gives a batch before yielding
    max_attempts: int = 3  # failed batches before a file is left keyword-only
    backoff_s: float = 30.0  # watch mode: wait after a model error; doubles
    battery_poll_s: float = 30.0


@dataclass
class _Batch:
    work: EmbedWork
    hashes: list[str]
    future: Future[Any]
    started: float


def batch_texts(work: EmbedWork, heading_prefix: bool) -> tuple[list[str], list[str], set[int]]:
    """(texts, hashes, stale file ids) of a batch, longest text first for the model.

    Texts follow the chunker's own rule (``embedded_text``), so each must hash to the
    stored key; a chunk that does not was written under another chunking rule, and its
    file is returned as stale instead (it needs a re-index, not a vector).
    """
    pairs = [(embedded_text(c.text, c.heading, heading_prefix), c) for c in work.chunks]
    stale = {c.file_id for text, c in pairs if content_hash(text) != c.content_hash}
    pairs = [(t, c) for t, c in pairs if c.file_id not in stale]
    pairs.sort(key=lambda pair: -pair[1].token_count)
    return [t for t, _ in pairs], [c.content_hash for _, c in pairs], stale


class Embedding:
    """Phase 2 for one fingerprint; ``step`` runs on the writer thread."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        fingerprint: Fingerprint,
        config: EmbedConfig | None = None,
        on_battery: PowerProbe = never,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.fingerprint = fingerprint
        self.config = config or EmbedConfig()
        self._on_battery = on_battery
        self._resume = threading.Event()
        self._resume.set()
        self._pool: ThreadPoolExecutor | None = None
        self._owns_pool = True
        self._batch: _Batch | None = None
        self._speeds: deque[tuple[int, float]] = deque(maxlen=8)  # (tokens, seconds)
        self._battery = False
        self._battery_checked = -1e9
        self._failures = 0
        self._retry_at = 0.0
        self._exhausted = False
        self.backoff = False  # watch mode waits after a model error; one-shot retries at once
        self.error = ""  # the last model error, shown until a batch succeeds
        self.chunks = 0  # chunks embedded this run
        self.tokens = 0
        self.given_up: list[tuple[str, str]] = []  # (path, reason) left keyword-only

    # ---- controls (any thread) ------------------------------------------------------

    def pause(self) -> None:
        """Start no new batch; the one in flight is still committed."""
        self._resume.clear()

    def resume(self) -> None:
        """Continue after ``pause``."""
        self._resume.set()
        self._exhausted = False

    @property
    def paused(self) -> bool:
        """True between ``pause`` and ``resume``."""
        return not self._resume.is_set()

    # ---- writer thread ----------------------------------------------------------------

    def open(self, pool: ThreadPoolExecutor | None = None) -> None:
        """Start the embed thread (once per run); the run's counts start from zero.

        A rebuild passes phase 2's ``pool`` instead: one embed thread for both indexes, so
        the model runs one batch at a time whichever index it is for.
        """
        self._owns_pool = pool is None
        self._pool = pool or ThreadPoolExecutor(
            1, thread_name_prefix="embed", initializer=lower_thread_priority
        )
        self._exhausted = False
        self._retry_at = 0.0
        self.chunks = self.tokens = 0
        self.given_up = []

    def close(self) -> None:
        """Wait for the batch in flight, commit it, stop the embed thread."""
        try:
            if self._batch is not None:
                self._batch.future.exception()  # wait
                self._finish()  # may raise (a full disk): the thread still stops
        finally:
            self._batch = None
            if self._pool is not None and self._owns_pool:
                self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    @property
    def pool(self) -> ThreadPoolExecutor | None:
        """The embed thread, while open (a rebuild shares it)."""
        return self._pool

    def retarget(self, embedder: Embedder, fingerprint: Fingerprint) -> None:
        """Fill ``fingerprint``'s index from now on: a rebuild swapped it in.

        Only between batches: a batch in flight would commit under the old index.
        """
        assert self._batch is None, "a batch is in flight"
        self.embedder, self.fingerprint = embedder, fingerprint
        self._exhausted = False

    def poke(self) -> None:
        """New chunks were written: look for work again."""
        self._exhausted = False

    @property
    def in_flight(self) -> Future[Any] | None:
        """The running batch's future (the writer waits on it with its other work)."""
        return None if self._batch is None else self._batch.future

    def step(self, phase1_waiting: bool) -> list[str]:
        """Commit a finished batch and start the next one; returns paths now searchable
        by meaning."""
        done: list[str] = []
        if self._batch is not None and self._batch.future.done():
            done = self._finish()
        if self._batch is None and self.state(phase1_waiting) == "running":
            self._launch()
        return done

    def state(self, phase1_waiting: bool = False) -> EmbedState:
        """What phase 2 is doing now (for progress)."""
        if self._batch is not None:
            return "running"
        if self.paused:
            return "paused"
        if self._check_battery():
            return "battery"
        if phase1_waiting:
            return "waiting"
        if time.monotonic() < self._retry_at:
            return "backoff"
        return "idle" if self._exhausted else "running"

    @property
    def settled(self) -> bool:
        """Nothing in flight and nothing left that phase 2 may do now."""
        return self._batch is None and (self._exhausted or self.state() != "running")

    def _check_battery(self) -> bool:
        now = time.monotonic()
        if now - self._battery_checked >= self.config.battery_poll_s:
            self._battery_checked = now
            try:
                self._battery = bool(self._on_battery())
            except Exception:  # a broken probe must not stop indexing
                log.exception("battery probe failed")
                self._battery = False
        return self._battery

    def tokens_per_s(self) -> float:
        """Measured over the last few batches; the store's last figure before any."""
        tokens = sum(t for t, _ in self._speeds)
        seconds = sum(s for _, s in self._speeds)
        if seconds > 0 and tokens > 0:
            return tokens / seconds
        return self.store.embedding_rate()

    def _budget(self) -> int:
        rate = self.tokens_per_s()
        if rate <= 0:
            return self.config.first_tokens
        return max(self.config.min_tokens, int(rate * self.config.target_batch_s))

    def _launch(self) -> None:
        assert self._pool is not None, "open() first"
        work = self.store.embedding_work(
            self.fingerprint,
            max_tokens=self._budget(),
            max_chunks=self.config.max_chunks,
            slice_chunks=self.config.slice_chunks,
            max_failures=self.config.max_attempts,
        )
        if not work.file_ids:
            self._exhausted = True
            return
        texts, hashes = self._texts(work)
        self._batch = _Batch(work, hashes, self._pool.submit(self._embed, texts), time.monotonic())

    def _texts(self, work: EmbedWork) -> tuple[list[str], list[str]]:
        texts, hashes, stale = batch_texts(work, self.fingerprint.heading_prefix)
        if stale:  # stored under another chunking rule: those files need a re-index
            self.store.embedding_failed(self.fingerprint, stale, "chunks need re-indexing")
        return texts, hashes

    def _embed(self, texts: list[str]) -> Any:
        if not texts:
            return np.zeros((0, self.fingerprint.dim), dtype=np.float32)
        return self.embedder.embed_documents(texts)

    def _finish(self) -> list[str]:
        batch, self._batch = self._batch, None
        assert batch is not None
        seconds = time.monotonic() - batch.started
        try:
            matrix = batch.future.result()
        except Exception as exc:  # the model fell over: these files wait, the rest goes on
            log.exception("embedding failed")
            self._failed(batch.work, f"embedding failed: {type(exc).__name__}: {exc}")
            return []
        tokens = batch.work.tokens
        if batch.hashes:
            self._speeds.append((tokens, seconds))
        done = self.store.add_vectors(
            self.fingerprint, batch.hashes, matrix, batch.work.file_ids,
            tokens_per_s=self.tokens_per_s() if batch.hashes else None,
        )  # fmt: skip
        self.chunks += len(batch.hashes)
        self.tokens += tokens
        self._failures, self.error = 0, ""
        return done

    def _failed(self, work: EmbedWork, reason: str) -> None:
        self.error = reason
        counts = self.store.embedding_failed(self.fingerprint, work.file_ids, reason)
        limit = self.config.max_attempts
        self.given_up += [(path, reason) for path, n in counts if n == limit]
        self._failures += 1
        if self.backoff:
            delay = self.config.backoff_s * 2 ** (self._failures - 1)
            self._retry_at = time.monotonic() + delay
