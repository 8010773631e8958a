"""Measure a model's relevance calibration (``engine.registry.RelevanceCalibration``).

    python benchmarks/calibrate.py [--model SPEC] [--set pydoc] [--db INDEX]

Indexes the set's corpus with the model (default: the starter), runs every labelled and
off-topic query in hybrid mode with no cut-off, and records for each of the top 20 files:
its best passage's cosine, the share of query terms it holds, and whether it is relevant.

- **Relevance probability**: a logistic regression of relevant ~ cosine + coverage
  (Newton's method, a small L2 penalty), so P(relevant) is a calibrated number.
- **Floor and margin**: every (floor, margin) on a grid is simulated exactly as
  ``app.relevance.judge`` applies it (strong files first, then weak). Chosen: the pair with
  the lowest share of irrelevant files among those shown in the first 10, among the pairs
  that keep recall@10 *of the shown files* within ``--max-recall-loss`` (default 0: no
  loss at all) of showing everything.

Prints the ``RelevanceCalibration(...)`` to paste into the model's registry entry. Only
the tuning set (pydoc) is used to choose; ``quality.py`` confirms on the held-out set.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from multilingual import CachedEmbedder
from quality import CUTOFF, SETS, corpus_for, load_off_topic, load_queries, stem
from report import index_folder, machine, starter_spec

from app.search import SearchOptions, SearchService
from engine.config import EmbedderConfig
from engine.factory import load_embedder

DEPTH = 20
MARGINS = (0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 2.0)


@dataclass(frozen=True)
class Row:
    """One file in one query's first-stage list."""

    query: int
    rank: int
    cosine: float
    coverage: float
    relevant: bool
    n_relevant: int  # the query's relevant files (0 for off-topic queries)


def collect(service: SearchService, set_name: str) -> list[Row]:
    """The evidence of the first ``DEPTH`` files of every query."""
    queries = load_queries(SETS[set_name])
    texts = [(q.text, q.relevant) for q in queries]
    texts += [(t, frozenset()) for t in load_off_topic(SETS[set_name])]
    opts = SearchOptions(k=DEPTH, cutoff=False)
    rows = []
    for qi, (text, relevant) in enumerate(texts):
        for rank, r in enumerate(service.search(text, opts)):
            cos = max((p.scores["vector"] or 0.0) for p in r.passages)
            cover = max(p.coverage for p in r.passages)
            rows.append(Row(qi, rank, cos, cover, stem(r.path) in relevant, len(relevant)))
    return rows


def logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 50) -> np.ndarray:
    """Weights (intercept first) of P(y=1) = sigmoid(w . [1, x]) by Newton's method."""
    design = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ w))
        grad = design.T @ (p - y) + l2 * w
        hess = design.T @ (design * (p * (1 - p))[:, None]) + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w


def simulate(rows: list[Row], floor: float, margin: float) -> tuple[float, float, float]:
    """(recall@10 of shown files, irrelevant share of shown, shown per query) for a rule."""
    by_query: dict[int, list[Row]] = {}
    for row in rows:
        by_query.setdefault(row.query, []).append(row)
    recalls, shown_total, wrong = [], 0, 0
    for found in by_query.values():
        best = max(r.cosine for r in found)
        strong = [
            r for r in found
            if r.coverage >= 1.0 or (r.cosine >= floor and r.cosine >= best - margin)
        ]  # fmt: skip
        shown = sorted(strong, key=lambda r: r.rank)[:CUTOFF]
        shown_total += len(shown)
        wrong += sum(not r.relevant for r in shown)
        if found[0].n_relevant:
            recalls.append(sum(r.relevant for r in shown) / found[0].n_relevant)
    return float(np.mean(recalls)), wrong / max(shown_total, 1), shown_total / len(by_query)


def choose(rows: list[Row], max_loss: float) -> tuple[float, float, tuple[float, float, float]]:
    """The (floor, margin) with the fewest irrelevant shown files within the recall budget."""
    everything = simulate(rows, -1.0, 2.0)
    best: tuple[float, float, tuple[float, float, float]] = (-1.0, 2.0, everything)
    # Fine enough for models whose cosines crowd into a narrow band (E5: 0.78-0.89), wide
    # enough for the ones that spread over 0-1 (MiniLM).
    for floor in np.arange(0.0, 0.995, 0.005):
        for margin in MARGINS:
            result = simulate(rows, float(floor), margin)
            if result[0] >= everything[0] - max_loss and result[1] < best[2][1]:
                best = (round(float(floor), 3), margin, result)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="embedding model spec (default: starter)")
    parser.add_argument("--set", default="pydoc", choices=sorted(SETS))
    parser.add_argument("--db", type=Path, default=None, help="index to (re)use")
    parser.add_argument(
        "--corpora", type=Path, default=Path(tempfile.gettempdir()) / "quarry-corpora"
    )
    parser.add_argument("--max-recall-loss", type=float, default=0.0)
    parser.add_argument(
        "--vector-cache", type=Path, default=None, help="quality.py's vectors-SET.npz to reuse"
    )
    args = parser.parse_args()
    spec = args.model or starter_spec()
    embedder: Any = load_embedder(EmbedderConfig(model=spec))
    if args.vector_cache is not None:
        embedder = CachedEmbedder(embedder, args.vector_cache)
    db = args.db or Path(tempfile.mkdtemp()) / "index.sqlite3"
    if not db.exists():
        index_folder(corpus_for(args.set, args.corpora), db, embedder, spec)
    rows = collect(SearchService(db, embedder), args.set)
    x = np.array([[r.cosine, r.coverage] for r in rows])
    y = np.array([float(r.relevant) for r in rows])
    w = logistic(x, y)
    floor, margin, (recall, wrong, shown) = choose(rows, args.max_recall_loss)
    everything = simulate(rows, -1.0, 2.0)
    print(f"## Relevance calibration of {embedder.info.model_id} on {args.set} ({machine()})\n")
    print(f"{len(rows)} (query, file) pairs, {int(y.sum())} relevant.")
    print(f"Showing everything: recall@10 {everything[0]:.3f}, irrelevant shown "
          f"{everything[1]:.3f}, {everything[2]:.1f} files per query.")  # fmt: skip
    print(f"Chosen floor {floor}, margin {margin}: recall@10 {recall:.3f}, irrelevant shown "
          f"{wrong:.3f}, {shown:.1f} files per query.\n")  # fmt: skip
    print(
        "RelevanceCalibration(\n"
        f"    floor={floor},\n    margin={margin},\n"
        f"    intercept={w[0]:.3f},\n    cosine_weight={w[1]:.3f},\n"
        f"    coverage_weight={w[2]:.3f},\n"
        f'    measured_on="benchmarks/calibrate.py, {args.set} set, {date.today().isoformat()}",\n'
        ")"
    )


if __name__ == "__main__":
    main()
