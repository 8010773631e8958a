"""``quarry index PATH...``: index folders or files once, with a progress bar and a summary.

One indexing process per index at a time: a second ``quarry index`` (or ``quarry watch``)
on the same index waits for the first, and says so (``app.indexlock``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from app import paths, settings
from app.extract.errors import ExtractionError
from app.indexer import Progress, Summary
from app.indexlock import index_lock
from app.pipeline import Pipeline
from app.rebuild import RebuildProgress
from engine.errors import EngineError
from storage.errors import StorageError

HELP = "Index folders or files once (progress on stderr, summary at the end)."
DOWNLOAD_HELP = (
    "allow downloading a missing hub model (e.g. Qwen/Qwen3-Embedding-0.6B) for this run, "
    "with a progress bar on stderr; without it nothing goes online. A failed download exits "
    "with status 2 and one line saying what to download and where (no silent fallback to "
    "the starter model: the index would be built with another model)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``index`` and ``watch``."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="folders or files to index")
    parser.add_argument("--db", type=Path, help="index database (default: the app's)")
    parser.add_argument("--model", help="embedding model spec (default: Qwen3 or starter)")
    parser.add_argument("--download", action="store_true", help=DOWNLOAD_HELP)
    parser.add_argument("--workers", type=int, default=2, help="extraction processes")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--ocr", action=argparse.BooleanOptionalAction, default=None,
        help="read scanned pages and images with OCR (default: the setting, off at first)",
    )  # fmt: skip


def notice(text: str) -> None:
    """Print the model resolver's notice (the starter model is in use) on stderr."""
    print(f"quarry: {text}", file=sys.stderr)


def user_settings(args: argparse.Namespace, folders: list[str]) -> settings.Settings:
    """The saved settings, with the command line's folders, ``--model`` and ``--download``.

    Consent to download is per run on the command line (the window's saved consent is not
    used here), so a script never goes online unless it says so.
    """
    user = replace(settings.load(), folders=folders, allow_download=bool(args.download))
    if args.model:
        user = replace(user, embed_model=args.model)
    if getattr(args, "ocr", None) is not None:
        user = replace(user, ocr_enabled=bool(args.ocr))
    return user


def rebuild_printer(enabled: bool) -> Callable[[RebuildProgress], None]:
    """A callback showing the progress of a resumed index rebuild on stderr."""

    def show(p: RebuildProgress) -> None:
        if enabled:
            eta = f" ETA {p.eta_s:4.0f}s" if p.eta_s is not None else ""
            sys.stderr.write(f"\rrebuilding the index: {p.done}/{p.total} chunks{eta}   ")
            sys.stderr.flush()

    return show


def progress_line(p: Progress) -> str:
    """One terminal line: a bar (files read, then files embedded) and both phases' words."""
    from app.phases import PhaseStatus, describe

    status = PhaseStatus(
        p.keyword_files, p.meaning_files, p.backlog_tokens, p.tokens_per_s, p.embedding, p.error
    )
    head, done, total = "", p.meaning_files, p.keyword_files
    if p.state == "running":
        head, done, total = (
            f"reading {p.files_done:,}/{p.files_total:,} files · ",
            p.files_done,
            p.files_total,
        )
    filled = int(30 * min(done, total) / max(total, 1))
    ocr = f" · OCR {p.ocr_pages_per_s:.2f} pages/s" if p.ocr_pages else ""
    return f"\r[{'#' * filled}{'.' * (30 - filled)}] {head}{describe(status)}{ocr}"


def progress_printer(enabled: bool) -> Callable[[Progress], None]:
    """A callback drawing a one-line progress bar on stderr (only on a terminal)."""

    def show(p: Progress) -> None:
        if not enabled:
            return
        sys.stderr.write(f"{progress_line(p)[:160]:<161}")
        sys.stderr.flush()
        if p.state in ("done", "cancelled"):
            sys.stderr.write("\n")

    return show


def split_targets(targets: list[str]) -> tuple[list[str], list[str]]:
    """(folders, files) among the command-line paths; missing ones are reported."""
    folders, files = [], []
    for raw in targets:
        path = Path(raw).expanduser()
        if path.is_dir():
            folders.append(str(path.resolve()))
        elif path.is_file():
            files.append(str(path.resolve()))
        else:
            print(f"quarry: {raw}: no such file or folder", file=sys.stderr)
    return folders, files


