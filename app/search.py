"""The Qt-free search service: files found at once, then progressive reranking.

``search`` reads the query language (``app.query``), embeds the words, asks the store for
vector and keyword hits (filters applied inside both), fuses them per file
(``app.results.fuse_files``), merges each file's matching chunks into passages, and
decides what is plausibly relevant (``app.relevance``): strong files first, weak ones
flagged. ``passages`` keeps the flat chunk list for scripts; ``similar`` finds files like
a given one from its stored vectors, with no model call. ``rerank`` then scores the top
files' best passages with the cross-encoder in order, publishing the improved order after
each batch; any newer ``search`` (a higher request number) or ``is_cancelled()`` stops
it. Rerank scores are cached by (query, instruction, passage text, model id).

Errors: ``SearchError`` (a file that is not in the index, a passage it does not have);
storage and engine errors pass through unchanged.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

import numpy as np

from app import confidence, preview, relevance, results
from app.preview import DocumentText
from app.query import ParsedQuery, parse
from app.results import Passage, Result, Run
from app.snippets import best_snippet, coverage, term_groups
from engine import registry
from engine.errors import EngineError
from engine.protocols import Embedder, Reranker
from engine.registry import Fusion, RelevanceCalibration
from storage import lexical
from storage.fts import DEFAULT_WEIGHTS, KeywordWeights
from storage.fusion import rrf
from storage.models import Chunk, DocumentInfo, Fingerprint, Hit, SearchFilters
from storage.store import Store
from storage.vectors import FloatArray

__all__ = ["Passage", "Result", "SearchError", "SearchOptions", "SearchService"]

log = logging.getLogger(__name__)
Mode = Literal["hybrid", "vector", "keyword"]
T = TypeVar("T")
CPU_RERANK_DEPTH = 20
GPU_RERANK_DEPTH = 50
#: Most characters of one hit used for its snippet and its rerank text.
MAX_HIT_CHARS = results.MAX_PASSAGE_CHARS
#: Passages kept per file (the best ones); "N more matches" counts these.
MAX_PASSAGES = 8


class SearchError(Exception):
    """A request the index cannot answer (an unknown file or passage); shown as is."""


@dataclass(frozen=True)
class SearchOptions:
    """Per-search choices; the defaults suit the search box (tuned in benchmarks/tune.py)."""

    k: int = 20  # files
    filters: SearchFilters | None = None
    instruction: str | None = None  # query task text (Qwen3); None = the model's default
    mode: Mode = "hybrid"
    fusion: Fusion | None = None  # None: what the embedder's model was tuned for (registry)
    passage_bonus: float = 0.0  # per further distinct matching passage of a file
    keyword: KeywordWeights = DEFAULT_WEIGHTS
    cutoff: bool = True  # flag weak files (False: every file is shown, as before)
    parse: bool = True  # read the query language (False: search the text as it is)
    rerank_depth: int | None = None  # None: the service's default (CPU small, GPU larger); 0: off
    rerank_batch: int = 4


@dataclass
class _Found:
    """Both retrievers' ranked chunk ids and scores for one query."""

    lists: dict[str, list[int]] = field(default_factory=dict)
    by_source: dict[str, dict[int, float]] = field(default_factory=dict)
    query_vector: FloatArray | None = None


