"""Scale benchmark: 100,000 files / ~1M chunks of real text, both indexing phases, start-up.

    python benchmarks/scale.py                    # full scale; databases cached (see --cache)
    python benchmarks/scale.py --qwen             # + Qwen3-0.6B-shaped model speed (~5 min)
    python benchmarks/scale.py --files 120 --cache /tmp/scale-smoke --phase2-seconds 3

Builds once and caches under ``--cache`` (default ``$QUARRY_BENCH_CACHE`` or
``/work/bench-cache/scale``): the corpus (``scale_corpus``: paragraphs of this machine's
real documentation), phase 1 of all of it with the real pipeline (``starter.sqlite3``),
and a 1024-d copy of that index filled with synthetic vectors through the store's rebuild
API (``launch.sqlite3``, see ``scale_build``). Every run then measures, each figure
beside a baseline taken in the same run (interleaved where both can alternate):

* all files keyword-searchable (phase 1, from the cached build) vs all embedded (phase 2
  at the speed measured in this run, for the whole backlog; and for Qwen3-0.6B from its
  measured speed and token count);
* reconcile of the unchanged folder vs a bare ``os.walk`` + ``stat`` of the same tree;
* search p50/p95 while phase 2 embeds vs with phase 2 paused (same process and index);
* the real window at 1M x 1024: launch to first results, main-thread stall, memory, vs
  the same window on a 1,000-file index; loading the persisted sign bits vs reading every
  float vector (the exact scan); database bytes per chunk vs the raw payload.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import scale_build
import scale_corpus

HERE = Path(__file__).resolve().parent
CHARS_PER_FILE = 4_700  # ~10 chunks per file with the starter model's 252-token chunks


def corpus(cache: Path, files: int) -> Path:
    folder = cache / "corpus"
    if not folder.exists():
        tmp = cache / "corpus.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        scale_corpus.write_corpus(tmp, files, CHARS_PER_FILE)
        tmp.rename(folder)
    return folder


def reconcile_vs_walk(db: Path, folder: Path, spec: str, rounds: int = 3) -> dict[str, Any]:
    """Pipeline.reconcile() on the unchanged folder vs os.walk + stat, interleaved."""
    from app.pipeline import Pipeline
    from engine.config import EmbedderConfig
    from engine.factory import load_embedder

    embedder = load_embedder(EmbedderConfig(model=spec))
    ours, walk, queued = [], [], 0
    with Pipeline(db, embedder, scale_build.bench_settings(folder, embed_model=spec)) as pipe:
        for _ in range(rounds):
            started = time.perf_counter()
            queued += pipe.reconcile()
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            for parent, _, names in os.walk(folder):
                for name in names:
                    os.stat(os.path.join(parent, name))
            walk.append(time.perf_counter() - started)
    embedder.close()
    return {"reconcile_s": min(ours), "walk_s": min(walk), "queued": queued}


def phase2_window(db: Path, folder: Path, spec: str, seconds: float, rounds: int) -> dict[str, Any]:
    """Phase 2 with the real pipeline: its speed alone, then searches while it runs vs paused.

    Speed: tokens committed (the store's backlog, read from a separate connection) over
    ``seconds`` of wall-clock time with nothing else running, beside ``embed_documents`` on
    the same texts in a thread at the same lowered priority (the model's own speed).
    """
    from quality import load_queries

    from app.indexer import IndexerConfig, Progress
    from app.pipeline import Pipeline
    from app.search import SearchOptions, SearchService
    from engine.config import EmbedderConfig
    from engine.factory import load_embedder
    from storage.store import Store

    queries = [q.text for q in load_queries()]
    indexing, searching = (load_embedder(EmbedderConfig(model=spec)) for _ in range(2))
    last: list[Progress] = []
    pipe = Pipeline(db, indexing, scale_build.bench_settings(folder, embed_model=spec),
                    config=IndexerConfig(workers=2), on_progress=last.append)  # fmt: skip
    reader = Store.open(db, readonly=True)
    fp = pipe.indexer.fingerprint
    sample = reader.embedding_work(fp, max_tokens=10**9, max_chunks=64, slice_chunks=64)
    before = reader.backlog(fp).tokens
    pipe.start(watch=False)
    started = time.monotonic()
    time.sleep(seconds)
    committed, elapsed = before - reader.backlog(fp).tokens, time.monotonic() - started
    service = SearchService(db, searching)
    service.search(queries[0], SearchOptions())  # warm: query model, sign bits, page cache
    during, idle, window = [], [], min(20.0, max(2.0, seconds / 3))
    for r in range(rounds):
        pipe.resume()
        during += _timed(service, queries, r, window)
        pipe.pause()
        _until(lambda: bool(last) and last[-1].embedding == "paused", 120)
        idle += _timed(service, queries, r, window)
    pipe.stop()
    service.close()
    reader.close()
    raw = _raw_speed(indexing, sample, fp.heading_prefix)
    return {
        "tokens_per_s": committed / elapsed,
        "raw_tokens_per_s": raw,
        "during_ms": during,
        "idle_ms": idle,
    }


def _raw_speed(embedder: Any, work: Any, heading_prefix: bool) -> float:
    """The model alone on a batch of the backlog's texts, on a thread at phase 2's priority."""
    from concurrent.futures import ThreadPoolExecutor

    from app.embedding import batch_texts, lower_thread_priority

    texts, _, _ = batch_texts(work, heading_prefix)
    with ThreadPoolExecutor(1, initializer=lower_thread_priority) as pool:
        started = time.perf_counter()
        pool.submit(embedder.embed_documents, texts).result()
        seconds = time.perf_counter() - started
    return float(work.tokens / seconds)


def _timed(service: Any, queries: list[str], offset: int, seconds: float) -> list[float]:
    from app.search import SearchOptions

    out, end, i = [], time.monotonic() + seconds, offset * 7
    while time.monotonic() < end or len(out) < 8:
        started = time.perf_counter()
        service.search(queries[i % len(queries)], SearchOptions())
        out.append((time.perf_counter() - started) * 1000)
        i += 1
    return out


def _until(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launches(dbs: dict[str, tuple[Path, Path]], clusters: int, repeat: int) -> dict[str, Any]:
    """The real window in child processes, the two databases taking turns."""
    port = free_port()
    server = subprocess.Popen([sys.executable, str(HERE / "scale_window.py"), "serve",
                               str(port), str(clusters)])  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in dbs}
    try:
        time.sleep(2.0)  # the server computes its cluster centres
        for _ in range(repeat):
            for name, (db, folder) in dbs.items():
                out[name].append(_launch(db, folder, url))
    finally:
        server.terminate()
        server.wait(10)
    return out


def _launch(db: Path, folder: Path, url: str) -> dict[str, Any]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    t0 = time.time()
    done = subprocess.run(
        [sys.executable, str(HERE / "scale_window.py"), "launch", str(db), str(folder), url,
         repr(t0)], capture_output=True, text=True, env=env, timeout=900, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def bits_vs_floats(db: Path, rounds: int = 2) -> dict[str, float]:
    """Loading the persisted sign bits vs reading every float vector (exact scan)."""
    import numpy as np

    from storage.store import Store

    bits, floats = [], []
    for _ in range(rounds):
        with Store.open(db, readonly=True) as store:
            started = time.perf_counter()
            rows = store.load_vector_index()
            bits.append(time.perf_counter() - started)
            fp = store.fingerprint()
            assert fp is not None
            query = np.ones(fp.dim, dtype=np.float32) / np.sqrt(fp.dim)
            started = time.perf_counter()
            store.vector_search(query, 10, exact=True)
            floats.append(time.perf_counter() - started)
    return {"bits_s": min(bits), "floats_s": min(floats), "rows": rows}


def qwen_speed(cache: Path, texts: list[str]) -> dict[str, Any]:
    """Tokens/s of a Qwen3-0.6B-shaped model on the transformers backend, fp32 (the CPU
    default) and bf16 (Settings > precision), each in a fresh process with the app's own
    thread settings (this script's BLAS pinning left out)."""
    folder = scale_build.qwen_06b_shape(cache / "qwen3-0.6b-shape")
    sample = cache / "qwen-sample.json"
    sample.write_text(json.dumps(texts))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["QUARRY_BENCH_THREADS"] = "0"
    out: dict[str, Any] = {}
    for dtype in ("float32", "bfloat16"):
        done = subprocess.run(
            [sys.executable, str(HERE / "scale_build.py"), "qwen", str(folder), str(sample), dtype],
            env=env, capture_output=True, text=True, timeout=1800, check=True,
        )  # fmt: skip
        out[dtype] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default_cache = os.environ.get("QUARRY_BENCH_CACHE", "/work/bench-cache/scale")
    parser.add_argument("--cache", type=Path, default=Path(default_cache))
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--phase2-seconds", type=float, default=180.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--launches", type=int, default=2)
    parser.add_argument("--qwen", action="store_true", help="measure a Qwen3-0.6B shape too")
    args = parser.parse_args()
    os.environ.setdefault("QUARRY_HOME", str(args.cache / "home"))
    from scale_report import run

    run(args, sys.modules[__name__])


if __name__ == "__main__":
    main()
