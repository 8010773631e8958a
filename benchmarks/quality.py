"""Retrieval quality on Python's help topics: vector, keyword, hybrid (RRF), hybrid + rerank.

    python benchmarks/quality.py [--reranker SPEC] [--no-tiny] [--depth 20]

Writes each ``pydoc_data.topics`` entry as a ``.txt`` file, indexes the folder with the
starter model through the real ``Pipeline``, then runs the 48 hand-labelled queries of
``benchmarks/data/pydoc_queries.json`` through ``SearchService`` (``SearchOptions.mode``
picks vector / keyword / hybrid, exactly as the app does). Scores are at FILE level: chunk
hits are deduplicated to their file in rank order, relevance is binary, cut-off 10.
Baseline: keyword-only (BM25), measured in the same run; every mode prints its ratio to it.

A real reranker (``--reranker`` or a Qwen3 reranker found locally) adds "hybrid + rerank".
The tiny random Qwen3 reranker row (torch needed, ``--no-tiny`` skips it) only proves the
plumbing: its weights are random, so its figures say nothing about quality.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from report import index_folder, machine, mean, starter_spec, table, write_pydoc_corpus

from app.search import CPU_RERANK_DEPTH, Result, SearchOptions, SearchService
from engine.config import EmbedderConfig, RerankerConfig
from engine.factory import load_embedder, load_reranker
from engine.protocols import Reranker

QUERIES = Path(__file__).resolve().parent / "data" / "pydoc_queries.json"
CUTOFF = 10
CHUNK_K = 100  # chunks per search: enough distinct files for a file-level top 10


@dataclass(frozen=True)
class Query:
    """One labelled query: its text and the topics a Python programmer would open."""

    text: str
    relevant: frozenset[str]


@dataclass
class Scores:
    """Per-query metrics and timings of one mode."""

    recall: list[float]
    ndcg: list[float]
    seconds: list[float]


def load_queries(path: Path = QUERIES) -> list[Query]:
    """The labelled queries (``{"queries": [{"q": ..., "rel": [...]}, ...]}``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Query(item["q"], frozenset(item["rel"])) for item in data["queries"]]


def files_in_order(paths: Sequence[str], cutoff: int = CUTOFF) -> list[str]:
    """Topic names (file stems) of the first ``cutoff`` distinct files, best first."""
    seen: list[str] = []
    for path in paths:
        topic = Path(path).stem
        if topic not in seen:
            seen.append(topic)
            if len(seen) == cutoff:
                break
    return seen


def recall_at(ranked: Sequence[str], relevant: frozenset[str], cutoff: int = CUTOFF) -> float:
    """Share of the relevant files among the first ``cutoff``."""
    return len(set(ranked[:cutoff]) & relevant) / len(relevant)


def ndcg_at(ranked: Sequence[str], relevant: frozenset[str], cutoff: int = CUTOFF) -> float:
    """Binary-relevance nDCG: sum of 1/log2(rank+1) over hits, over the ideal ordering's."""
    dcg = sum(1 / math.log2(i + 2) for i, t in enumerate(ranked[:cutoff]) if t in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), cutoff)))
    return dcg / ideal


Runner = Callable[[str], list[Result]]


def evaluate(queries: Sequence[Query], run: Runner) -> Scores:
    """Run every query through ``run`` and score its file ranking."""
    scores = Scores([], [], [])
    for query in queries:
        started = time.perf_counter()
        results = run(query.text)
        scores.seconds.append(time.perf_counter() - started)
        ranked = files_in_order([r.path for r in results])
        scores.recall.append(recall_at(ranked, query.relevant))
        scores.ndcg.append(ndcg_at(ranked, query.relevant))
    return scores


def searcher(service: SearchService, mode: str) -> Runner:
    """The first stage in one mode (``SearchOptions.mode``), as the app calls it."""
    options = SearchOptions(k=CHUNK_K, candidates=CHUNK_K, mode=mode)  # type: ignore[arg-type]
    return lambda text: service.search(text, options)


