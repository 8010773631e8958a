"""Pipeline throughput vs the raw engine embedding the same chunk texts, in one run.

    python benchmarks/index_throughput.py [--files 200] [--model SPEC]

Generates a corpus of text files, indexes it with the full pipeline (extraction in worker
processes, chunking, batched embedding, per-file transactions), then embeds exactly the
texts the pipeline embedded (chunks and leads) with ``embed_documents`` directly. Prints both
rates in tokens/s and their ratio (target >= 0.9).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from app.fingerprint import chunker_for
from app.indexer import IndexerConfig
from app.pipeline import Pipeline
from app.settings import Settings
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from engine.resolve import default_embedding_spec

WORDS = [
    "river",
    "stone",
    "lantern",
    "harbor",
    "maple",
    "signal",
    "copper",
    "meadow",
    "violin",
    "owl",
    "archive",
    "ledger",
    "compass",
    "orchard",
    "glacier",
    "thunder",
    "velvet",
    "canyon",
    "beacon",
    "quartz",
]


def make_corpus(folder: Path, files: int, seed: int = 0) -> None:
    """Paragraphed prose files of varied length (a few hundred to a few thousand tokens)."""
    rng = random.Random(seed)
    for i in range(files):
        paragraphs = []
        for _ in range(rng.randint(2, 12)):
            sentences = [
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 20))).capitalize() + "."
                for _ in range(rng.randint(2, 8))
            ]
            paragraphs.append(" ".join(sentences))
        (folder / f"doc{i:04d}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--model", default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    spec = args.model or default_embedding_spec()[0]
    embedder = load_embedder(EmbedderConfig(model=spec))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        make_corpus(folder, args.files)
        settings = Settings(folders=[str(folder)])
        db = Path(tmp) / "index.sqlite3"
        embedder.embed_documents(["warm-up text"] * 4)
        started = time.perf_counter()
        with Pipeline(db, embedder, settings, config=IndexerConfig(workers=args.workers)) as p:
            summary = p.index_once()
        pipeline_s = time.perf_counter() - started
        chunker = chunker_for(embedder, settings)
        texts = []
        conn = sqlite3.connect(db)
        rows = conn.execute(  # every text phase 2 embedded: chunks, and leads (app/leads.py)
            "SELECT content_hash, heading, text FROM chunks UNION"
            " SELECT lead_hash, heading, substr(text, 1, lead_end) FROM chunks"
            " WHERE lead_hash IS NOT NULL"
        ).fetchall()
        conn.close()
        for _, heading, text in rows:
            prefix = chunker.prefix(tuple(heading.split(" > ")) if heading else ())
            texts.append(prefix + text)
        started = time.perf_counter()
        embedder.embed_documents(texts)
        raw_s = time.perf_counter() - started
    tokens = summary.tokens
    print(f"model            {embedder.info.model_id} ({embedder.info.backend})")
    print(f"files / chunks   {summary.ok} / {summary.chunks} ({summary.embedded} embedded)")
    print(f"pipeline         {pipeline_s:7.2f} s  {tokens / pipeline_s:9.0f} tokens/s")
    print(f"raw embed        {raw_s:7.2f} s  {tokens / raw_s:9.0f} tokens/s")
    print(f"ratio            {raw_s / pipeline_s:7.2f}x  (target >= 0.90)")


if __name__ == "__main__":
    main()