def results_json(results: list[Result], *, show_weak: bool = False) -> list[dict[str, Any]]:
    """Results as ``quarry search --json`` prints them; the HTTP and MCP servers answer
    with this too, so a script sees the same objects whichever way it asks. Weak matches
    (below the model's relevance floor) only with ``show_weak``, as ``--all`` asks."""
    return [r.to_json() for r in results if show_weak or not r.weak]


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
        store_path: object,
        embedder: Embedder | None,
        reranker: Reranker | None = None,
        *,
        rerank_depth: int = CPU_RERANK_DEPTH,
        cache_size: int = 4096,
    ) -> None:
        self.store = Store.open(store_path, readonly=True)  # type: ignore[arg-type]
        self.embedder = embedder
        self.reranker = reranker
        self.rerank_depth = rerank_depth
        self._lock = threading.Lock()
        self._request = 0
        self._cache: OrderedDict[tuple[str, ...], float] = OrderedDict()
        self._cache_size = cache_size
        self.vector_problem: str | None = None

    def close(self) -> None:
        """Close the connection (models belong to the caller)."""
        self.store.close()

    def cancel(self) -> None:
        """Outdate any running rerank without starting a new search."""
        self._request += 1

    @property
    def calibration(self) -> RelevanceCalibration | None:
        """The embedder's measured relevance calibration, if the registry has one."""
        if self.embedder is None:
            return None
        entry = registry.lookup(self.embedder.info.model_id)
        return entry.relevance if entry is not None else None

    @property
    def fusion(self) -> Fusion:
        """How the embedder's model was tuned to be fused with keywords (the default when
        the registry does not know it, or with no embedder)."""
        entry = registry.lookup(self.embedder.info.model_id) if self.embedder else None
        return entry.fusion if entry is not None else Fusion()

    def _tuned(self, options: SearchOptions | None) -> SearchOptions:
        """``options`` with the model's fusion where the caller left it open."""
        opts = options or SearchOptions()
        return opts if opts.fusion is not None else replace(opts, fusion=self.fusion)

    def warm(self) -> int:
        """Load the vector index into memory ahead of the first search; returns its rows."""
        with self._lock:
            return self.store.load_vector_index()

    def active_fingerprint(self) -> Fingerprint | None:
        """The embedding space the index answers in now (a rebuild may have swapped it)."""
        with self._lock:
            return self.store.fingerprint()

    def context(
        self,
        path: str,
        passage: tuple[int, int],
        query: str,
        *,
        span: tuple[int, int] | None = None,
        doc_id: int | None = None,
    ) -> DocumentText:
        """The document around ``passage`` (or the file span ``span``) as the preview shows
        it: chunks joined without their overlap, every match of ``query`` marked. A mail
        message (``doc_id``) comes whole, headers first, without its neighbours."""
        with self._lock:
            if doc_id is not None:
                chunks = self.store.document_chunks(doc_id)
                length = max((c.end for c in chunks), default=0)
            else:
                length = self.store.text_length(path)
                start, end = span or preview.window(*passage, length)
                chunks = self.store.chunks_between(path, start, end)
        return preview.document_text(chunks, passage, query, length, preview.page_label(path))

    # ---- first stage -------------------------------------------------------------------

    def search(self, query: str, options: SearchOptions | None = None) -> list[Result]:
        """Files, strong ones first (raises FingerprintMismatch for a foreign embedder)."""
        return self._answer(query, options, self._files)

    def passages(self, query: str, options: SearchOptions | None = None) -> list[Passage]:
        """The flat list of fused chunks, best first (``quarry search --passages``)."""
        return self._answer(query, options, self._flat)

    def confidence(self, query: str, options: SearchOptions | None = None) -> tuple[float, float]:
        """(vector spread, keyword lead) of one query as the fusion reads them
        (``app.confidence``); ``benchmarks/tune.py`` takes a model's medians of these."""
        opts = self._tuned(options)
        return self._signals(self._retrieve(self._parse(query, opts), opts))

    def _answer(
        self,
        query: str,
        options: SearchOptions | None,
        finish: Callable[[ParsedQuery, _Found, SearchOptions], list[T]],
    ) -> list[T]:
        """A new request (outdating running reranks): parse, retrieve from both sources and
        ``finish``; nothing when no words are left once the operators are taken out."""
        opts = self._tuned(options)
        self._request += 1
        parsed = self._parse(query, opts)
        if not parsed.text.strip():
            return []
        return finish(parsed, self._retrieve(parsed, opts), opts)

    def _flat(self, parsed: ParsedQuery, found: _Found, opts: SearchOptions) -> list[Passage]:
        chunks = self._found_chunks(found)
        weights = _weights(found, _file_of(chunks), opts)
        fused = rrf(found.lists, weights, _fusion(opts).rrf_k)[: opts.k]
        context = _Context(parsed.text, dict(fused), found.by_source, {}, ())
        return [
            _passage(Run((chunks[cid],), chunks[cid].start), context)
            for cid, _ in fused
            if cid in chunks
        ]

    def _found_chunks(self, found: _Found) -> dict[int, Chunk]:
        """Every chunk either list found."""
        with self._lock:
            return self.store.chunks_by_id({c for ids in found.lists.values() for c in ids})

    def _signals(self, found: _Found) -> tuple[float, float]:
        chunks = self._found_chunks(found)
        return confidence.signals(found.lists, found.by_source, _file_of(chunks))

    def _parse(self, query: str, opts: SearchOptions) -> ParsedQuery:
        return parse(query) if opts.parse else ParsedQuery(source=query, text=query)

    def _retrieve(self, parsed: ParsedQuery, opts: SearchOptions) -> _Found:
        found = _Found()
        filters = parsed.filters(opts.filters)
        self.vector_problem = None
        if self._use_vectors(parsed.text, opts):
            self._add_vector_hits(found, parsed.text, opts, filters)
        if opts.mode in ("hybrid", "keyword"):
            with self._lock:
                hits = self.store.keyword_search(
                    parsed.text, _fusion(opts).candidates, filters, opts.keyword
                )
            found.lists["keyword"], found.by_source["keyword"] = _unzip(hits)
        return found

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

    def _add_vector_hits(
        self, found: _Found, text: str, opts: SearchOptions, filters: SearchFilters | None
    ) -> None:
        """Fill ``found``'s vector side; on a model failure leave it out, so keyword hits
        still answer.

        Whatever breaks on the vector side (a model error, a dimension it cannot give),
        keyword search keeps working; ``vector_problem`` says why meaning was left out.
        """
        try:
            found.query_vector = self._embed(text, opts)
            hits = self._vector_hits(found.query_vector, _fusion(opts).candidates, filters)
        except EngineError as exc:
            if opts.mode == "vector":
                raise
            found.query_vector = None
            self.vector_problem = f"search by meaning failed ({exc}); keyword matches only"
            log.warning("%s", self.vector_problem)
            return
        found.lists["vector"], found.by_source["vector"] = _unzip(hits)

    def _embed(self, text: str, opts: SearchOptions) -> FloatArray:
        assert self.embedder is not None
        return self.embedder.embed_query(text, opts.instruction)

    def _vector_hits(
        self, vector: FloatArray, k: int, filters: SearchFilters | None, *, check: bool = True
    ) -> list[Hit]:
        fingerprint = query_fingerprint(self.embedder) if check and self.embedder else None
        with self._lock:
            return self.store.vector_search(vector, k, filters, fingerprint=fingerprint)

    def _files(self, parsed: ParsedQuery, found: _Found, opts: SearchOptions) -> list[Result]:
        """Group chunk hits into files, judge them, and return strong files first."""
        chunks = self._found_chunks(found)
        file_of = _file_of(chunks)
        weights, rrf_k = _weights(found, file_of, opts), _fusion(opts).rrf_k
        chunk_scores = dict(rrf(found.lists, weights, rrf_k))
        file_scores = results.fuse_files(found.lists, file_of, weights, rrf_k)
        groups = _by_file(chunks.values(), chunk_scores)
        ranked = sorted(
            file_scores,
            key=lambda p: -results.with_bonus(file_scores[p], len(groups[p]), opts.passage_bonus),
        )[: 2 * opts.k]
        hit_chunks = [c for key in ranked for run in groups[key] for c in run.chunks]
        context = _Context(
            parsed.text,
            chunk_scores,
            found.by_source,
            self._cosines(found.query_vector, hit_chunks),
            term_groups(parsed.text),
        )
        docs = self._documents(hit_chunks)
        candidates = [
            _file(groups[key], file_scores[key], context, opts.passage_bonus, docs)
            for key in ranked
        ]
        calibrated = opts.cutoff and found.query_vector is not None
        return self._judged(candidates, parsed, calibrated)[: opts.k]

    def _documents(self, chunks: Sequence[Chunk]) -> dict[int, DocumentInfo]:
        ids = {c.doc_id for c in chunks if c.doc_id is not None}
        if not ids:
            return {}
        with self._lock:
            return self.store.documents_by_id(ids)

    def _cosines(self, vector: FloatArray | None, chunks: Sequence[Chunk]) -> dict[int, float]:
        if vector is None or not chunks:
            return {}
        with self._lock:
            return self.store.cosines(vector, (c.id for c in chunks))

    def _judged(
        self, candidates: list[Result], parsed: ParsedQuery, calibrated: bool
    ) -> list[Result]:
        """Flag weak files (strong ones first); ``calibrated`` is False when there is no
        query vector (keyword mode, or a language the model cannot read): without
        calibrated evidence nothing is cut off."""
        calibration = self.calibration if calibrated else None
        evidence = [
            relevance.Evidence(
                _best_cosine(r), max(p.coverage for p in r.passages), bool(parsed.phrases)
            )
            for r in candidates
        ]
        judged = [
            replace(
                r, weak=v.weak, relevance=v.relevance, level=v.level, keyword_match=e.keyword_match
            )
            for r, e, v in zip(candidates, evidence, relevance.judge(evidence, calibration), strict=True)
        ]  # fmt: skip
        strong = [r for r in judged if not r.weak]
        weak = [r for r in judged if r.weak]
        return [*strong, *weak]

    # ---- more like this ----------------------------------------------------------------

    def similar(
        self, path: str, passage: int | None = None, options: SearchOptions | None = None
    ) -> list[Result]:
        """Files like ``path`` (or like its chunk number ``passage``), from stored vectors.

        No model is called, so it works offline on any backend; the file itself is left out.
        """
        self._request += 1
        opts = self._tuned(options)
        with self._lock:
            chunks, matrix = self.store.file_vectors(path)
        if not chunks:
            raise SearchError(f"{path} is not in the index (or has no vectors yet)")
        rows = [i for i, c in enumerate(chunks) if passage is None or c.ordinal == passage]
        if not rows:
            raise SearchError(f"{path} has no passage {passage} (it has 0..{len(chunks) - 1})")
        centre = matrix[rows].mean(axis=0)
        centre = centre / (float(np.linalg.norm(centre)) or 1.0)
        depth = _fusion(opts).candidates + len(chunks)
        hits = self._vector_hits(centre, depth, opts.filters, check=False)
        with self._lock:
            found_chunks = self.store.chunks_by_id(h.chunk_id for h in hits)
        hits = [
            h for h in hits if h.chunk_id in found_chunks and found_chunks[h.chunk_id].path != path
        ]
        found = _Found({"vector": [h.chunk_id for h in hits]}, {"vector": dict(_unzip(hits)[1])})
        found.query_vector = centre
        plain = ParsedQuery(source="", text="")
        return self._files(plain, found, replace(opts, cutoff=False))

    # ---- second stage ------------------------------------------------------------------

    def rerank(
        self,
        query: str,
        results_: list[Result],
        options: SearchOptions | None,
        on_update: Callable[[list[Result]], None],
        is_cancelled: Callable[[], bool] = lambda: False,
    ) -> list[Result]:
        """Rerank the top strong files in order, publishing each improvement.

        Each file is scored by its best passage; stops (keeping what it has) when
        ``is_cancelled()`` or a newer request appears. Weak files are left as they are.
        """
        opts = options or SearchOptions()
        if self.reranker is None or not results_:
            return results_
        text = self._parse(query, opts).text
        generation = self._request
        strong = [r for r in results_ if not r.weak]
        wanted = self.rerank_depth if opts.rerank_depth is None else opts.rerank_depth
        depth = min(len(strong), wanted)
        scored = self._cached_scores(text, opts.instruction, strong[:depth])
        if scored:
            on_update(_ordered(results_, scored, depth))
        todo = [r for r in strong[:depth] if r.key not in scored]
        for start in range(0, len(todo), max(1, opts.rerank_batch)):
            if is_cancelled() or generation != self._request:
                break
            batch = todo[start : start + opts.rerank_batch]
            probs = self.reranker.rank(text, [r.text for r in batch], opts.instruction)
            if is_cancelled() or generation != self._request:
                break
            for result, prob in zip(batch, probs, strict=True):
                scored[result.key] = float(prob)
                self._remember(text, opts.instruction, result.text, float(prob))
            on_update(_ordered(results_, scored, depth))
        return _ordered(results_, scored, depth)

    def _key(self, query: str, instruction: str | None, text: str) -> tuple[str, ...]:
        assert self.reranker is not None
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
        return (query, instruction or "", digest, self.reranker.info.model_id)

    def _cached_scores(
        self, query: str, instruction: str | None, found: list[Result]
    ) -> dict[str, float]:
        out: dict[str, float] = {}
        for r in found:
            key = self._key(query, instruction, r.text)
            if key in self._cache:
                self._cache.move_to_end(key)
                out[r.key] = self._cache[key]
        return out

    def _remember(self, query: str, instruction: str | None, text: str, p: float) -> None:
        key = self._key(query, instruction, text)
        self._cache[key] = p
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _unzip(hits: list[Hit]) -> tuple[list[int], dict[int, float]]:
    return [h.chunk_id for h in hits], {h.chunk_id: h.score for h in hits}


