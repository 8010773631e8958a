"""``quarry search QUERY``: hybrid search from the command line, optionally as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

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
    p.add_argument(
        "--type", action="append", default=[],
        help="only this extension (pdf, md), or 'image' (photos, scans) or 'mail' (messages)",
    )  # fmt: skip
    p.add_argument("--from", dest="sender", action="append", default=[],
                   help="only mail whose sender contains this (name or address)")  # fmt: skip
    p.add_argument("--after", help="modified on/after DATE (YYYY-MM-DD)")
    p.add_argument("--before", help="modified before DATE (YYYY-MM-DD)")
    p.add_argument("--mode", choices=["hybrid", "vector", "keyword"], default="hybrid")
    p.add_argument("--db", type=Path, help="index database (default: the app's)")
    p.add_argument(
        "--download",
        action="store_true",
        help="allow downloading a missing hub model for this run (progress on stderr); "
        "without it nothing goes online and a missing model is a one-line error",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")


def type_extensions(types: list[str]) -> tuple[str, ...]:
    """Extensions for ``--type`` words: 'image' means every image format, 'mail' filters by
    message instead (Maildir files have no extension)."""
    from app.extract.images import IMAGE_EXTS

    out: list[str] = []
    for word in (t.lower().lstrip(".") for t in types):
        if word == "image":
            out += [ext.lstrip(".") for ext in IMAGE_EXTS]
        elif word != "mail":
            out.append(word)
    return tuple(out)


def _date(text: str | None) -> float | None:
    return None if text is None else datetime.fromisoformat(text).timestamp()


def run(args: argparse.Namespace) -> int:
    """Run one search and print the results."""
    from app import paths, settings
    from app.context import make_embedder, make_reranker, rerank_depth
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
        embedder = None if args.mode == "keyword" else make_embedder(conf)
        note = instruction_note(task)
        if embedder is not None and embedder.info.uses_instruction and note:
            print(f"quarry search: note: {note}", file=sys.stderr)
        use_rerank = conf.rerank_enabled if args.rerank is None else args.rerank
        reranker = make_reranker(conf) if use_rerank and args.mode != "keyword" else None
        service = SearchService(
            args.db or paths.database_path(), embedder, reranker, rerank_depth=rerank_depth(conf)
        )
        filters = SearchFilters(
            folders=tuple(str(Path(f).expanduser().resolve()) for f in args.folder),
            extensions=type_extensions(args.type),
            modified_after=_date(args.after),
            modified_before=_date(args.before),
            mail_only="mail" in [t.lower() for t in args.type] or bool(args.sender),
            senders=tuple(args.sender),
        )
        opts = SearchOptions(k=args.k, filters=filters, instruction=task, mode=args.mode)
        results = service.search(query, opts)
        results = service.rerank(query, results, opts, on_update=lambda _r: None)
    except (StorageError, EngineError, KeyError, ValueError) as exc:
        print(f"quarry search: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=2))
    else:
        for i, r in enumerate(results, 1):
            where = f" p.{r.page}" if r.page else ""
            ocr = "  [OCR]" if r.ocr else ""
            mail = ""
            if r.document is not None:
                mail = f"\n    mail from {r.document.sender} on {r.document.date[:10]}: {r.document.title}"
            print(
                f"{i:2}. {r.score:.3f}  {r.path}{where}{ocr}{mail}\n    {r.snippet.strip()[:200]}"
            )
    return 0
