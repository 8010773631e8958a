"""Retrieval quality, file level: vector, keyword and hybrid, before vs after, two labelled sets.

    python benchmarks/quality.py [--baseline-tree ../main] [--sets pydoc,sqlite]
                                 [--corpora DIR] [--vector-cache DIR] [--reranker SPEC]

Sets (``data/*_queries.json``): **pydoc**, Python's help topics (one ``.txt`` per topic,
48 queries; the set weights were tuned on) and **sqlite**, 121 pages of SQLite's HTML
documentation from Debian's ``sqlite3-doc`` (68 queries, held out: written from reading
the pages and never used for tuning; ``sqlitedocs.py`` fetches it). Each set also has five
off-topic queries whose right answer is "nothing here".

Each code tree (``--baseline-tree`` for "before", this checkout for "after") runs in its own
child process with that tree first on ``sys.path``: it indexes the corpus with the starter
model through the real ``Pipeline`` and runs every query through ``SearchService`` in each
mode (``SearchOptions.mode``), as the app does. Children share an embedding cache keyed by
the exact chunk text, so the vectors are the same numbers in both.

Scores, file level, binary relevance, cut-off 10. Hit@1, MRR@10 and nDCG@10 rank the list
as the window orders it (files shown first, then the weaker ones). recall@10 and the
**irrelevant share** count what is *shown* in the first 10 (every file for a tree that
returns chunks; the files not flagged weak for one that judges relevance, i.e. what the
window lists before "Show weaker matches"): recall@10 is the share of the relevant files
shown, the irrelevant share the share of shown files that are not relevant, pooled over
labelled and off-topic queries. A chunk list is deduplicated to files in rank order.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "data" / "pydoc_queries.json"
SETS = {
    "pydoc": HERE / "data" / "pydoc_queries.json",
    "sqlite": HERE / "data" / "sqlite_queries.json",
}
CUTOFF = 10
CHUNK_K = 100  # chunks per search for a tree that returns chunks
MODES = ("keyword", "vector", "hybrid")


@dataclass(frozen=True)
class Query:
    """One labelled query: its text and the files (by stem) a person would open."""

    text: str
    relevant: frozenset[str]


@dataclass
class Scores:
    """Per-query metrics of one mode (off-topic queries only add to the shown counts)."""

    hit1: list[float] = field(default_factory=list)
    mrr: list[float] = field(default_factory=list)
    ndcg: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    shown: list[int] = field(default_factory=list)
    irrelevant: list[int] = field(default_factory=list)
    off_topic_shown: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """Means, the pooled irrelevant share and the mean latency."""
        shown = sum(self.shown) + sum(self.off_topic_shown)
        wrong = sum(self.irrelevant) + sum(self.off_topic_shown)
        return {
            "hit1": mean(self.hit1),
            "mrr": mean(self.mrr),
            "ndcg": mean(self.ndcg),
            "recall": mean(self.recall),
            "irrelevant_share": wrong / shown if shown else 0.0,
            "shown": mean(self.shown),
            "off_topic_shown": mean(self.off_topic_shown),
            "ms": mean(self.seconds) * 1000,
        }


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def stem(path: str) -> str:
    """A file's key in the labels: its name without folder and extension."""
    return Path(path).stem


