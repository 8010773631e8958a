"""Rerank latency per candidate on CPU vs the starter model's embedding cost, in one run.

    python benchmarks/rerank_latency.py [--candidates 20] [--tokens 200] [--repeats 5]

Candidates are pydoc help-topic passages of about ``--tokens`` WordPiece tokens. Rerankers:
the tiny random Qwen3 reranker (``tests.fixtures.tiny_models``) on the transformers backend
and, written as an f32 GGUF by ``tests.fixtures.gguf``, on the llamacpp backend; called as
``SearchService.rerank`` calls them (``SearchOptions.rerank_batch`` candidates per call).
The starter model (all-MiniLM-L6-v2) has no reranker, so the baseline is what the first
stage pays per candidate: ``embed_documents`` on the same passages, one batch, as the
indexer calls it. Prints the median of ``--repeats`` runs in ms per candidate and the
ratio rerank / embedding.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from report import machine, percentile, starter_spec, table

from app.search import SearchOptions
from engine.config import EmbedderConfig, RerankerConfig
from engine.factory import load_embedder, load_reranker
from engine.protocols import Embedder, Reranker

QUERY = "how do I handle errors so the program keeps running"


def passages(embedder: Embedder, count: int, tokens: int) -> list[str]:
    """``count`` consecutive pydoc passages of about ``tokens`` tokens (starter tokenizer)."""
    from pydoc_data.topics import topics

    words = " ".join(topics[name] for name in sorted(topics)).split()
    tok = embedder.tokenizer()
    out: list[str] = []
    start = 0
    while len(out) < count:
        width = 1
        while tok.count(" ".join(words[start : start + width + 1])) <= tokens:
            width += 1
        out.append(" ".join(words[start : start + width]))
        start += width
    return out


def per_candidate_ms(fn: Callable[[], object], candidates: int, repeats: int) -> float:
    """Median over ``repeats`` (after one warm-up) of the time per candidate, in ms."""
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return percentile(times, 50) * 1000 / candidates


def rank_in_batches(reranker: Reranker, docs: Sequence[str], batch: int) -> Callable[[], None]:
    """Score ``docs`` the way ``SearchService.rerank`` does: ``batch`` per ``rank`` call."""

    def run() -> None:
        for start in range(0, len(docs), batch):
            reranker.rank(QUERY, list(docs[start : start + batch]), None)

    return run


def tiny_models(folder: Path) -> list[tuple[str, str]]:
    """(backend, spec) of the tiny reranker as an HF folder and as a GGUF file."""
    from tests.fixtures.tiny_models import build_tiny_qwen3

    hf_dir = build_tiny_qwen3(folder / "tiny-rr", reranker=True, seed=1)
    models = [("transformers", str(hf_dir))]
    try:
        from tests.fixtures.gguf import write_qwen3_gguf

        gguf = write_qwen3_gguf(hf_dir, folder / "tiny-rr.gguf", add_eos_token=None)
        models.append(("llamacpp", str(gguf)))
    except ImportError as exc:
        print(f"note: GGUF skipped ({exc})")
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    batch = SearchOptions().rerank_batch
    embedder = load_embedder(EmbedderConfig(model=starter_spec()))
    docs = passages(embedder, args.candidates, args.tokens)
    mean_tokens = sum(embedder.tokenizer().count(d) for d in docs) / len(docs)
    base = per_candidate_ms(lambda: embedder.embed_documents(docs), len(docs), args.repeats)
    rows = [
        [
            f"starter {embedder.info.model_id} (baseline)",
            f"{embedder.info.backend}",
            "embed_documents (no reranker)",
            f"{base:.2f}",
            "1.00x",
        ]
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for backend, spec in tiny_models(Path(tmp)):
            reranker = load_reranker(RerankerConfig(model=spec, backend=backend, device="cpu"))
            ms = per_candidate_ms(rank_in_batches(reranker, docs, batch), len(docs), args.repeats)
            rows.append(
                [
                    "tiny random Qwen3 reranker",
                    backend,
                    f"rank, {batch} per call",
                    f"{ms:.2f}",
                    f"{ms / base:.2f}x",
                ]
            )
            reranker.close()
    print(f"## Rerank latency per candidate, CPU ({machine()})\n")
    print(
        f"{len(docs)} candidates of ~{mean_tokens:.0f} WordPiece tokens, median of "
        f"{args.repeats} runs after a warm-up; ratio = model / starter embedding per candidate.\n"
    )
    headers = ["model", "backend", "call", "ms/candidate", "vs starter embed"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
