"""The Qt-free search service: hybrid retrieval at once, then progressive reranking.

``search`` embeds the query, asks the store for vector and keyword hits (filters applied
inside both), fuses them with RRF and returns Results with snippets. ``rerank`` then scores
the top N with the cross-encoder in order, publishing the improved order after each batch;
any newer ``search`` (a higher request number) or ``is_cancelled()`` stops it.
Rerank scores are cached by (query, instruction, chunk hash, model id).

A hit's text is cut to ``MAX_HIT_CHARS`` before snippets and reranking see it: an index
built before chunks had a character limit may hold a 95 MB chunk, and a search must stay
fast whatever the index holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from app.snippets import best_snippet
from engine import registry
from engine.protocols import Embedder, Reranker
from storage import lexical
from storage.fusion import rrf
from storage.models import Chunk, DocumentInfo, Fingerprint, Hit, SearchFilters
from storage.store import Store

Mode = Literal["hybrid", "vector", "keyword"]
CPU_RERANK_DEPTH = 20
GPU_RERANK_DEPTH = 50
#: Most characters of one hit used for its snippet and its rerank text.
MAX_HIT_CHARS = 32_768


@dataclass(frozen=True)
class SearchOptions:
    """Per-search choices; the defaults suit the search box."""

    k: int = 20
    filters: SearchFilters | None = None
    instruction: str | None = None  # query task text (Qwen3); None = the model's default
    mode: Mode = "hybrid"
    weights: dict[str, float] = field(default_factory=lambda: {"vector": 1.0, "keyword": 1.0})
    candidates: int = 100  # hits taken from each list before fusion
    rerank_depth: int | None = None  # None = the service's default (CPU small, GPU larger)
    rerank_batch: int = 4


@dataclass(frozen=True)
class Result:
    """One hit as the CLI and the window show it."""

    chunk_id: int
    path: str
    score: float
    snippet: str
    spans: list[tuple[int, int]]
    page: int | None
    heading: str | None
    start: int
    end: int
    scores: dict[str, float | None]
    mtime: float
    size: int
    content_hash: str
    text: str
    ocr: bool = False  # the text was recognised in an image (a scan, a photo)
    document: DocumentInfo | None = None  # the mail message this chunk belongs to

    def to_json(self) -> dict[str, Any]:
        """The ``quarry search --json`` shape."""
        out: dict[str, Any] = {
            "path": self.path,
            "score": self.score,
            "snippet": self.snippet,
            "spans": [list(span) for span in self.spans],  # matched words within the snippet
            "page": self.page,
            "start": self.start,
            "end": self.end,
            "heading": self.heading,
            "scores": dict(self.scores),
            "ocr": self.ocr,
        }
        if self.document is not None:
            doc = self.document
            out["mail"] = {"subject": doc.title, "from": doc.sender, "to": doc.recipients,
                           "date": doc.date, "key": doc.key}  # fmt: skip
        return out


def instruction_note(instruction: str | None) -> str | None:
    """A hint when a query instruction is not English: Qwen3's model card advises English
    instructions for every language, queries and documents in any language included."""
    lang = lexical.detect(instruction or "")
    if lang is None or lang == "en":
        return None
    return (
        f"the instruction looks like '{lang}', not English; Qwen3 models were trained with "
        "English instructions and work best with them for queries and documents in any "
        "language (the 'multilingual' preset is one)"
    )


def query_fingerprint(embedder: Embedder) -> Fingerprint:
    """The embedding-space identity of ``embedder`` (what a query must match)."""
    info = embedder.info
    return Fingerprint(info.model_id, info.revision, embedder.dim, info.pooling)


class SearchService:
    """Searches one index through a read-only connection; safe to call from worker threads."""

    def __init__(
        self,
        store_path: Path | str,
        embedder: Embedder | None,
        reranker: Reranker | None = None,
        *,
        rerank_depth: int = CPU_RERANK_DEPTH,
        cache_size: int = 4096,
    ) -> None:
        self.store = Store.open(store_path, readonly=True)
        self.embedder = embedder
        self.reranker = reranker
        self.rerank_depth = rerank_depth
        self._lock = threading.Lock()
        self._request = 0
        self._cache: OrderedDict[tuple[str, str, str, str], float] = OrderedDict()
        self._cache_size = cache_size

    def close(self) -> None:
        """Close the connection (models belong to the caller)."""
        self.store.close()

    def cancel(self) -> None:
        """Outdate any running rerank without starting a new search."""
        self._request += 1

    def warm(self) -> int:
        """Load the vector index into memory ahead of the first search; returns its rows."""
        with self._lock:
            return self.store.load_vector_index()

    # ---- first stage -------------------------------------------------------------------

    def search(self, query: str, options: SearchOptions | None = None) -> list[Result]:
        """Fused results, best first (raises FingerprintMismatch for a foreign embedder)."""
        self._request += 1
        opts = options or SearchOptions()
        if not query.strip():
            return []
        lists: dict[str, list[int]] = {}
        by_source: dict[str, dict[int, float]] = {}
        if self._use_vectors(query, opts):
            hits = self._vector_hits(query, opts)
            lists["vector"], by_source["vector"] = _unzip(hits)
        if opts.mode in ("hybrid", "keyword"):
            with self._lock:
                hits = self.store.keyword_search(query, opts.candidates, opts.filters)
            lists["keyword"], by_source["keyword"] = _unzip(hits)
        fused = rrf(lists, opts.weights)[: opts.k]
        with self._lock:
            chunks = self.store.chunks_by_id(cid for cid, _ in fused)
            docs = self.store.documents_by_id(
                c.doc_id for c in chunks.values() if c.doc_id is not None
            )
        return [
            _result(chunks[cid], score, query, by_source, docs)
            for cid, score in fused
            if cid in chunks
        ]

    def _use_vectors(self, query: str, opts: SearchOptions) -> bool:
        """Vector hits join unless the model cannot read the query's language.

        An English-only model (the starter) embeds a German or Chinese query as noise:
        on the multilingual benchmark, fusing those vectors cut German hybrid MRR@10 from
        0.76 (keywords alone) to 0.35. Queries whose likeliest language is not English are
        answered by keywords; explicit ``mode="vector"`` still gets vectors.
        """
        if self.embedder is None or opts.mode == "keyword":
            return False
        entry = registry.lookup(self.embedder.info.model_id)
        if opts.mode == "vector" or entry is None or entry.multilingual:
            return True
        with self._lock:
            langs = self.store.query_languages(query)
        return not langs or langs[0] == "en"

    def _vector_hits(self, query: str, opts: SearchOptions) -> list[Hit]:
        assert self.embedder is not None
        vector = self.embedder.embed_query(query, opts.instruction)
        with self._lock:
            return self.store.vector_search(
                vector,
                opts.candidates,
                opts.filters,
                fingerprint=query_fingerprint(self.embedder),
            )

    # ---- second stage ------------------------------------------------------------------

    def rerank(
        self,
        query: str,
        results: list[Result],
        options: SearchOptions | None,
        on_update: Callable[[list[Result]], None],
        is_cancelled: Callable[[], bool] = lambda: False,
    ) -> list[Result]:
        """Rerank the top N in order, publishing each improvement; returns the last order.

        Stops (keeping what it has) when ``is_cancelled()`` or a newer request appears.
        """
        opts = options or SearchOptions()
        if self.reranker is None or not results:
            return results
        generation = self._request
        depth = min(len(results), opts.rerank_depth or self.rerank_depth)
        scored = self._cached_scores(query, opts.instruction, results[:depth])
        if scored:
            on_update(_ordered(results, scored, depth))
        todo = [r for r in results[:depth] if r.chunk_id not in scored]
        for start in range(0, len(todo), max(1, opts.rerank_batch)):
            if is_cancelled() or generation != self._request:
                break
            batch = todo[start : start + opts.rerank_batch]
            probs = self.reranker.rank(query, [r.text for r in batch], opts.instruction)
            if is_cancelled() or generation != self._request:
                break
            for result, prob in zip(batch, probs, strict=True):
                scored[result.chunk_id] = float(prob)
                self._remember(query, opts.instruction, result.content_hash, float(prob))
            on_update(_ordered(results, scored, depth))
        return _ordered(results, scored, depth)

    def _key(self, query: str, instruction: str | None, content_hash: str) -> tuple[str, ...]:
        assert self.reranker is not None
        return (query, instruction or "", content_hash, self.reranker.info.model_id)

    def _cached_scores(
        self, query: str, instruction: str | None, results: list[Result]
    ) -> dict[int, float]:
        out: dict[int, float] = {}
        for r in results:
            key = self._key(query, instruction, r.content_hash)
            if key in self._cache:
                self._cache.move_to_end(key)  # type: ignore[arg-type]
                out[r.chunk_id] = self._cache[key]  # type: ignore[index]
        return out

    def _remember(self, query: str, instruction: str | None, content_hash: str, p: float) -> None:
        key = self._key(query, instruction, content_hash)
        self._cache[key] = p  # type: ignore[index]
        self._cache.move_to_end(key)  # type: ignore[arg-type]
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _unzip(hits: list[Hit]) -> tuple[list[int], dict[int, float]]:
    return [h.chunk_id for h in hits], {h.chunk_id: h.score for h in hits}


def _result(
    chunk: Chunk,
    score: float,
    query: str,
    by_source: dict[str, dict[int, float]],
    docs: dict[int, DocumentInfo],
) -> Result:
    text = chunk.text[:MAX_HIT_CHARS]
    snip = best_snippet(text, query)
    return Result(
        chunk_id=chunk.id,
        path=chunk.path,
        score=score,
        snippet=snip.text,
        spans=snip.spans,
        page=chunk.page,
        heading=chunk.heading,
        start=chunk.start,
        end=chunk.end,
        scores={
            "vector": by_source.get("vector", {}).get(chunk.id),
            "keyword": by_source.get("keyword", {}).get(chunk.id),
            "rerank": None,
        },
        mtime=chunk.mtime,
        size=chunk.size,
        content_hash=chunk.content_hash,
        text=text,
        ocr=chunk.ocr,
        document=None if chunk.doc_id is None else docs.get(chunk.doc_id),
    )


def _ordered(results: list[Result], scored: dict[int, float], depth: int) -> list[Result]:
    """Reranked results first (by P(yes)), then the unscored top in fused order, then the rest."""
    head = results[:depth]
    done = sorted((r for r in head if r.chunk_id in scored), key=lambda r: -scored[r.chunk_id])
    waiting = [r for r in head if r.chunk_id not in scored]
    marked = [
        replace(r, score=scored[r.chunk_id], scores={**r.scores, "rerank": scored[r.chunk_id]})
        for r in done
    ]
    return [*marked, *waiting, *results[depth:]]
