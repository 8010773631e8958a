"""How the fusion and keyword weights were chosen: grids over ``SearchOptions`` on one index.

    python benchmarks/tune.py --set pydoc --db /tmp/pydoc.sqlite3 [--grid fusion|keyword|adaptive]

Indexes the set's corpus once with the starter model (or ``--model``) (kept in ``--db`` for the next run),
then scores every option variant in the grid on the set's labelled queries (file level:
Hit@1, MRR@10, nDCG@10, recall@10; ``quality.py``'s definitions) with query vectors
computed once. Tuning uses the **pydoc** set only; the chosen defaults are then confirmed
on the held-out **sqlite** set by ``quality.py`` (run this with ``--set sqlite`` only to
see how a choice generalises, never to choose).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from multilingual import CachedEmbedder
from quality import SETS, corpus_for, evaluate, load_queries, runner
from report import index_folder, machine, starter_spec, table

from app.search import SearchOptions, SearchService
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from engine.registry import Fusion
from storage.fts import KeywordWeights


class QueryCache:
    """Wraps an embedder so each query is embedded once for the whole grid."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.info, self.dim, self.max_length = inner.info, inner.dim, inner.max_length
        self.seen: dict[tuple[str, str | None], Any] = {}

    def embed_query(self, text: str, instruction: str | None = None) -> Any:
        key = (text, instruction)
        if key not in self.seen:
            self.seen[key] = self.inner.embed_query(text, instruction)
        return self.seen[key]

    def embed_documents(self, texts: list[str]) -> Any:
        return self.inner.embed_documents(texts)

    def tokenizer(self) -> Any:
        return self.inner.tokenizer()

    def close(self) -> None:
        self.inner.close()


def fusion_grid() -> list[tuple[str, dict[str, Any]]]:
    """Vector/keyword weight, RRF k, candidate depth and the passage bonus."""
    out = []
    for vw, k, depth, bonus in itertools.product(
        (0.5, 1.0, 1.25, 1.5, 2.0), (20, 60), (50, 100), (0.0,)
    ):
        fusion = Fusion(vector=vw, rrf_k=k, candidates=depth, measured_on="grid")
        name = f"vector {vw} k {k} depth {depth} bonus {bonus}"
        out.append((name, {"fusion": fusion, "passage_bonus": bonus}))
    return out


def usual_signals(service: SearchService, queries: list[Any]) -> tuple[float, float]:
    """Medians of the vector spread and keyword lead over the set's queries (hybrid,
    the model's fixed weights): what ``Fusion.vector_spread`` / ``keyword_lead`` hold."""
    pairs = [service.confidence(q.text) for q in queries]
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def adaptive_grid(spread: float, lead: float) -> list[tuple[str, dict[str, Any]]]:
    """Fixed weights (adapt 0) against per-query weights, at the set's usual signals."""
    out = []
    for vw, adapt, k, depth in itertools.product(
        (1.0, 1.5, 2.0), (0.0, 0.25, 0.5, 1.0), (20, 60), (50, 100)
    ):
        fusion = Fusion(vw, k, depth, adapt, spread, lead, measured_on="grid")
        out.append((f"vector {vw} adapt {adapt} k {k} depth {depth}", {"fusion": fusion}))
    return out


def keyword_grid() -> list[tuple[str, dict[str, Any]]]:
    """Field source weight, its column weights, and the phrase source weight."""
    out = []
    choices = [
        *itertools.product((0.0, 1.0, 2.0), ((4, 2, 1),), (0.0, 1.0)),
        (1.0, (1, 1, 1), 1.0),
        (1.0, (8, 4, 2), 1.0),
    ]
    for fields, (name, title, heading), phrase in choices:
        kw = KeywordWeights(fields=fields, name=name, title=title, heading=heading, phrase=phrase)
        label = f"fields {fields} ({name}/{title}/{heading}) phrase {phrase}"
        out.append((label, {"keyword": kw}))
    return out


def default_grid() -> list[tuple[str, dict[str, Any]]]:
    """Only the shipped defaults (to compare modes)."""
    return [("defaults", {})]


GRIDS = {
    "fusion": fusion_grid,
    "keyword": keyword_grid,
    "default": default_grid,
    "adaptive": lambda: [],  # built from the set's own signals in main()
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", default="pydoc", choices=sorted(SETS))
    parser.add_argument("--db", type=Path, default=None, help="index to (re)use")
    parser.add_argument(
        "--corpora", type=Path, default=Path(tempfile.gettempdir()) / "quarry-corpora"
    )
    parser.add_argument("--grid", default="fusion", choices=sorted(GRIDS))
    parser.add_argument("--modes", default="hybrid")
    parser.add_argument("--model", default=None, help="embedding model spec (default: starter)")
    parser.add_argument(
        "--vector-cache", type=Path, default=None, help="quality.py's vectors-SET.npz to reuse"
    )
    parser.add_argument(
        "--signals",
        default=None,
        help="adaptive grid: SPREAD,LEAD measured on the tuning set (default: this set's)",
    )
    args = parser.parse_args()
    spec = args.model or starter_spec()
    inner: Any = load_embedder(EmbedderConfig(model=spec))
    if args.vector_cache is not None:
        inner = CachedEmbedder(inner, args.vector_cache)
    embedder = QueryCache(inner)
    db = args.db or Path(tempfile.mkdtemp()) / "index.sqlite3"
    if not db.exists():
        index_folder(corpus_for(args.set, args.corpora), db, embedder, spec)  # type: ignore[arg-type]
    service = SearchService(db, embedder)  # type: ignore[arg-type]
    queries = load_queries(SETS[args.set])
    base = SearchOptions()
    print(f"## {args.grid} grid on {args.set} ({machine()})\n")
    print(table(["mode", "variant", "Hit@1", "MRR@10", "nDCG@10", "recall@10"], []), flush=True)
    grid = GRIDS[args.grid]()
    if args.grid == "adaptive":
        if args.signals:
            spread, lead = (float(v) for v in args.signals.split(","))
        else:
            spread, lead = usual_signals(service, queries)
        print(f"usual signals on {args.set}: vector spread {spread:.4f}, keyword lead {lead:.4f}\n")
        grid = adaptive_grid(spread, lead)
    for mode in args.modes.split(","):
        for name, changes in grid:
            opts = replace(base, **changes)
            s = evaluate(queries, [], runner(service, mode, **_fields(opts))).summary()
            cells = [mode, name, *(f"{s[m]:.3f}" for m in ("hit1", "mrr", "ndcg", "recall"))]
            print("| " + " | ".join(cells) + " |", flush=True)


def _fields(opts: SearchOptions) -> dict[str, Any]:
    """The options ``quality.runner`` passes on (it sets k and mode itself)."""
    keys = ("fusion", "passage_bonus", "keyword", "cutoff")
    return {k: getattr(opts, k) for k in keys}


if __name__ == "__main__":
    main()
