"""Does sqlite-vec earn its place? Cold start to a usable sign-bit index, three ways.

Builds N synthetic unit vectors (dim 1024) through ``Store.write_file`` like the pipeline,
then copies their sign bits into a sqlite-vec ``vec0`` table (``bit[dim]`` column filled by
``vec_quantize_binary``) in the same database. Each method then starts from a fresh
connection (as a cold app launch does) and is timed until it can answer a query:

* ``float rows -> sign bits``: read every float32 vector and pack its signs (what a cold
  start would cost with no persisted bits; the baseline).
* ``Quarry vector_bits blocks``: ``BinaryIndex.refresh`` on the packed-bit BLOBs our own
  code writes (``storage.bits``, 1,024 rows per blob); what the app does today.
* ``sqlite-vec vec0 bit[] rows``: ``SELECT rowid, bits FROM vec0`` into the same matrix.
* ``sqlite-vec vec0 bit[] KNN``: no load at all; a first Hamming KNN query in C for the
  candidate count Quarry rescores. Its steady per-query cost is timed too, beside
  Quarry's in-memory Hamming pass (``Prefilter``) over the same rows.

Methods are interleaved (the order rotates each round) and each figure is printed beside
the baseline from the same round, as ratios. The OS page cache stays warm between rounds
(dropping it needs root), so the times are CPU + memcpy; bytes on disk per representation
are printed as the I/O figure a truly cold disk would pay.

    python benchmarks/sqlite_vec_coldstart.py --n 100000 --rounds 5

sqlite-vec is loaded here by the benchmark itself (``pip install sqlite-vec``); Quarry
does not load it (docs/DESIGN.md, "Why no sqlite-vec").
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.connection import connect
from storage.models import Fingerprint, NewChunk
from storage.prefilter import BinaryIndex, Prefilter, candidate_count
from storage.store import Store
from storage.vectors import sign_bits

F32 = NDArray[np.float32]
FILE_CHUNKS = 1000  # chunks per synthetic file


def vec_connect(path: Path) -> Any:
    """A Quarry connection with sqlite-vec loaded into it (benchmark only)."""
    import sqlite_vec

    conn = connect(path)
    conn.enable_load_extension(True)
    conn.load_extension(sqlite_vec.loadable_path())
    conn.enable_load_extension(False)
    return conn


def build(path: Path, n: int, dim: int, seed: int) -> tuple[int, F32]:
    """Write ``n`` random unit vectors through the store; returns (index id, queries)."""
    rng = np.random.default_rng(seed)
    fp = Fingerprint("bench/coldstart", "", dim, "last")
    with Store.open(path) as store:
        for f in range(0, n, FILE_CHUNKS):
            m = min(FILE_CHUNKS, n - f)
            vecs = rng.standard_normal((m, dim), dtype=np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            hashes = [f"h{f + i}" for i in range(m)]
            chunks = [NewChunk(i, f"c{f + i}", 0, 1, h) for i, h in enumerate(hashes)]
            store.write_file(
                f"/bench/{f // FILE_CHUNKS}.txt", size=1, mtime=0.0, content_hash=str(f),
                chunks=chunks, vectors_by_hash=dict(zip(hashes, vecs, strict=True)),
                fingerprint=fp,
            )  # fmt: skip
        store.checkpoint()
        index_id = int(store.conn.execute("SELECT id FROM vector_indexes").fetchone()[0])
    conn = vec_connect(path)
    conn.execute(f"CREATE VIRTUAL TABLE vbits USING vec0(bits bit[{dim}])")
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO vbits(rowid, bits) SELECT id, vec_quantize_binary(vec_f32(vector))"
        " FROM embeddings WHERE index_id = ?",  # no ORDER BY: a sorter drops the bit subtype
        (index_id,),
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    queries = rng.standard_normal((32, dim), dtype=np.float32)
    return index_id, queries / np.linalg.norm(queries, axis=1, keepdims=True)


def load_floats(path: Path, index_id: int, dim: int) -> int:
    """Baseline: every float vector read and packed to sign bits."""
    conn = connect(path, readonly=True)
    cur = conn.execute(
        "SELECT id, vector FROM embeddings WHERE index_id = ? ORDER BY id", (index_id,)
    )
    parts = []
    while batch := cur.fetchmany(16_384):
        mat = np.frombuffer(b"".join(r[1] for r in batch), dtype=np.float32).reshape(-1, dim)
        parts.append(sign_bits(mat))
    conn.close()
    return sum(len(p) for p in parts)


def load_blocks(path: Path, index_id: int, dim: int) -> int:
    """Today's path: the packed-bit blocks our own code persists."""
    conn = connect(path, readonly=True)
    index = BinaryIndex(index_id, dim)
    index.refresh(conn)
    conn.close()
    return len(index)


def load_vec0(path: Path, index_id: int, dim: int) -> int:
    """sqlite-vec: the same bits read back row by row from a vec0 ``bit[]`` column."""
    conn = vec_connect(path)
    cur = conn.execute("SELECT rowid, bits FROM vbits ORDER BY rowid")
    ids: list[int] = []
    raw: list[bytes] = []
    while batch := cur.fetchmany(16_384):
        ids += [r[0] for r in batch]
        raw += [r[1] for r in batch]
    bits = np.frombuffer(b"".join(raw), dtype=np.uint64).reshape(len(ids), -1)
    conn.close()
    return len(bits)


def vec0_knn(conn: Any, query: F32, count: int) -> list[int]:
    """Hamming KNN inside sqlite-vec (k is capped at 4096 there)."""
    cur = conn.execute(
        "SELECT rowid FROM vbits WHERE bits MATCH vec_quantize_binary(?) AND k = ?"
        " ORDER BY distance",
        (np.asarray(query, dtype=np.float32).tobytes(), min(count, 4096)),
    )
    return [r[0] for r in cur]