def load_queries(path: Path = QUERIES) -> list[Query]:
    """The labelled queries (``{"queries": [{"q": ..., "rel": [...]}, ...]}``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Query(item["q"], frozenset(stem(r) for r in item["rel"])) for item in data["queries"]]


def load_off_topic(path: Path) -> list[str]:
    """Queries with no relevant file in the corpus."""
    return list(json.loads(path.read_text(encoding="utf-8")).get("off_topic", []))


def files_in_order(paths: Sequence[str], cutoff: int = CUTOFF) -> list[str]:
    """Stems of the first ``cutoff`` distinct files, best first."""
    seen: list[str] = []
    for path in paths:
        key = stem(path)
        if key not in seen:
            seen.append(key)
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


def reciprocal_rank(ranked: Sequence[str], relevant: frozenset[str], cutoff: int = CUTOFF) -> float:
    """1/rank of the first relevant file among the first ``cutoff`` (0 when none)."""
    return next((1 / (i + 1) for i, t in enumerate(ranked[:cutoff]) if t in relevant), 0.0)


#: A search as the benchmark sees it: (files best first, files shown before "weaker").
Runner = Callable[[str], tuple[list[str], list[str]]]


def evaluate(queries: Sequence[Query], off_topic: Sequence[str], run: Runner) -> Scores:
    """Run every query through ``run`` and score its file ranking and what it shows."""
    scores = Scores()
    for query in queries:
        started = time.perf_counter()
        ranked, shown = run(query.text)
        scores.seconds.append(time.perf_counter() - started)
        scores.hit1.append(float(bool(ranked) and ranked[0] in query.relevant))
        scores.mrr.append(reciprocal_rank(ranked, query.relevant))
        scores.ndcg.append(ndcg_at(ranked, query.relevant))
        scores.recall.append(recall_at(shown, query.relevant))
        scores.shown.append(len(shown))
        scores.irrelevant.append(sum(1 for s in shown if s not in query.relevant))
    for text in off_topic:
        scores.off_topic_shown.append(len(run(text)[1]))
    return scores


def runner(service: Any, mode: str, **options: Any) -> Runner:
    """``SearchService.search`` in one mode, for a tree returning files or chunks."""
    from app.search import SearchOptions

    files = hasattr(sys.modules["app.search"], "Passage")
    if not files:
        opts = SearchOptions(k=CHUNK_K, candidates=CHUNK_K, mode=mode)  # type: ignore[arg-type]

        def chunks(text: str) -> tuple[list[str], list[str]]:
            ranked = files_in_order([r.path for r in service.search(text, opts)])
            return ranked, ranked

        return chunks
    opts = SearchOptions(k=CUTOFF, mode=mode, **options)  # type: ignore[arg-type]

    def documents(text: str) -> tuple[list[str], list[str]]:
        found = service.search(text, opts)[:CUTOFF]
        return [stem(r.path) for r in found], [stem(r.path) for r in found if not r.weak]

    return documents


# ---- the child: one code tree, one set ---------------------------------------------------


def child(args: argparse.Namespace) -> None:
    """Index the corpus with this process's code tree and print the scores as JSON."""
    from multilingual import CachedEmbedder, _index

    from app.search import SearchOptions, SearchService
    from engine.config import EmbedderConfig
    from engine.factory import load_embedder

    data = SETS[args.set]
    embedder = CachedEmbedder(load_embedder(EmbedderConfig(model=args.spec)), Path(args.cache))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "index.sqlite3"
        chunks, index_s = _index(Path(args.corpus), db, embedder, args.spec)
        service = SearchService(db, embedder)
        service.search("warm up", SearchOptions())
        queries, off = load_queries(data), load_off_topic(data)
        out: dict[str, Any] = {
            mode: evaluate(queries, off, runner(service, mode)).summary() for mode in MODES
        }
        out.update(rerank_rows(args, service, queries, off))
        service.close()
    embedder.close()
    out.update(chunks=chunks, index_s=index_s, queries=len(queries), off_topic=len(off))
    print("RESULT " + json.dumps(out))


def rerank_rows(
    args: argparse.Namespace, service: Any, queries: list[Query], off: list[str]
) -> dict[str, Any]:
    """ "hybrid + rerank" with a real reranker when one is given or present locally."""
    spec = args.reranker
    if not spec:
        from engine.resolve import default_reranker_spec

        spec = default_reranker_spec()
    if not spec:
        return {}
    from app.search import SearchOptions
    from engine.config import RerankerConfig
    from engine.factory import load_reranker

    service.reranker = load_reranker(RerankerConfig(model=spec))
    plain = runner(service, "hybrid")

    def reranked(text: str) -> tuple[list[str], list[str]]:
        opts = SearchOptions(k=CUTOFF)
        found = service.rerank(text, service.search(text, opts), opts, lambda _r: None)
        return [stem(r.path) for r in found], [stem(r.path) for r in found if not r.weak]

    run = reranked if hasattr(sys.modules["app.search"], "Passage") else plain
    return {"hybrid+rerank": evaluate(queries, off, run).summary(), "reranker": spec}


