"""Multilingual retrieval quality: Hit@1 and MRR@10 per language, before vs after, one run.

    python benchmarks/multilingual.py [--baseline-tree /path/to/main] [--corpus DIR]
    QUARRY_BENCH_MODEL=/path/to/Qwen3-Embedding-0.6B python benchmarks/multilingual.py

The corpus is 116 Debian manual pages in each of English, German, French, Japanese and
Chinese (``benchmarks/manpages.py`` fetches and renders them), all indexed into ONE index
with the real ``Pipeline``. The 110 labelled queries of ``data/multilingual_queries.json``
(22 per language, the same needs in each) run through ``SearchService`` in keyword-only,
vector-only and hybrid mode over the whole corpus; relevance is file-level: the page(s)
in the query's own language. Cross-lingual rows search one language's queries in another
language's folder only (a folder filter), where the relevant page is the same command.

"Before" and "after" are two code trees (``--baseline-tree``, default: none, after only),
each run in its own child process with that tree first on ``sys.path``, on the same
corpus and model. The children share an embedding cache keyed by the exact chunk text,
so the second one does not embed again: the vectors are the same numbers either way.

With ``QUARRY_BENCH_MODEL`` (or ``--model``) set, the same set runs once more with that
model (after tree only), with the ``multilingual`` instruction preset for queries: the
cross-lingual rows are what a real Qwen3 is for.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "data" / "multilingual_queries.json"
LANGS = ["en", "de", "fr", "zh", "ja"]
CUTOFF = 10
CHUNK_K = 100
MODES = ["keyword", "vector", "hybrid"]
CROSS = [("en", y) for y in LANGS[1:]] + [(x, "en") for x in LANGS[1:]]


# ---- scoring (pure, tested in tests/unit/benchmarks) -------------------------------------


def ranked_files(paths: list[str], cutoff: int = CUTOFF) -> list[str]:
    """``<lang>/<page>`` of the first ``cutoff`` distinct files, best first."""
    seen: list[str] = []
    for path in paths:
        key = f"{Path(path).parent.name}/{Path(path).stem}"
        if key not in seen:
            seen.append(key)
            if len(seen) == cutoff:
                break
    return seen


def reciprocal_rank(ranked: list[str], relevant: set[str]) -> float:
    """1/rank of the first relevant file in ``ranked`` (0 when none is there)."""
    return next((1 / (i + 1) for i, key in enumerate(ranked) if key in relevant), 0.0)


def summary(ranks: list[float]) -> dict[str, float]:
    """Hit@1 and MRR@10 of a list of reciprocal ranks."""
    n = len(ranks) or 1
    return {"hit1": sum(r == 1.0 for r in ranks) / n, "mrr": sum(ranks) / n}


# ---- the child: one code tree, one model ----------------------------------------------


class CachedEmbedder:
    """Delegates to an Embedder, reusing document vectors stored by an earlier child."""

    def __init__(self, inner: Any, cache: Path) -> None:
        import numpy as np

        self._np = np
        self.inner = inner
        self.info, self.dim, self.max_length = inner.info, inner.dim, inner.max_length
        self.cache = cache
        self.vectors: dict[str, Any] = {}
        if cache.exists():
            with np.load(cache) as data:
                # Keyed by text alone: vectors of another model would be silently wrong.
                if "model" in data and str(data["model"]) == inner.info.model_id:
                    self.vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
        self.computed = 0

    def embed_documents(self, texts: list[str]) -> Any:
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        todo = [i for i, k in enumerate(keys) if k not in self.vectors]
        if todo:
            fresh = self.inner.embed_documents([texts[i] for i in todo])
            self.computed += len(todo)
            for row, i in enumerate(todo):
                self.vectors[keys[i]] = fresh[row]
        return self._np.stack([self.vectors[k] for k in keys]).astype(self._np.float32)

    def embed_query(self, text: str, instruction: str | None = None) -> Any:
        return self.inner.embed_query(text, instruction)

    def tokenizer(self) -> Any:
        return self.inner.tokenizer()

    def close(self) -> None:
        if self.vectors:
            keys = self._np.array(list(self.vectors))
            vectors = self._np.stack(list(self.vectors.values()))
            model = self._np.array(self.info.model_id)
            self._np.savez(self.cache, keys=keys, vectors=vectors, model=model)
        self.inner.close()


def _index(corpus: Path, db: Path, embedder: Any, spec: str) -> tuple[int, float]:
    from app.indexer import IndexerConfig
    from app.pipeline import Pipeline
    from app.settings import Settings

    settings = Settings(folders=[str(corpus)], embed_model=spec, rerank_enabled=False)
    started = time.perf_counter()
    with Pipeline(db, embedder, settings, config=IndexerConfig(workers=2)) as pipeline:
        done = pipeline.index_once()
    if done.failed or done.skipped:
        print(f"warning: {done.failed} failed, {done.skipped} skipped", file=sys.stderr)
    return done.chunks, time.perf_counter() - started


def _evaluate(
    service: Any, corpus: Path, queries: list[dict[str, Any]], instruction: str | None
) -> dict[str, Any]:
    from app.search import SearchOptions
    from storage.models import SearchFilters

    def ranks(mode: str, lang: str, target: str, folder_only: bool = False) -> list[float]:
        whole = lang == target and not folder_only
        filters = None if whole else SearchFilters(folders=[str(corpus / target)])
        # Candidate depth and fusion as the app uses them for this model (registry).
        opts = SearchOptions(k=CHUNK_K, mode=mode, filters=filters, instruction=instruction)  # type: ignore[arg-type]
        out = []
        for q in (q for q in queries if q["lang"] == lang):
            found = ranked_files([r.path for r in service.search(q["q"], opts)])
            out.append(reciprocal_rank(found, {f"{target}/{Path(rel).name}" for rel in q["rel"]}))
        return out

    started = time.perf_counter()
    result: dict[str, Any] = {
        mode: {lang: summary(ranks(mode, lang, lang)) for lang in LANGS} for mode in MODES
    }
    result["seconds_per_query"] = (time.perf_counter() - started) / (len(queries) * len(MODES))
    # The same queries within their own language's folder: tells "found the right page" apart
    # from "ranked the same page in another language above it" (a multilingual model does).
    result["own_folder"] = {lang: summary(ranks("hybrid", lang, lang, True)) for lang in LANGS}
    result["cross"] = {
        mode: {f"{x}->{y}": summary(ranks(mode, x, y)) for x, y in CROSS}
        for mode in ("vector", "hybrid")
    }
    return result


def child(args: argparse.Namespace) -> None:
    """Index the corpus with this process's code tree and print the scores as JSON."""
    from engine.config import EmbedderConfig
    from engine.factory import load_embedder

    queries = json.loads(QUERIES.read_text(encoding="utf-8"))["queries"]
    embedder = CachedEmbedder(load_embedder(EmbedderConfig(model=args.spec)), Path(args.cache))
    instruction = None
    if args.preset:
        from engine.instructions import PRESETS

        instruction = PRESETS[args.preset]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "index.sqlite3"
        chunks, index_s = _index(Path(args.corpus), db, embedder, args.spec)
        from app.search import SearchOptions, SearchService

        service = SearchService(db, embedder)
        service.search("warm up", SearchOptions())
        scores = _evaluate(service, Path(args.corpus), queries, instruction)
        service.close()
    embedder.close()
    scores.update(
        chunks=chunks, index_s=index_s, embedded=embedder.computed, model=embedder.info.model_id
    )
    print("RESULT " + json.dumps(scores))