def _by_file(chunks: Iterable[Chunk], chunk_scores: dict[int, float]) -> dict[str, list[Run]]:
    """Each file's (or mail message's) hit chunks merged into runs, best run first (at most
    MAX_PASSAGES), by ``results.chunk_key``."""
    per_file: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        per_file.setdefault(results.chunk_key(chunk), []).append(chunk)
    out: dict[str, list[Run]] = {}
    for path, found in per_file.items():
        runs = results.merge_runs(found)
        runs.sort(key=lambda run: -max(chunk_scores.get(c.id, 0.0) for c in run.chunks))
        out[path] = runs[:MAX_PASSAGES]
    return out


@dataclass(frozen=True)
class _Context:
    """What every passage of one search is scored against."""

    query: str
    chunk_scores: dict[int, float]
    by_source: dict[str, dict[int, float]]
    cosines: dict[int, float]
    groups: tuple[tuple[str, ...], ...]


def _passage(run: Run, ctx: _Context) -> Passage:
    """One merged run as a Passage with its snippet, scores and term coverage."""
    best = max(run.chunks, key=lambda c: ctx.chunk_scores.get(c.id, 0.0))
    ordered = run.chunks
    text = run.text()
    snip = best_snippet(text, ctx.query)
    vector = _best(ctx.cosines or ctx.by_source.get("vector", {}), ordered)
    keyword = _best(ctx.by_source.get("keyword", {}), ordered)
    fields = f"{lexical.name_of(best.path)}\n{best.heading or ''}\n{text}"
    return Passage(
        path=best.path,
        chunk_ids=(best.id, *(c.id for c in ordered if c.id != best.id)),
        ordinal=ordered[0].ordinal,
        start=run.begin,
        end=run.end,
        page=best.page,
        heading=best.heading,
        text=text,
        score=ctx.chunk_scores.get(best.id, 0.0),
        scores={"vector": vector, "keyword": keyword, "rerank": None},
        snippet=snip.text,
        spans=snip.spans,
        coverage=coverage(fields, ctx.groups),
        content_hash=best.content_hash,
        ocr=any(c.ocr for c in ordered),
    )


