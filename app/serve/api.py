"""The read-only operations both servers offer: search, similar, get, status.

``ReadApi`` searches with ``app.search.SearchService``, exactly as ``quarry search`` does
(same options, same result JSON, via ``app.search.results_json``), finds files like a file
with ``SearchService.similar`` exactly as ``quarry similar`` does (stored vectors, no model),
and reads documents from the index through read-only connections: no operation here
writes, deletes or indexes.

Each concurrent request borrows its own ``SearchService`` from a small pool; the services
share the loaded models. One service per request matters: a service's ``search`` outdates
its running ``rerank`` (that is how typing cancels in the window), so two requests on one
service would cut each other's reranking short.

The models come from a ``ModelSource``: ``quarry serve`` and ``quarry mcp`` load them once;
the window lends the ones it already has, and may swap them (a new model, a rebuilt index
at another dimension), which the pool notices on the next request.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app import __version__
from app.search import SearchError, SearchOptions, SearchService, results_json
from app.serve import documents
from app.serve.arguments import (
    DEFAULT_CHARS,
    MAX_BODY_BYTES,
    MAX_CHARS,
    MAX_K,
    MAX_NEIGHBOURS,
    MAX_QUERY_CHARS,
    Refusal,
    SearchRequest,
    SimilarRequest,
    bounded,
    checked_path,
    text,
)
from app.settings import Settings
from engine.errors import EngineError
from engine.instructions import preset_or_default, resolve_instruction
from engine.protocols import Embedder, Reranker
from storage.errors import FingerprintMismatch, StorageError
from storage.models import Chunk, SearchFilters
from storage.store import Store

Models = tuple[Embedder | None, Reranker | None]
ModelSource = Callable[[], Models]


def unavailable(exc: Exception) -> Refusal:
    """The environment's fault (no index yet, another model, a model that failed)."""
    if isinstance(exc, FingerprintMismatch):
        return Refusal("model_mismatch", str(exc), 503)
    if isinstance(exc, StorageError):
        return Refusal("index_unavailable", str(exc), 503)
    return Refusal("model_unavailable", str(exc), 503)


class _Pool:
    """Search services over one index, sharing the current models, lent one per request."""

    def __init__(self, db_path: Path, size: int, rerank_depth: int) -> None:
        self.db_path = db_path
        self.rerank_depth = rerank_depth
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[SearchService] = []
        self._models: Models = (None, None)

    @contextlib.contextmanager
    def lend(self, models: Models) -> Iterator[SearchService]:
        """A service for ``models``, returned to the pool afterwards."""
        with self._slots:
            service = self._take(models)
            try:
                yield service
            finally:
                self._give(service)

    def _take(self, models: Models) -> SearchService:
        with self._lock:
            if any(a is not b for a, b in zip(models, self._models, strict=True)):
                self._close_idle()
                self._models = models
            if self._idle:
                return self._idle.pop()
        embedder, reranker = models
        return SearchService(self.db_path, embedder, reranker, rerank_depth=self.rerank_depth)

    def _give(self, service: SearchService) -> None:
        with self._lock:
            current = service.embedder is self._models[0] and service.reranker is self._models[1]
            if current:
                self._idle.append(service)
                return
        service.close()  # built for models that were swapped meanwhile

    def _close_idle(self) -> None:
        for service in self._idle:
            service.close()
        self._idle.clear()

    def close(self) -> None:
        """Close idle services (the models belong to the ``ModelSource``)."""
        with self._lock:
            self._close_idle()