# ---- the parent: corpora, children, tables ------------------------------------------------


def corpus_for(name: str, root: Path) -> Path:
    """The folder of one set's documents under ``root`` (built when missing)."""
    folder = root / name
    if folder.exists() and any(folder.iterdir()):
        return folder
    if name == "pydoc":
        from report import write_pydoc_corpus

        write_pydoc_corpus(folder)
    else:
        from sqlitedocs import build

        build(folder)
    return folder


def run_child(
    tree: Path, name: str, corpus: Path, cache: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """Scores from a child process that imports ``tree``'s app/engine/storage first."""
    from report import starter_spec

    env = {**os.environ, "PYTHONPATH": str(tree)}
    spec = args.model or starter_spec()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--set", name,
           "--spec", spec, "--corpus", str(corpus), "--cache", str(cache)]  # fmt: skip
    if args.reranker:
        cmd += ["--reranker", args.reranker]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if out.returncode != 0 or line is None:
        raise SystemExit(f"child for {tree} ({name}) failed:\n{out.stderr[-4000:]}")
    scores: dict[str, Any] = json.loads(line[len("RESULT ") :])
    return scores


METRICS = [("hit1", "Hit@1"), ("mrr", "MRR@10"), ("ndcg", "nDCG@10"), ("recall", "recall@10"),
           ("irrelevant_share", "irrelevant shown"), ("shown", "shown/query"),
           ("off_topic_shown", "shown/off-topic query")]  # fmt: skip


def print_table(name: str, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    from report import table

    modes = [m for m in (*MODES, "hybrid+rerank") if m in after]
    rows = []
    for mode in modes:
        cells = [mode]
        for key, _ in METRICS:
            now = after[mode][key]
            old = before.get(mode, {}).get(key) if before else None
            cells.append(f"{old:.3f} -> **{now:.3f}**" if old is not None else f"{now:.3f}")
        cells.append(f"{after[mode]['ms']:.0f}")
        rows.append(cells)
    print(f"### {name}: {after['queries']} queries + {after['off_topic']} off-topic, "
          f"{after['chunks']} chunks\n")  # fmt: skip
    print(table(["mode", *(label for _, label in METRICS), "ms/query"], rows))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline-tree", type=Path, default=None, help="code tree for 'before'")
    parser.add_argument("--sets", default="pydoc,sqlite")
    parser.add_argument("--corpora", type=Path, default=None, help="keep the corpora here")
    parser.add_argument("--vector-cache", type=Path, default=None, help="keep vectors here")
    parser.add_argument("--reranker", default=None, help="a real Qwen3 reranker spec")
    parser.add_argument("--model", default=None, help="embedding model spec (default: starter)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--set", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    from report import machine

    print(f"## Retrieval quality, file level ({machine()})\n")
    print(f"Model {args.model or 'starter (default offline install)'}; before = "
          f"{args.baseline_tree or 'not run'}, after = {HERE.parent}.\n")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root = args.corpora or Path(tmp) / "corpora"
        for name in args.sets.split(","):
            corpus = corpus_for(name, root)
            cache = (args.vector_cache or Path(tmp)) / f"vectors-{name}.npz"
            before = None
            if args.baseline_tree is not None:
                before = run_child(args.baseline_tree, name, corpus, cache, args)
            after = run_child(HERE.parent, name, corpus, cache, args)
            print_table(name, before, after)
            print("RAW " + json.dumps({"set": name, "before": before, "after": after}))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
