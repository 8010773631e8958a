"""The cached databases ``scale.py`` measures: built once, reused by later runs.

* ``starter.sqlite3``: phase 1 of the whole corpus through the real ``Pipeline`` (starter
  model's tokenizer and chunker, sandboxed extraction, 2 workers), embedding paused, so
  it holds every chunk and keyword and a phase-2 backlog of every file. Its build time is
  the "all files keyword-searchable" figure.
* ``launch.sqlite3``: a copy whose vector index is rebuilt through the store's own rebuild
  API (``begin_rebuild`` / ``embedding_work`` / ``add_vectors`` / ``finish_rebuild``) at
  1024 dimensions with synthetic clustered vectors, for the 1M x 1024 launch and memory
  figures: embedding 1M chunks with a real model would take this machine days. The
  fingerprint is the stub embedding server's (``scale_window``), so the real window can
  search it.
"""

from __future__ import annotations

import json
import shutil
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

STUB_MODEL = "bench/stub-1024"
STUB_DIM = 1024
CLUSTER_SIZE = 50  # chunks per cluster centre, as benchmarks/search_bench.py
SPREAD = 1.0


def bench_settings(folder: Path, **extra: Any) -> Any:
    """The settings every scale run indexes with (starter model, 252-token chunks: what the
    figures were first measured with, and what the window's stub model must match)."""
    from app.settings import Settings

    return Settings(
        folders=[str(folder)], rerank_enabled=False, first_run_done=True,
        pause_embedding_on_battery=False, chunk_tokens=252, chunk_overlap=48, **extra,
    )  # fmt: skip


def build_phase1(folder: Path, db: Path, spec: str, workers: int = 2) -> dict[str, Any]:
    """Phase 1 of ``folder`` into ``db`` (embedding paused); returns its figures."""
    from app.indexer import IndexerConfig
    from app.pipeline import Pipeline
    from engine.config import EmbedderConfig
    from engine.factory import load_embedder

    embedder = load_embedder(EmbedderConfig(model=spec))
    settings = bench_settings(folder, embed_model=spec)
    started = time.perf_counter()
    with Pipeline(db, embedder, settings, config=IndexerConfig(workers=workers)) as pipe:
        pipe.pause()
        summary = pipe.index_once()
        seconds = time.perf_counter() - started
        pipe.store.checkpoint()
        stats = pipe.store.stats(problem_limit=0)
    embedder.close()
    return {
        "files": summary.ok,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "chunks": stats.chunks,
        "tokens": stats.backlog.tokens,
        "seconds": seconds,
        "db_bytes": stats.db_bytes,
    }


def cached(path: Path, build: Any) -> dict[str, Any]:
    """``build()``'s figures, computed once and kept as JSON beside the databases."""
    if path.exists():
        return dict(json.loads(path.read_text()))
    figures = dict(build())
    path.write_text(json.dumps(figures, indent=2))
    return figures


def stub_fingerprint(chunker_version: str, heading_prefix: bool) -> Any:
    """The 1024-d stub model's fingerprint with the starter index's chunking."""
    from storage.models import Fingerprint

    return Fingerprint(STUB_MODEL, "", STUB_DIM, "last", "", chunker_version, heading_prefix)


