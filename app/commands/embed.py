"""``quarry embed``: print the embedding of some texts, to check a model and backend by hand."""

from __future__ import annotations

import argparse
import json
import sys

from app.commands.model_args import add_model_arguments, add_source_arguments, model_config, report
from engine.config import EmbedderConfig
from engine.errors import EngineError
from engine.instructions import merged_presets, resolve_instruction

HELP = "Embed texts with a model and print the vectors."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``quarry embed``."""
    parser.add_argument("texts", nargs="+", metavar="TEXT", help="texts to embed")
    add_model_arguments(parser)
    parser.add_argument("--dim", type=int, help="output dimension (Matryoshka truncation)")
    parser.add_argument("--max-length", type=int, default=8192, help="tokens per text")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--instruction", help="query task instruction (Qwen3)")
    group.add_argument(
        "--preset",
        help=f"named instruction: {', '.join(sorted(merged_presets()))}, or one of your own",
    )
    parser.add_argument(
        "--document", action="store_true", help="embed as documents (no instruction)"
    )
    add_source_arguments(parser, "OpenAI-compatible server, e.g. http://host:8080/v1")


def _model_spec(args: argparse.Namespace) -> str:
    """The explicit --model, else the default model (telling the user when it is the starter)."""
    if args.model:
        return str(args.model)
    from engine.resolve import default_embedding_spec

    spec, notice = default_embedding_spec()
    if notice:
        print(notice, file=sys.stderr)
    return spec


def run(args: argparse.Namespace) -> int:
    """Embed, print, and map engine failures to one line on stderr and exit code 1."""
    from app import settings as app_settings
    from engine.factory import load_embedder

    try:  # checked before loading a model: a typo should fail in milliseconds
        task = resolve_instruction(
            args.instruction, args.preset, app_settings.load().custom_presets
        )
    except KeyError as exc:
        print(f"quarry embed: {exc.args[0]}", file=sys.stderr)
        return 2
    try:
        embedder = load_embedder(
            model_config(EmbedderConfig, args, _model_spec(args), dim=args.dim)
        )
        if embedder.info.notice:
            print(embedder.info.notice, file=sys.stderr)
        try:
            if args.document:
                vectors = list(embedder.embed_documents(args.texts))
            else:
                vectors = [embedder.embed_query(text, task) for text in args.texts]
        finally:
            embedder.close()
    except EngineError as exc:
        return report("embed", exc)
    info = embedder.info
    rows = [[float(x) for x in vector] for vector in vectors]
    if args.json:
        payload = {"model": info.model_id, "backend": info.backend, "dim": embedder.dim}
        print(json.dumps({**payload, "vectors": rows}))
        return 0
    kind = "document" if args.document else "query"
    print(f"{info.model_id} on {info.backend}, dim {embedder.dim}, as {kind}:")
    for text, row in zip(args.texts, rows, strict=True):
        head = ", ".join(f"{x:+.4f}" for x in row[:6])
        print(f"  {text[:40]!r}: [{head}, ...]")
    return 0