def numpy_candidates(index: BinaryIndex, query: F32, count: int) -> list[int]:
    """Quarry's first stage: Hamming over the in-memory matrix, ``count`` nearest rows."""
    pre = Prefilter(index, query, None)
    return pre.select(count, count).ids.tolist()


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def table_bytes(path: Path) -> dict[str, int]:
    """Bytes on disk per representation (dbstat), the I/O a truly cold start pays."""
    conn = connect(path, readonly=True)
    rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    conn.close()
    sizes = {str(r[0]): int(r[1]) for r in rows}
    return {
        "float rows (embeddings)": sizes.get("embeddings", 0),
        "Quarry vector_bits": sizes.get("vector_bits", 0),
        "vec0 bit[] shadow tables": sum(v for k, v in sizes.items() if k.startswith("vbits_")),
    }


def cold_rounds(path: Path, index_id: int, dim: int, rounds: int) -> dict[str, list[float]]:
    """Each loader on a fresh connection per round, order rotated; seconds."""
    methods: dict[str, Callable[[], object]] = {
        "float rows -> sign bits (baseline)": lambda: load_floats(path, index_id, dim),
        "Quarry vector_bits blocks": lambda: load_blocks(path, index_id, dim),
        "sqlite-vec vec0 bit[] rows": lambda: load_vec0(path, index_id, dim),
    }
    names = list(methods)
    for name in names:  # warm the page cache for all alike
        methods[name]()
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for j in range(len(names)):
            name = names[(r + j) % len(names)]
            out[name].append(timed(methods[name]))
    return out


def query_rounds(
    path: Path, index_id: int, dim: int, queries: F32, count: int
) -> dict[str, list[float]]:
    """First candidates from a cold connection, then steady per-query cost; seconds."""
    out: dict[str, list[float]] = {
        "first: Quarry load + Hamming": [],
        "first: vec0 bit[] KNN (no load)": [],
        "steady: Quarry Hamming (numpy)": [],
        "steady: vec0 bit[] KNN": [],
    }
    for q in queries[:3]:

        def ours(q: F32 = q) -> None:
            conn = connect(path, readonly=True)
            index = BinaryIndex(index_id, dim)
            index.refresh(conn)
            numpy_candidates(index, q, count)
            conn.close()

        def theirs(q: F32 = q) -> None:
            conn = vec_connect(path)
            vec0_knn(conn, q, count)
            conn.close()

        out["first: Quarry load + Hamming"].append(timed(ours))
        out["first: vec0 bit[] KNN (no load)"].append(timed(theirs))
    conn = vec_connect(path)
    index = BinaryIndex(index_id, dim)
    index.refresh(conn)
    for n, q in enumerate(queries):
        pair = [
            ("steady: Quarry Hamming (numpy)", lambda q=q: numpy_candidates(index, q, count)),
            ("steady: vec0 bit[] KNN", lambda q=q: vec0_knn(conn, q, count)),
        ]
        for name, fn in pair if n % 2 else pair[::-1]:
            out[name].append(timed(fn))
    overlap = len(
        set(numpy_candidates(index, queries[0], count)) & set(vec0_knn(conn, queries[0], count))
    )
    conn.close()
    print(f"candidate overlap numpy vs vec0 on query 0: {overlap}/{count} (ties differ)")
    return out


def report(title: str, figures: dict[str, list[float]], base: str) -> str:
    """Markdown table: median ms and the ratio to ``base`` (same rounds)."""
    b = float(np.median(figures[base]))
    lines = [
        f"\n### {title}\n",
        "| method | median ms | min ms | vs baseline |",
        "|---|---:|---:|---:|",
    ]
    for name, times in figures.items():
        med = float(np.median(times))
        ratio = b / med if med else float("inf")
        lines.append(f"| {name} | {med * 1000:.1f} | {min(times) * 1000:.1f} | {ratio:.2f}x |")
    lines.append(f"\nbaseline: {base}; ratio > 1 means faster than the baseline.")
    return "\n".join(lines)


def header(args: argparse.Namespace) -> str:
    cpu = platform.processor() or "unknown"
    with open("/proc/cpuinfo") if os.path.exists("/proc/cpuinfo") else open(os.devnull) as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"## sqlite-vec cold start, {datetime.date.today()}\n\n"
        f"{args.n:,} chunks x {args.dim}, random unit vectors; {cpu}, {os.cpu_count()} cores"
        f" (VM shared with other jobs); {args.rounds} interleaved rounds; warm page cache."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quarry-vec-") as tmp:
        path = Path(tmp) / "bench.sqlite3"
        t0 = time.perf_counter()
        index_id, queries = build(path, args.n, args.dim, seed=7)
        print(header(args))
        print(f"\n(build {time.perf_counter() - t0:.0f} s)")
        print("\n| representation | MB on disk |\n|---|---:|")
        for name, size in table_bytes(path).items():
            print(f"| {name} | {size / 1e6:.1f} |")
        cold = cold_rounds(path, index_id, args.dim, args.rounds)
        print(report("Cold start to an in-memory sign-bit matrix", cold, next(iter(cold))))
        count = candidate_count(args.n, args.k)
        knn = query_rounds(path, index_id, args.dim, queries, count)
        first = {k: v for k, v in knn.items() if k.startswith("first")}
        steady = {k: v for k, v in knn.items() if k.startswith("steady")}
        print(report(f"First {count} candidates from a fresh connection", first, next(iter(first))))
        print(report(f"Steady {count} candidates per query", steady, next(iter(steady))))


if __name__ == "__main__":
    main()
