"""``quarry search QUERY``: hybrid search from the command line, optionally as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.settings import Settings
    from engine.protocols import Embedder

from app.dates import FORMS

HELP = "Search the index (vector + keyword, fused; reranked when a reranker is available)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register the search options."""
    p.add_argument("query", nargs="+", help="what to look for")
    p.add_argument("--k", type=int, default=10, help="number of results")
    p.add_argument("--rerank", action=argparse.BooleanOptionalAction, default=None)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--preset", help="instruction preset name")
    group.add_argument("--instruction", help="custom query instruction")
    p.add_argument("--folder", action="append", default=[], help="only under this folder")
    p.add_argument("--type", action="append", default=[], help="only this extension (pdf, md)")
    p.add_argument("--after", help=f"modified on/after DATE ({FORMS})")
    p.add_argument("--before", help=f"modified before DATE ({FORMS})")
    p.add_argument("--mode", choices=["hybrid", "vector", "keyword"], default="hybrid")
    p.add_argument("--db", type=Path, help="index database (default: the app's)")
    p.add_argument(
        "--download",
        action="store_true",
        help="allow downloading a missing hub model for this run (progress on stderr); "
        "without it nothing goes online and a missing model is a one-line error",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")


NO_RERANKER = (
    "--rerank: no reranker is available (none set in Settings and no Qwen3 reranker found); "
    "results are not reranked"
)


def _embedder_or_none(conf: Settings, mode: str) -> Embedder | None:
    """The query embedder; None (keyword search only, said on stderr) when it cannot load."""
    from app.context import make_embedder, settings_model_notice
    from engine.errors import EngineError

    try:
        if conf.embed_model:
            _note(settings_model_notice(conf.embed_model))
        return make_embedder(conf, on_notice=_note)
    except EngineError as exc:
        if mode == "vector":
            raise
        _note(f"search by meaning is unavailable ({exc}); keyword matches only")
        return None


def _note(text: str) -> None:
    print(f"quarry search: note: {text}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run one search and print the results."""
    from app import paths, settings
    from app.context import make_reranker, rerank_depth
    from app.dates import timestamp
    from app.search import SearchOptions, SearchService, instruction_note
    from engine.errors import EngineError
    from engine.instructions import resolve_instruction
    from storage.errors import StorageError
    from storage.models import SearchFilters

    # Consent to download is per run here, never the window's saved consent.
    conf = replace(settings.load(), allow_download=bool(args.download))
    query = " ".join(args.query)
    try:
        task = resolve_instruction(
            args.instruction, args.preset or conf.query_preset, conf.custom_presets
        )
        embedder = None if args.mode == "keyword" else _embedder_or_none(conf, args.mode)
        note = instruction_note(task)
        if embedder is not None and embedder.info.uses_instruction and note:
            print(f"quarry search: note: {note}", file=sys.stderr)
        use_rerank = conf.rerank_enabled if args.rerank is None else args.rerank
        reranker = make_reranker(conf) if use_rerank and args.mode != "keyword" else None
        if args.rerank and reranker is None:
            _note(NO_RERANKER)
        service = SearchService(
            args.db or paths.database_path(), embedder, reranker, rerank_depth=rerank_depth(conf)
        )
        filters = SearchFilters(
            folders=tuple(str(Path(f).expanduser().resolve()) for f in args.folder),
            extensions=tuple(t.lower().lstrip(".") for t in args.type),
            modified_after=timestamp(args.after),
            modified_before=timestamp(args.before),
        )
        opts = SearchOptions(k=args.k, filters=filters, instruction=task, mode=args.mode)
        results = service.search(query, opts)
        if service.vector_problem:
            _note(service.vector_problem)
        results = service.rerank(query, results, opts, on_update=lambda _r: None)
    except KeyError as exc:  # str(KeyError) would wrap the message in quotes
        print(f"quarry search: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    except (StorageError, EngineError, ValueError) as exc:
        print(f"quarry search: {exc}", file=sys.stderr)
        return 1
    if not results and not args.json:
        print("no results")
        return 0
    if args.json:
        print(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=2))
    else:
        for i, r in enumerate(results, 1):
            where = f" p.{r.page}" if r.page else ""
            print(f"{i:2}. {r.score:.3f}  {r.path}{where}\n    {r.snippet.strip()[:200]}")
    return 0
