"""``quarry rerank``: score documents against a query with a reranker, to check it by hand."""

from __future__ import annotations

import argparse
import json
import sys

from engine.config import BACKENDS, DEVICES, RerankerConfig
from engine.errors import EngineError, ModelNotFound

HELP = "Score documents against a query with a reranking model."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``quarry rerank``."""
    parser.add_argument("docs", nargs="+", metavar="DOC", help="documents to score")
    parser.add_argument("--query", required=True, help="the query")
    parser.add_argument("--model", help="model folder, .gguf file or hub name (default: auto)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--instruction", help="task instruction (default: web search)")
    parser.add_argument("--max-length", type=int, default=8192, help="tokens per pair")
    parser.add_argument("--remote-url", help="server with a /rerank endpoint")
    parser.add_argument("--download", action="store_true", help="allow downloading the model")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _model_spec(args: argparse.Namespace) -> str:
    if args.model:
        return str(args.model)
    from engine.resolve import default_reranker_spec

    spec = default_reranker_spec()
    if spec is None:
        raise ModelNotFound(
            "No reranker found. Pass --model, or download one with "
            "`hf download Qwen/Qwen3-Reranker-0.6B` (about 1.2 GB)."
        )
    return spec


def run(args: argparse.Namespace) -> int:
    """Rerank, print, and map engine failures to one line on stderr and exit code 1."""
    from engine.factory import load_reranker

    try:
        config = RerankerConfig(
            model=_model_spec(args),
            backend=args.backend,
            device=args.device,
            max_length=args.max_length,
            allow_download=args.download,
            remote_url=args.remote_url,
        )
        reranker = load_reranker(config)
        try:
            scores = [float(s) for s in reranker.rank(args.query, args.docs, args.instruction)]
        finally:
            reranker.close()
    except EngineError as exc:
        print(f"quarry rerank: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"scores": scores}))
        return 0
    ranked = sorted(zip(scores, args.docs, strict=True), key=lambda pair: -pair[0])
    for score, doc in ranked:
        print(f"{score:.4f}  {doc[:70]}")
    return 0
