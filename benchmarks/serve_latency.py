"""Warm ``quarry serve`` under 16 concurrent clients vs a cold ``quarry search`` process, one run.

    python benchmarks/serve_latency.py [--clients 16] [--seconds 60] [--cold 20] [--topics 40]

Indexes the first ``--topics`` pydoc help topics with the starter model (real ``Pipeline``),
then starts the real ``quarry serve --port 0`` (a subprocess, models loaded once) and
measures, in this order so that slow drift of a shared machine hits both sides:

1. cold: half of ``--cold`` ``quarry search QUERY --json`` processes, one after another,
   each timed from spawn to exit (what a script or assistant pays per query without a
   server: interpreter start, imports, model load, search);
2. warm, one client: each labelled query once over HTTP, sequentially (the per-request
   cost without queueing);
3. warm, ``--clients`` concurrent clients: each loops over the queries (offset per
   client) for ``--seconds`` seconds with keep-alive connections; every request's latency
   is recorded, p50/p95 and throughput reported;
4. cold again: the other half of the processes.

Both sides search the same index with the same options (no rerank: no reranker ships).
The clients run in this process with asyncio, on the same cores as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from report import ROOT, index_folder, machine, percentile, starter_spec, table, write_pydoc_corpus

from engine.config import EmbedderConfig
from engine.factory import load_embedder


def quarry() -> list[str]:
    """The ``quarry`` script beside this Python, else ``python -m app``."""
    script = Path(sys.executable).with_name("quarry")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app"]


def environment(home: Path) -> dict[str, str]:
    return {**os.environ, "QUARRY_HOME": str(home), "PYTHONPATH": str(ROOT)}


def cold_search(query: str, db: Path, env: dict[str, str]) -> float:
    """Seconds for one ``quarry search`` process, spawn to exit."""
    started = time.perf_counter()
    done = subprocess.run(
        [*quarry(), "search", query, "--db", str(db), "--json", "--no-rerank"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or not json.loads(done.stdout):
        raise RuntimeError(f"quarry search failed: {done.stderr}")
    return elapsed


def start_server(db: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``quarry serve --port 0``; returns the process and its URL once it listens."""
    with open(log, "wb") as err:
        process = subprocess.Popen(
            [*quarry(), "serve", "--port", "0", "--db", str(db), "--no-rerank", "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://\S+) ", log.read_text(errors="replace"))
        if found:
            return process, found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"quarry serve did not start: {log.read_text()}")


async def one_client(url: str, token: str, queries: list[str]) -> list[float]:
    """Each query once, sequentially."""
    latencies = []
    async with httpx.AsyncClient(base_url=url, headers=_auth(token), timeout=120) as client:
        for query in queries:
            latencies.append(await _timed(client, query))
    return latencies


async def many_clients(
    url: str, token: str, queries: list[str], n: int, seconds: float
) -> list[float]:
    """``n`` clients looping over the queries until ``seconds`` have passed."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(
        base_url=url, headers=_auth(token), timeout=120, limits=limits
    ) as client:

        async def loop(offset: int) -> None:
            i = offset
            while time.perf_counter() < stop:
                latencies.append(await _timed(client, queries[i % len(queries)]))
                i += 1

        await asyncio.gather(*(loop(k * 3) for k in range(n)))
    return latencies


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _timed(client: httpx.AsyncClient, query: str) -> float:
    started = time.perf_counter()
    answer = await client.post("/search", json={"query": query, "k": 10, "rerank": False})
    elapsed = time.perf_counter() - started
    if answer.status_code != 200 or not answer.json()["results"]:
        raise RuntimeError(f"search failed: {answer.status_code} {answer.text[:300]}")
    return elapsed


def report(
    cold: list[float],
    single: list[float],
    loaded: list[float],
    args: argparse.Namespace,
    chunks: int,
) -> None:
    def ms(values: list[float], q: float) -> str:
        return f"{percentile(values, q) * 1000:,.0f}"

    base = percentile(cold, 50)
    rows = [
        ["cold `quarry search` process (baseline)", len(cold), ms(cold, 50), ms(cold, 95), "1.00x"],
        ["warm `quarry serve`, 1 client", len(single), ms(single, 50), ms(single, 95),
         f"{base / percentile(single, 50):.1f}x faster"],
        [f"warm `quarry serve`, {args.clients} concurrent clients, {args.seconds:.0f} s",
         len(loaded), ms(loaded, 50), ms(loaded, 95), f"{base / percentile(loaded, 50):.1f}x faster"],
    ]  # fmt: skip
    print(f"## Warm server vs cold CLI ({machine()})\n")
    print(
        f"{chunks} chunks (pydoc topics), starter model, hybrid search, k=10, no rerank; the "
        f"{args.clients} clients ran {len(loaded) / args.seconds:.1f} searches/s in total. "
        "Shared 2-core VM: clients, server and other jobs compete for the same cores.\n"
    )
    print(table(["what", "searches", "p50 ms", "p95 ms", "p50 vs cold"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--cold", type=int, default=20, help="cold quarry search processes")
    parser.add_argument("--topics", type=int, default=40, help="pydoc topics to index")
    args = parser.parse_args()
    from quality import load_queries

    queries = [q.text for q in load_queries()]
    spec = starter_spec()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        (home / "config").mkdir(parents=True)
        (home / "config" / "settings.json").write_text(
            json.dumps({"embed_model": spec, "rerank_enabled": False})
        )
        folder = Path(tmp) / "pydoc"
        write_pydoc_corpus(folder)
        for path in sorted(folder.iterdir())[args.topics :]:
            path.unlink()
        db = Path(tmp) / "index.sqlite3"
        embedder = load_embedder(EmbedderConfig(model=spec))
        _, chunks = index_folder(folder, db, embedder, spec)
        embedder.close()
        env = environment(home)
        process, url = start_server(db, env, Path(tmp) / "serve.err")
        try:
            token = (home / "config" / "api-token").read_text().strip()
            half = args.cold // 2
            cold = [cold_search(q, db, env) for q in queries[:half]]
            asyncio.run(one_client(url, token, queries[:5]))  # warm-up, not counted
            single = asyncio.run(one_client(url, token, queries))
            loaded = asyncio.run(many_clients(url, token, queries, args.clients, args.seconds))
            cold += [cold_search(q, db, env) for q in queries[half : args.cold]]
        finally:
            process.terminate()
            process.wait(30)
    report(cold, single, loaded, args, chunks)


if __name__ == "__main__":
    main()