# ---- the parent: corpus, children, table ------------------------------------------------


def run_child(
    tree: Path, spec: str, corpus: Path, cache: Path, preset: str | None
) -> dict[str, Any]:
    """Scores from a child process that imports ``tree``'s app/engine/storage first."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--spec", spec,
           "--corpus", str(corpus), "--cache", str(cache)]  # fmt: skip
    if preset:
        cmd += ["--preset", preset]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if out.returncode != 0 or line is None:
        raise SystemExit(f"child for {tree} failed:\n{out.stderr[-4000:]}")
    scores: dict[str, Any] = json.loads(line[len("RESULT ") :])
    return scores


def _pair(
    before: dict[str, Any] | None, after: dict[str, Any], mode: str, lang: str, key: str
) -> str:
    now = after[mode][lang][key]
    if before and mode in before:
        return f"{before[mode][lang][key]:.2f} -> **{now:.2f}**"
    return f"{now:.2f}"


def print_tables(label: str, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    """Per-language rows (before -> after) and the hybrid gap to English."""
    from report import table

    english = after["hybrid"]["en"]["mrr"]
    rows = []
    for lang in LANGS:
        cells = [lang]
        for mode in MODES:
            cells += [
                _pair(before, after, mode, lang, "hit1"),
                _pair(before, after, mode, lang, "mrr"),
            ]
        cells.append(f"{after['hybrid'][lang]['mrr'] - english:+.2f}")
        cells.append(
            _pair(before, after, "own_folder", lang, "mrr") if "own_folder" in after else ""
        )
        rows.append(cells)
    heads = ["lang"] + [f"{m} {k}" for m in MODES for k in ("Hit@1", "MRR@10")]
    heads += ["hybrid MRR vs en", "hybrid MRR, own-language folder"]
    print(f"### {label}\n")
    print(table(heads, rows))
    cross = [
        [pair]
        + [
            f"{after['cross'][m][pair]['hit1']:.2f} / {after['cross'][m][pair]['mrr']:.2f}"
            for m in ("vector", "hybrid")
        ]
        for pair in after["cross"]["vector"]
    ]
    print("\nCross-lingual (query language -> documents of one other language, Hit@1 / MRR@10):\n")
    print(table(["queries -> docs", "vector", "hybrid"], cross))
    print(
        f"\n{after['chunks']} chunks, model {after['model']}, mean {after['seconds_per_query'] * 1000:.0f} ms"
        f" per query and mode; indexing {after['index_s']:.0f} s ({after['embedded']} texts embedded"
        f" by this child).\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline-tree", type=Path, default=None, help="code tree for 'before'")
    parser.add_argument("--corpus", type=Path, default=None, help="rendered pages (else built)")
    parser.add_argument("--model", default=os.environ.get("QUARRY_BENCH_MODEL"))
    parser.add_argument("--starter", default=None, help="first model (default: the starter)")
    parser.add_argument("--vector-cache", type=Path, default=None, help="keep vectors here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--preset", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    from manpages import build
    from report import machine, starter_spec

    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus or build(Path(tmp) / "corpus")
        after_tree = HERE.parent
        first = args.starter or starter_spec()
        label = first if args.starter else f"starter model {first} (default offline install)"
        runs = [(label, first, None)]
        if args.model:
            runs.append((f"{args.model} (multilingual preset)", args.model, "multilingual"))
        print(f"## Multilingual retrieval: Debian manual pages ({machine()})\n")
        for i, (label, spec, preset) in enumerate(runs):
            cache = (args.vector_cache or Path(tmp)) / f"vectors-{i}.npz"
            before = None
            if args.baseline_tree is not None and preset is None:
                before = run_child(args.baseline_tree, spec, corpus, cache, preset)
            after = run_child(after_tree, spec, corpus, cache, preset)
            print_tables(
                label + (f"; before = {args.baseline_tree}" if before else ""), before, after
            )


if __name__ == "__main__":
    main()