class ReadApi:
    """search / get / status over one index; safe to call from many threads."""

    def __init__(
        self,
        db_path: Path,
        models: ModelSource,
        settings: Settings,
        *,
        rerank_depth: int,
        workers: int = 2,
    ) -> None:
        self.db_path = db_path
        self.models = models
        self.settings = settings
        self._pool = _Pool(db_path, workers, rerank_depth)
        # ``similar`` needs no model, and its services have none, as in ``quarry similar``:
        # it answers while models load or fail, and judges results the way the CLI does.
        self._bare = _Pool(db_path, workers, rerank_depth)

    def close(self) -> None:
        """Close the index connections."""
        self._pool.close()
        self._bare.close()

    # ---- search ------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> dict[str, Any]:
        """Fused (and, when asked and possible, reranked) results, as ``quarry search``."""
        options = self._options(request)
        try:
            with self._pool.lend(self._models()) as service:
                results = service.search(request.query, options)
                reranked = self._reranks(service, request)
                if reranked:
                    results = service.rerank(request.query, results, options, lambda _r: None)
        except (StorageError, EngineError) as exc:
            raise unavailable(exc) from exc
        return {
            "query": request.query,
            "reranked": reranked,
            "results": results_json(results, show_weak=request.all),
        }

    def similar(self, request: SimilarRequest) -> dict[str, Any]:
        """Files like an indexed file (or one passage of it), as ``quarry similar --json``."""
        _, chunks = self.chunks(request.path)  # refused exactly as ``get`` refuses
        last = chunks[-1].ordinal
        if request.passage is not None and request.passage > last:
            raise Refusal("limit", f"'passage' must be from 0 to {last} for this file")
        options = SearchOptions(k=request.k, filters=request.filters())
        try:
            with self._bare.lend((None, None)) as service:
                results = service.similar(request.path, request.passage, options)
        except SearchError as exc:  # indexed, but its vectors are not stored yet
            raise Refusal("not_in_index", str(exc), 404) from exc
        except StorageError as exc:
            raise unavailable(exc) from exc
        found = results_json(results, show_weak=True)  # the CLI lists weak files too
        return {"path": request.path, "passage": request.passage, "results": found}

    def _models(self) -> Models:
        """The models to answer with now (loading them may fail: the environment's fault)."""
        try:
            return self.models()
        except EngineError as exc:
            raise unavailable(exc) from exc

    @staticmethod
    def _reranks(service: SearchService, request: SearchRequest) -> bool:
        """As the CLI: keyword-only searches are never reranked."""
        return request.rerank and request.mode != "keyword" and service.reranker is not None

    def _options(self, request: SearchRequest) -> SearchOptions:
        try:
            task = resolve_instruction(
                request.instruction,
                request.preset
                or preset_or_default(self.settings.query_preset, self.settings.custom_presets)[0],
                self.settings.custom_presets,
            )
        except KeyError as exc:
            raise Refusal("invalid_argument", str(exc.args[0])) from None
        after, before = request.dates()
        filters = SearchFilters(
            folders=request.folders(),
            extensions=request.extensions(),
            modified_after=after,
            modified_before=before,
            mail_only=request.mail_only(),
        )
        return SearchOptions(k=request.k, filters=filters, instruction=task, mode=request.mode)

    # ---- documents ---------------------------------------------------------------------

    def _open(self) -> Store:
        try:
            return Store.open(self.db_path, readonly=True)
        except StorageError as exc:
            raise unavailable(exc) from exc

    def chunks(self, path: object, message: object = None) -> tuple[str, list[Chunk]]:
        """The checked path and its chunks (of one ``message`` where the file holds mail);
        a refusal unless the index holds the file (and the message)."""
        checked = checked_path(path)
        with self._open() as store:
            record = store.get_file(checked)
            chunks = store.chunks(checked) if record is not None else []
            if record is not None and chunks:
                chunks = _message_chunks(store, checked, message, chunks)
        if record is None:
            raise Refusal("not_in_index", f"{checked} is not in the index", 404)
        if record.status != "ok" or not chunks:
            reason = f" ({record.error})" if record.error else ""
            raise Refusal(
                "not_in_index", f"{checked} is known but not indexed: {record.status}{reason}", 404
            )
        return checked, chunks

    def get(
        self,
        path: object,
        at: object = None,
        neighbours: object = 1,
        offset: object = 0,
        max_chars: object = DEFAULT_CHARS,
        message: object = None,
    ) -> dict[str, Any]:
        """A document's text from ``offset``, or the passage at ``at`` with its neighbours.

        A mail message inside an mbox is a document of its own, with offsets of its own:
        ``message`` (a result's ``mail.key``) says which one.
        """
        limit = bounded("max_chars", max_chars, 1, MAX_CHARS)
        checked, chunks = self.chunks(path, message)
        end = chunks[-1].end
        if at is None:
            span = documents.stitch(chunks, bounded("offset", offset, 0, end), limit)
            passage = None
        else:
            spread = bounded("neighbours", neighbours, 0, MAX_NEIGHBOURS)
            hit = documents.passage_index(chunks, bounded("at", at, 0, end))
            window = chunks[max(0, hit - spread) : hit + spread + 1]
            span = documents.stitch(window, window[0].start, limit)
            passage = documents.describe(chunks[hit])
        return {
            "path": checked,
            "message": message,
            "start": span.start,
            "end": span.end,
            "length": end,
            "truncated": span.more,
            "next_offset": span.end if span.more else None,
            "passage": passage,
            "text": span.text,
        }

    # ---- status ------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What the index holds, which models answer, and the limits requests must keep."""
        with self._open() as store:
            stats = store.stats(problem_limit=0)
            folders = [f.path for f in store.folders()]
        embedder, reranker = self._models()
        return {
            "version": __version__,
            "index": {
                "path": str(self.db_path),
                "folders": folders,
                "files": stats.files,
                "chunks": stats.chunks,
                "embeddings": stats.embeddings,
                "bytes": stats.db_bytes,
                "model": stats.fingerprint.describe() if stats.fingerprint else None,
                "rebuilding": stats.rebuilding.describe() if stats.rebuilding else None,
                "queued_jobs": stats.queued_jobs,
            },
            "embedder": _model(embedder),
            "reranker": _model(reranker),
            "limits": LIMITS,
        }


def _message_chunks(store: Store, path: str, message: object, chunks: list[Chunk]) -> list[Chunk]:
    """One message's chunks when the file holds several (each has its own offsets), else
    the file's; a refusal for a message the file lacks, or none where one is needed."""
    keys = store.document_keys(path)
    if message is None:
        if len(keys) > 1:
            raise Refusal(
                "message_needed",
                f"{path} holds {len(keys)} mail messages: pass `message` = a result's mail.key",
            )
        return chunks
    key = text("message", message, MAX_QUERY_CHARS, empty=True)  # an .eml's key is ""
    if key not in keys:
        raise Refusal("not_in_index", f"{path} holds no mail message with key {key!r}", 404)
    return store.document_chunks(keys[key])


LIMITS = {
    "k": MAX_K,
    "query_chars": MAX_QUERY_CHARS,
    "neighbours": MAX_NEIGHBOURS,
    "max_chars": MAX_CHARS,
    "body_bytes": MAX_BODY_BYTES,
}


def _model(model: Embedder | Reranker | None) -> dict[str, Any] | None:
    if model is None:
        return None
    info = model.info
    return {"model_id": info.model_id, "backend": info.backend, "family": info.family}
