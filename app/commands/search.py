"""``quarry search QUERY``: one result per file, from the command line, optionally as JSON.

The query language (``"exact phrase"``, ``-word``, ``type:pdf``, ``in:Projects``,
``after:last week``...) is read by ``app.query``; ``--after``/``--before`` take the same
dates (``app.dates``). Files found by meaning alone that fall below the model's calibrated
relevance floor are left out unless ``--all`` is given; the count is said on stderr.
``--passages`` prints the flat list of matching chunks instead, as earlier versions did.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.search import Passage, Result
    from app.settings import Settings
    from engine.protocols import Embedder

HELP = "Search the index: one result per file (vector + keyword, fused; reranked if possible)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register the search options."""
    p.add_argument(
        "query",
        nargs="+",
        help='what to look for; understands "exact phrase", -word, type:pdf, in:FOLDER, '
        "path:TEXT, after:DATE, before:DATE, lang:de",
    )
    p.add_argument("--k", type=int, default=10, help="number of files (or passages)")
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
    p.add_argument("--after", help="modified on/after DATE (2024-05-17, 2024-05, today, last week)")
    p.add_argument("--before", help="modified before DATE (same forms as --after)")
    p.add_argument("--mode", choices=["hybrid", "vector", "keyword"], default="hybrid")
    p.add_argument("--all", action="store_true", help="also list the weaker matches")
    p.add_argument(
        "--passages", action="store_true", help="list matching chunks (old flat list), not files"
    )
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
    from app.loaders import make_embedder, settings_model_notice
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


def _task(args: argparse.Namespace, conf: Any) -> str:
    """The query's task: ``--preset`` is checked strictly (a typo is an error, exit 1);
    Settings' saved preset, when no longer known, gives the default and a note."""
    from engine.instructions import preset_or_default, resolve_instruction

    preset = args.preset
    if preset is None and not args.instruction:
        preset, note = preset_or_default(conf.query_preset, conf.custom_presets)
        if note:
            _note(note)
    return resolve_instruction(args.instruction, preset, conf.custom_presets)


def filters_from(args: argparse.Namespace) -> Any:
    """The ``--folder``/``--type``/``--from``/``--after``/``--before`` options as
    SearchFilters (``--type image`` is every image format, ``--type mail`` messages only)."""
    from app.dates import parse_date
    from app.query import type_words
    from storage.models import SearchFilters

    extensions, mail_only = type_words(args.type)
    return SearchFilters(
        folders=tuple(str(Path(f).expanduser().resolve()) for f in args.folder),
        extensions=extensions,
        modified_after=None if args.after is None else parse_date(args.after),
        modified_before=None if args.before is None else parse_date(args.before),
        mail_only=mail_only,
        senders=tuple(args.sender),
    )


def run(args: argparse.Namespace) -> int:
    """Run one search and print the results."""
    from app import paths, settings
    from app.loaders import make_reranker, rerank_depth
    from app.search import (
        SearchError,
        SearchOptions,
        SearchService,
        instruction_note,
    )
    from engine.errors import EngineError
    from storage.errors import StorageError

    # Consent to download is per run here, never the window's saved consent.
    conf = replace(settings.load(), allow_download=bool(args.download))
    query = " ".join(args.query)
    try:
        filters = filters_from(args)
        task = _task(args, conf)
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
        opts = SearchOptions(k=args.k, filters=filters, instruction=task, mode=args.mode)
        if args.passages:
            return _print_passages(service.passages(query, opts), args.json)
        results = service.search(query, opts)
        if service.vector_problem:
            _note(service.vector_problem)
        results = service.rerank(query, results, opts, on_update=lambda _r: None)
    except KeyError as exc:  # str(KeyError) would wrap the message in quotes
        print(f"quarry search: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    except (StorageError, EngineError, SearchError, ValueError) as exc:
        print(f"quarry search: {exc}", file=sys.stderr)
        return 1
    return print_results(results, args.json, show_weak=args.all, command="search")


def print_results(results: list[Result], as_json: bool, *, show_weak: bool, command: str) -> int:
    """Files as JSON or as numbered lines; weak ones only with ``show_weak``."""
    from app.search import results_json

    shown = [r for r in results if show_weak or not r.weak]
    hidden = len(results) - len(shown)
    if as_json:
        print(json.dumps(results_json(shown, show_weak=True), ensure_ascii=False, indent=2))
    elif not shown:
        print("no results")
    else:
        for i, r in enumerate(shown, 1):
            print(_line(i, r))
    if hidden:
        print(
            f"quarry {command}: {hidden} weaker match(es) not shown (--all lists them)",
            file=sys.stderr,
        )
    return 0


def _line(i: int, r: Result) -> str:
    where = f" p.{r.page}" if r.page else ""
    level = f"[{r.level}] " if r.level else ""
    weak = " (weaker match)" if r.weak else ""
    more = len(r.passages) - 1
    extra = f"\n    + {more} more match{'es' if more > 1 else ''} in this file" if more else ""
    ocr = "  [OCR]" if r.ocr else ""
    return (
        f"{i:2}. {level}{r.path}{where}{ocr}{weak}{_mail(r)}\n    {r.snippet.strip()[:200]}{extra}"
    )


def _mail(r: Result) -> str:
    doc = r.document
    return "" if doc is None else f"\n    mail from {doc.sender} on {doc.date[:10]}: {doc.title}"


def _print_passages(passages: list[Passage], as_json: bool) -> int:
    if as_json:
        print(json.dumps([p.to_json() for p in passages], ensure_ascii=False, indent=2))
        return 0
    if not passages:
        print("no results")
    for i, p in enumerate(passages, 1):
        where = f" p.{p.page}" if p.page else ""
        ocr = "  [OCR]" if p.ocr else ""
        print(f"{i:2}. {p.score:.3f}  {p.path}{where}{ocr}\n    {p.snippet.strip()[:200]}")
    return 0