def centres(count: int, dim: int = STUB_DIM, seed: int = 7) -> np.ndarray[Any, Any]:
    """Cluster centres shared by the synthetic index and the stub server's queries."""
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((count, dim), dtype=np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def clustered(hashes: list[str], hubs: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Deterministic unit vectors near a centre picked by each hash (real-like clusters)."""
    seeds = np.array([zlib.crc32(h.encode()) for h in hashes], dtype=np.uint64)
    rng = np.random.default_rng(int(seeds.sum() % (2**63)))
    noise = rng.standard_normal((len(hashes), hubs.shape[1]), dtype=np.float32)
    vecs = hubs[seeds % len(hubs)] + SPREAD * noise / np.sqrt(hubs.shape[1])
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def build_launch_db(source: Path, db: Path, batch: int = 8192) -> dict[str, Any]:
    """Copy ``source`` and rebuild its vectors at 1024-d (synthetic) through the store API."""
    from storage.store import Store

    tmp = db.with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    started = time.perf_counter()
    with Store.open(tmp) as store:
        active = store.fingerprint()
        assert active is not None
        fp = stub_fingerprint(active.chunker_version, active.heading_prefix)
        store.begin_rebuild(fp)
        hubs = centres(max(100, store.backlog(fp).chunks // CLUSTER_SIZE))
        while work := store.embedding_work(fp, max_tokens=10**9, max_chunks=batch,
                                           slice_chunks=batch):  # fmt: skip
            if not work.file_ids:
                break
            hashes = [c.content_hash for c in work.chunks]
            store.add_vectors(fp, hashes, clustered(hashes, hubs), work.file_ids)
        store.finish_rebuild()
        store.checkpoint()
        stats = store.stats(problem_limit=0)
        leads = store.conn.execute("SELECT count(lead_hash) FROM chunks").fetchone()[0]
    tmp.rename(db)
    return {
        "chunks": stats.chunks,
        "leads": int(leads),  # first chunks' second vectors (app/leads.py)
        "vectors": stats.embeddings,
        "dim": STUB_DIM,
        "rebuild_seconds": time.perf_counter() - started,
        "db_bytes": stats.db_bytes,
        "clusters": len(hubs),
    }


def small_corpus(corpus: Path, target: Path, files: int) -> Path:
    """The first ``files`` documents of the corpus (a small index for baselines)."""
    if target.exists():
        return target
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for i, path in enumerate(sorted(corpus.rglob("doc*.*"))[:files]):
        dest = tmp / path.parent.name / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
        if i + 1 >= files:
            break
    tmp.rename(target)
    return target


def qwen_06b_shape(folder: Path) -> Path:
    """A random-weight model with Qwen3-Embedding-0.6B's exact shape and real tokenizer.

    No hub is reachable here; speed depends on shape, not on the weights' values.
    Saved once (bf16, ~1.2 GB) and reused.
    """
    if (folder / "config.json").exists():
        return folder
    import torch
    from transformers import Qwen3Config, Qwen3Model

    from tests.fixtures.tiny_models import EOS_ID, VOCAB_SIZE, _save_tokenizer

    config = Qwen3Config(
        vocab_size=VOCAB_SIZE, hidden_size=1024, intermediate_size=3072,
        num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8, head_dim=128,
        max_position_embeddings=32768, tie_word_embeddings=True, rope_theta=1_000_000.0,
        bos_token_id=EOS_ID, eos_token_id=EOS_ID, pad_token_id=EOS_ID,
        torch_dtype="bfloat16",
    )  # fmt: skip
    torch.manual_seed(0)
    model = Qwen3Model(config).to(torch.bfloat16).eval()
    tmp = folder.with_name(folder.name + ".tmp")
    model.save_pretrained(tmp, safe_serialization=True)
    _save_tokenizer(tmp, append_eos=True)
    tmp.rename(folder)
    return folder


def qwen_child(folder: Path, sample: Path, dtype: str) -> dict[str, float]:
    """Embed the sample texts once (after a warm-up); tokens/s by the model's tokenizer."""
    from engine.config import EmbedderConfig
    from engine.factory import load_embedder

    texts = json.loads(sample.read_text())
    embedder = load_embedder(EmbedderConfig(model=str(folder), dtype=dtype))
    tokens = sum(embedder.tokenizer().count(t) for t in texts)
    embedder.embed_documents(texts[:2])
    started = time.perf_counter()
    embedder.embed_documents(texts)
    seconds = time.perf_counter() - started
    return {"tokens_per_s": tokens / seconds, "tokens": tokens}


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if sys.argv[1] == "qwen":
        print(json.dumps(qwen_child(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])))