def summary_dict(summary: Summary) -> dict[str, object]:
    """The JSON form of a run's summary."""
    return {
        "ok": summary.ok,
        "unchanged": summary.unchanged,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "failed_again": summary.failed_again,
        "deleted": summary.deleted,
        "chunks": summary.chunks,
        "embedded": summary.embedded,
        "keyword_only": summary.keyword_only,
        "waiting_for_vectors": summary.waiting,
        "ocr_pages": summary.ocr_pages,
        "ocr_pages_per_s": round(summary.ocr_pages_per_s, 3),
        "seconds": round(summary.seconds, 3),
        "problems": [{"path": p, "status": s, "reason": r} for p, s, r in summary.problems],
    }


_SURROGATE = re.compile("[\ud800-\udfff]")


def json_line(data: object) -> str:
    """JSON with non-ASCII text as is, but lone surrogates (undecodable file-name bytes)
    escaped as ``\\udcff``: valid UTF-8 out, and ``json.loads`` gives the exact name back."""
    text = json.dumps(data, ensure_ascii=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def print_summary(summary: Summary, as_json: bool) -> None:
    """Summary on stdout: JSON or a short human report."""
    if as_json:
        print(json_line(summary_dict(summary)))
        return
    print(
        f"{summary.ok} indexed, {summary.unchanged} unchanged, {summary.skipped} skipped,"
        f" {summary.failed} failed{_again(summary)}, {summary.deleted} removed;"
        f" {summary.chunks} chunks written, {summary.embedded} embedded in {summary.seconds:.1f}s"
    )
    if summary.ocr_pages:
        print(f"  OCR: {summary.ocr_pages} page(s) read, {summary.ocr_pages_per_s:.2f} pages/s")
    if summary.keyword_only:
        print(f"  {summary.keyword_only} file(s) searchable by keyword only (embedding failed)")
    if summary.waiting:
        print(
            f"  {summary.waiting} file(s) searchable by keyword, still waiting for vectors:"
            " run again (or keep `quarry watch` or the window open) to embed them"
        )
    for path, status, reason in summary.problems:
        print(f"  {status}: {path}: {reason}")


def _again(summary: Summary) -> str:
    return f" ({summary.failed_again} as before)" if summary.failed_again else ""


def build_pipeline(args: argparse.Namespace, folders: list[str]) -> Pipeline:
    """Settings with the command-line folders, the embedder, and the pipeline around them."""
    from app.indexer import IndexerConfig
    from app.loaders import make_embedder, open_store, settings_model_notice

    user = user_settings(args, folders)
    if user.embed_model and not args.model:
        notice(settings_model_notice(user.embed_model))
    embedder = make_embedder(user, on_notice=notice)
    try:
        store = open_store(path=database(args))
    except BaseException:
        embedder.close()
        raise
    terminal = sys.stderr.isatty()
    return Pipeline(
        store,
        embedder,
        user,
        on_progress=progress_printer(terminal),
        on_rebuild=rebuild_printer(terminal),
        config=IndexerConfig(workers=max(1, args.workers)),
    )


def database(args: argparse.Namespace) -> Path:
    """The index this command writes: ``--db`` or the app's."""
    return Path(args.db) if args.db else paths.database_path()


def waiting_notice(db: Path) -> Callable[[str], None]:
    """What a second indexing process prints while it waits for the lock."""

    def show(holder: str) -> None:
        who = f" ({holder})" if holder else ""
        print(
            f"quarry: another Quarry{who} is indexing {db}; waiting for it to finish"
            " (Ctrl-C stops)",
            file=sys.stderr,
        )

    return show


def run(args: argparse.Namespace) -> int:
    """Index once; exit 0 when nothing new failed, 1 when files failed in this run, 2 on errors.

    A file that had already failed and fails again unchanged is listed, but does not make
    every later run exit 1: it was reported when it first failed.
    """
    folders, files = split_targets(args.paths)
    if not folders and not files:
        return 2
    db = database(args)
    try:
        with (
            index_lock(db, "quarry index", waiting_notice(db)),
            build_pipeline(args, folders) as pipeline,
        ):
            summary = pipeline.index_once(files)
    except (EngineError, StorageError, ExtractionError) as exc:
        print(f"quarry: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nquarry: interrupted; the queue resumes on the next run", file=sys.stderr)
        return 130
    print_summary(summary, args.json)
    return 1 if summary.new_failures else 0