def reranking(service: SearchService, depth: int) -> Runner:
    """Hybrid search, then ``SearchService.rerank`` over the top ``depth`` chunks."""
    options = SearchOptions(k=CHUNK_K, candidates=CHUNK_K, rerank_depth=depth)

    def run(text: str) -> list[Result]:
        first = service.search(text, options)
        return service.rerank(text, first, options, lambda _improved: None)

    return run


def tiny_reranker(folder: Path) -> Reranker | None:
    """The random tiny Qwen3 reranker (transformers); None without torch."""
    try:
        from tests.fixtures.tiny_models import build_tiny_qwen3

        path = build_tiny_qwen3(folder, reranker=True, seed=1)
        return load_reranker(RerankerConfig(model=str(path), backend="transformers"))
    except ImportError as exc:
        print(f"note: tiny reranker skipped ({exc})")
        return None


def real_reranker_spec(requested: str | None) -> str | None:
    """``--reranker``, else a Qwen3 reranker present locally, else None."""
    if requested:
        return requested
    from engine.resolve import default_reranker_spec

    return default_reranker_spec()


def row(name: str, s: Scores, base: Scores) -> list[str]:
    r, n, br, bn = mean(s.recall), mean(s.ndcg), mean(base.recall), mean(base.ndcg)
    return [
        name,
        f"{r:.3f}",
        f"{n:.3f}",
        f"{r / br:.2f}x" if br else "n/a",
        f"{n / bn:.2f}x" if bn else "n/a",
        f"{mean(s.seconds) * 1000:.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reranker", default=None, help="a real Qwen3 reranker spec")
    parser.add_argument("--no-tiny", action="store_true", help="skip the plumbing-check row")
    parser.add_argument("--depth", type=int, default=CPU_RERANK_DEPTH, help="chunks reranked")
    args = parser.parse_args()
    queries = load_queries()
    spec = starter_spec()
    embedder = load_embedder(EmbedderConfig(model=spec))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pydoc"
        topics = write_pydoc_corpus(folder)
        db = Path(tmp) / "index.sqlite3"
        started = time.perf_counter()
        _, chunks = index_folder(folder, db, embedder, spec)
        index_s = time.perf_counter() - started
        service = SearchService(db, embedder)
        service.search("warm up", SearchOptions())
        results = {m: evaluate(queries, searcher(service, m)) for m in ("keyword", "vector")}
        results["hybrid"] = evaluate(queries, searcher(service, "hybrid"))
        base = results["keyword"]
        rows = [
            row("keyword only (BM25, baseline)", base, base),
            row("vector only", results["vector"], base),
            row("hybrid (RRF)", results["hybrid"], base),
        ]
        rerank_spec = real_reranker_spec(args.reranker)
        if rerank_spec:
            service.reranker = load_reranker(RerankerConfig(model=rerank_spec))
            scores = evaluate(queries, reranking(service, args.depth))
            rows.append(row(f"hybrid + rerank ({service.reranker.info.model_id})", scores, base))
        else:
            rows.append(["hybrid + rerank", "n/a (no reranker model present)", "", "", "", ""])
        if not args.no_tiny and (tiny := tiny_reranker(Path(tmp) / "tiny-rr")) is not None:
            plumbing = SearchService(db, embedder, tiny)
            scores = evaluate(queries, reranking(plumbing, args.depth))
            rows.append(row("tiny random reranker (plumbing check, not quality)", scores, base))
            plumbing.close()
        service.close()
    print(f"## Retrieval quality: pydoc topics ({machine()})\n")
    print(
        f"{len(topics)} files, {chunks} chunks, {len(queries)} queries; model "
        f"{embedder.info.model_id} ({embedder.info.backend}); indexed in {index_s:.1f} s; "
        f"file-level, binary relevance, cut-off {CUTOFF}; rerank depth {args.depth} chunks.\n"
    )
    headers = ["mode", "recall@10", "nDCG@10", "recall vs BM25", "nDCG vs BM25", "mean ms/query"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
