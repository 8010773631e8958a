"""Vector search benchmark: raw sqlite-vec float KNN vs numpy brute force vs Quarry's default.

Builds N synthetic unit vectors (clustered, so neighbours are meaningful; ``--data random``
for pure noise), stores them through ``Store.write_file`` like the pipeline would, and
prints p50/p95 latency and recall@10 against exact search, with ratios vs numpy.

    python benchmarks/search_bench.py                 # 100k x 1024, clustered and random
    python benchmarks/search_bench.py --n 1000000 --data clustered --skip-vec0 --queries 16

Truth is numpy's exact top-k. Quarry's depth is adaptive: on near-uniform random vectors
(no neighbourhood structure, the worst case for sign bits) it rescores up to 4x more rows
and still trails in recall; clustered data resembles real embeddings.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.models import Fingerprint, NewChunk
from storage.store import Store

F32 = NDArray[np.float32]
SPREAD = 1.0  # noise norm relative to the cluster centre: members have cosine ~0.5


def make_data(n: int, dim: int, kind: str, seed: int, queries: int = 64) -> tuple[F32, F32]:
    """(corpus, queries): clustered = n/50 centres plus noise; queries from the same mix."""
    rng = np.random.default_rng(seed)

    def draw(count: int, centres: F32 | None) -> F32:
        out = np.empty((count, dim), dtype=np.float32)
        for s in range(0, count, 50_000):
            m = min(50_000, count - s)
            noise = rng.standard_normal((m, dim), dtype=np.float32)
            if centres is not None:
                pick = rng.integers(0, len(centres), m)
                noise = centres[pick] + SPREAD * noise / np.sqrt(dim)
            out[s : s + m] = noise / np.linalg.norm(noise, axis=1, keepdims=True)
        return out

    centres = None
    if kind == "clustered":
        centres = rng.standard_normal((max(100, n // 50), dim), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return draw(n, centres), draw(queries, centres)


def build_store(path: Path, corpus: F32) -> Store:
    """Write the corpus as files of 100 chunks each, through the public write API."""
    store = Store.open(path)
    fp = Fingerprint("bench/synthetic", "", corpus.shape[1], "last")
    for f in range(0, len(corpus), 100):
        block = corpus[f : f + 100]
        hashes = [f"h{f + i}" for i in range(len(block))]
        chunks = [NewChunk(i, f"chunk {f + i}", 0, 1, h) for i, h in enumerate(hashes)]
        store.write_file(
            f"/bench/{f // 100}.txt",
            size=1,
            mtime=0.0,
            content_hash=str(f),
            chunks=chunks,
            vectors_by_hash=dict(zip(hashes, block, strict=True)),
            fingerprint=fp,
        )
    return store


def build_vec0(path: Path, corpus: F32) -> object:
    """A plain sqlite-vec vec0 float table with the same vectors (rowid = index + 1)."""
    from benchmarks.sqlite_vec_coldstart import vec_connect

    conn = vec_connect(path)
    conn.execute(
        f"CREATE VIRTUAL TABLE v USING vec0(emb float[{corpus.shape[1]}] distance_metric=cosine)"
    )
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO v(rowid, emb) VALUES (?, ?)",
        ((i + 1, corpus[i].tobytes()) for i in range(len(corpus))),
    )
    conn.execute("COMMIT")
    return conn


def timed_all(
    fns: list[Callable[[F32], list[int]]], queries: F32, warmup: int
) -> list[tuple[list[float], list[list[int]]]]:
    """Run every method on each query in turn, rotating who goes first.

    Interleaving spreads CPU contention and cache effects over all methods alike; the
    warm-up queries (not timed) load the in-memory bit matrix and warm the page cache.
    """
    for q in queries[:warmup]:
        for fn in fns:
            fn(q)
    out: list[tuple[list[float], list[list[int]]]] = [([], []) for _ in fns]
    for n, q in enumerate(queries):
        for j in range(len(fns)):
            i = (n + j) % len(fns)
            t = time.perf_counter()
            answer = fns[i](q)
            out[i][0].append((time.perf_counter() - t) * 1000)
            out[i][1].append(answer)
    return out


def recall(answers: list[list[int]], truth: list[list[int]]) -> float:
    """Mean fraction of the true top-k found."""
    return float(
        np.mean([len(set(a) & set(t)) / len(t) for a, t in zip(answers, truth, strict=True)])
    )


def run(args: argparse.Namespace, kind: str, workdir: Path) -> None:
    """Build one dataset, time every method on the same queries, print the table."""
    n, dim, k = args.n, args.dim, args.k
    corpus, queries = make_data(n, dim, kind, seed=7, queries=args.queries)
    t0 = time.perf_counter()
    store = build_store(workdir / f"quarry-{kind}.db", corpus)
    print(
        f"\n== {kind}: {n} x {dim}, {len(queries)} queries (+{args.warmup} warm-up), k={k}"
        f" (build {time.perf_counter() - t0:.0f}s)"
    )

    def numpy_knn(q: F32) -> list[int]:
        scores = corpus @ q
        top = np.argpartition(-scores, k)[:k]
        return top[np.argsort(-scores[top])].tolist()

    def quarry(q: F32) -> list[int]:
        hits = store.vector_search(q, k)
        return [h.chunk_id - 1 for h in hits]  # chunk ids are 1-based, written in order

    names, fns = ["numpy brute force (float32)"], [numpy_knn]
    if not args.skip_vec0:
        conn = build_vec0(workdir / f"vec0-{kind}.db", corpus)

        def vec0_knn(q: F32) -> list[int]:
            cur = conn.execute(  # type: ignore[attr-defined]
                "SELECT rowid FROM v WHERE emb MATCH ? AND k = ? ORDER BY distance",
                (q.tobytes(), k),
            )
            return [r[0] - 1 for r in cur]

        names.append("sqlite-vec vec0 float KNN")
        fns.append(vec0_knn)
    names.append("Quarry default (bits+rescore)")
    fns.append(quarry)
    measured = timed_all(fns, queries, args.warmup)
    np_times, truth = measured[0]
    rows = [(name, t, a) for name, (t, a) in zip(names, measured, strict=True)]
    np_p50 = float(np.percentile(np_times, 50))
    print(
        f"{'method':34} {'p50 ms':>8} {'p95 ms':>8} {'recall@' + str(k):>10} {'p50 vs numpy':>13}"
    )
    for name, times, answers in rows:
        p50, p95 = np.percentile(times, 50), np.percentile(times, 95)
        print(
            f"{name:34} {p50:8.1f} {p95:8.1f} {recall(answers, truth):10.3f} {np_p50 / p50:12.2f}x"
        )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--queries", type=int, default=64, help="timed queries per dataset")
    parser.add_argument("--warmup", type=int, default=4, help="untimed queries first")
    parser.add_argument("--data", choices=["clustered", "random", "both"], default="both")
    parser.add_argument("--skip-vec0", action="store_true", help="skip the slow vec0 baseline")
    args = parser.parse_args()
    kinds = ["clustered", "random"] if args.data == "both" else [args.data]
    with tempfile.TemporaryDirectory(prefix="quarry-bench-") as tmp:
        for kind in kinds:
            run(args, kind, Path(tmp))


if __name__ == "__main__":
    main()