def _best(scores: dict[int, float], run: Sequence[Chunk]) -> float | None:
    values = [scores[c.id] for c in run if c.id in scores]
    return max(values) if values else None


def _file(
    runs: list[Run], score: float, ctx: _Context, bonus: float, docs: dict[int, DocumentInfo]
) -> Result:
    passages = tuple(_passage(run, ctx) for run in runs)
    file_score = results.with_bonus(score, len(passages), bonus)
    first = runs[0].chunks[0]
    return Result(
        path=first.path,
        document=None if first.doc_id is None else docs.get(first.doc_id),
        score=file_score,
        passages=passages,
        mtime=first.mtime,
        size=first.size,
        fused=file_score,
    )


def _best_cosine(result: Result) -> float | None:
    values = [p.scores["vector"] for p in result.passages if p.scores["vector"] is not None]
    return max(values) if values else None  # type: ignore[type-var]


def _ordered(found: list[Result], scored: dict[str, float], depth: int) -> list[Result]:
    """Reranked files first (by P(yes)), then the unscored strong top in fused order, then
    the rest of the strong files, then the weak ones."""
    strong = [r for r in found if not r.weak]
    weak = [r for r in found if r.weak]
    head = strong[:depth]
    done = sorted((r for r in head if r.key in scored), key=lambda r: -scored[r.key])
    waiting = [r for r in head if r.key not in scored]
    marked = [_reranked(r, scored[r.key]) for r in done]
    return [*marked, *waiting, *strong[depth:], *weak]


def _reranked(result: Result, p: float) -> Result:
    best = replace(result.best, scores={**result.best.scores, "rerank": p})
    return replace(
        result,
        score=p,
        relevance=p,
        level=relevance.level_of(p),
        passages=(best, *result.passages[1:]),
    )


def _fusion(opts: SearchOptions) -> Fusion:
    """The fusion of options that went through ``SearchService._tuned``."""
    return opts.fusion or Fusion()


def _file_of(chunks: Mapping[int, Chunk]) -> dict[int, str]:
    """Each chunk's result key (its file, or its mail message)."""
    return {cid: results.chunk_key(chunk) for cid, chunk in chunks.items()}


def _weights(found: _Found, file_of: Mapping[int, str], opts: SearchOptions) -> dict[str, float]:
    """RRF weights per list: keyword hits count 1, vector hits as the model was tuned and,
    where it was tuned so, as sure as the vector list is of this query (``app.confidence``)."""
    return confidence.weights(found.lists, found.by_source, file_of, _fusion(opts))
