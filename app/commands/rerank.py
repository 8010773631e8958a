"""``quarry rerank``: score documents against a query with a reranker, to check it by hand."""

from __future__ import annotations

import argparse
import json

from app.commands.model_args import add_model_arguments, add_source_arguments, model_config, report
from engine.config import RerankerConfig
from engine.errors import EngineError, ModelNotFound

HELP = "Score documents against a query with a reranking model."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``quarry rerank``."""
    parser.add_argument("docs", nargs="+", metavar="DOC", help="documents to score")
    parser.add_argument("--query", required=True, help="the query")
    add_model_arguments(parser)
    parser.add_argument("--instruction", help="task instruction (default: web search)")
    parser.add_argument("--max-length", type=int, default=8192, help="tokens per pair")
    add_source_arguments(parser, "server with a /rerank endpoint")


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
        reranker = load_reranker(model_config(RerankerConfig, args, _model_spec(args)))
        try:
            scores = [float(s) for s in reranker.rank(args.query, args.docs, args.instruction)]
        finally:
            reranker.close()
    except EngineError as exc:
        return report("rerank", exc)
    if args.json:
        print(json.dumps({"scores": scores}))
        return 0
    ranked = sorted(zip(scores, args.docs, strict=True), key=lambda pair: -pair[0])
    for score, doc in ranked:
        print(f"{score:.4f}  {doc[:70]}")
    return 0
