"""``scale.py``'s run: cached builds, this run's measurements, one markdown table.

The table and the raw figures (JSON) are printed; the JSON is also saved in the cache
folder as ``results-<date>.json``.
"""

from __future__ import annotations

import json
import shutil
import statistics
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import scale_build
from report import machine, percentile, starter_spec, table


def run(args: Any, stages: ModuleType) -> dict[str, Any]:
    """Build what is missing, measure, print the report; returns the raw figures."""
    cache: Path = args.cache
    cache.mkdir(parents=True, exist_ok=True)
    spec = starter_spec()
    folder = stages.corpus(cache, args.files)
    starter = cache / "starter.sqlite3"
    built = scale_build.cached(
        cache / "starter.json", lambda: scale_build.build_phase1(folder, starter, spec)
    )
    figures: dict[str, Any] = {"machine": machine(), "phase1": built}
    work = cache / "work.sqlite3"  # a scratch copy: the cached build stays phase-1-only
    shutil.copyfile(starter, work)
    figures["reconcile"] = stages.reconcile_vs_walk(work, folder, spec)
    figures["phase2"] = stages.phase2_window(work, folder, spec, args.phase2_seconds, args.rounds)
    work.unlink()
    if args.qwen:
        figures["qwen"] = _qwen(stages, cache, starter)
    small_db, small_folder, figures["small"] = _small(
        cache, folder, spec, max(20, args.files // 100)
    )
    launch_db = cache / "launch.sqlite3"
    figures["launch_db"] = scale_build.cached(
        cache / "launch.json", lambda: scale_build.build_launch_db(starter, launch_db)
    )
    if args.launches:
        dbs = {"large": (launch_db, folder), "small": (small_db, small_folder)}
        clusters = figures["launch_db"]["clusters"]
        figures["launch"] = stages.launches(dbs, clusters, args.launches)
    figures["bits"] = stages.bits_vs_floats(launch_db)
    (cache / f"results-{date.today().isoformat()}.json").write_text(json.dumps(figures, indent=2))
    print(report(figures))
    return figures


def _small(cache: Path, corpus: Path, spec: str, files: int) -> tuple[Path, Path, Any]:
    """A 1% index of the same corpus, 1024-d like the large one: the launch baseline."""
    folder = scale_build.small_corpus(corpus, cache / "corpus-small", files)
    db, launch = cache / "small-starter.sqlite3", cache / "small-launch.sqlite3"
    built = scale_build.cached(cache / "small.json", lambda: _build_small(folder, db, launch, spec))
    return launch, folder, built


def _build_small(folder: Path, db: Path, launch: Path, spec: str) -> dict[str, Any]:
    phase1 = scale_build.build_phase1(folder, db, spec)
    return {"phase1": phase1, "launch": scale_build.build_launch_db(db, launch)}


def _qwen(stages: ModuleType, cache: Path, starter: Path) -> dict[str, Any]:
    """Qwen3-0.6B-shaped speeds, and how many Qwen tokens the corpus is (from a sample)."""
    from storage.store import Store

    with Store.open(starter, readonly=True) as store:
        rows = store.conn.execute(
            "SELECT text, token_count FROM chunks ORDER BY id LIMIT 32"
        ).fetchall()
    speeds = stages.qwen_speed(cache, [r[0] for r in rows])
    ratio = speeds["float32"]["tokens"] / max(1, sum(r[1] for r in rows))
    return {**speeds, "tokens_ratio": ratio}


def _hours(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _ms(values: list[float], q: float) -> float:
    return percentile(values, q) if values else float("nan")


def report(f: dict[str, Any]) -> str:
    """The markdown table of every figure beside its same-run baseline."""
    p1, p2 = f["phase1"], f["phase2"]
    rows: list[list[str]] = []
    embed_s = p1["tokens"] / p2["tokens_per_s"] if p2["tokens_per_s"] else float("inf")
    rows.append([
        f"all {p1['files']:,} files / {p1['chunks']:,} chunks searchable by keyword (phase 1)",
        _hours(p1["seconds"]),
        f"all embedded: + {_hours(embed_s)} at the measured {p2['tokens_per_s']:,.0f} tokens/s"
        f" (starter; {p1['tokens'] / 1e6:,.0f}M tokens)",
        f"{p1['seconds'] / (p1['seconds'] + embed_s):.3f}x",
    ])  # fmt: skip
    rows.append([
        "phase 2 speed, starter model, real pipeline (wall clock)",
        f"{p2['tokens_per_s']:,.0f} tokens/s",
        f"embed_documents on the same texts, same thread priority: "
        f"{p2['raw_tokens_per_s']:,.0f} tokens/s",
        f"{p2['tokens_per_s'] / p2['raw_tokens_per_s']:.2f}x",
    ])  # fmt: skip
    for dtype in ("float32", "bfloat16"):
        if "qwen" not in f:
            break
        q = f["qwen"]
        rate = q[dtype]["tokens_per_s"]
        qwen_s = p1["tokens"] * q["tokens_ratio"] / rate
        rows.append([
            f"same, Qwen3-0.6B shape, transformers CPU {dtype}", _hours(p1["seconds"]),
            f"all embedded: + {_hours(qwen_s)} at {rate:,.0f} tokens/s (measured)",
            f"{p1['seconds'] / (p1['seconds'] + qwen_s):.4f}x",
        ])  # fmt: skip
    r = f["reconcile"]
    rows.append([
        f"reconcile, {p1['files']:,} unchanged files ({r['queued']} queued)",
        f"{r['reconcile_s']:.2f} s", f"os.walk + stat of the tree: {r['walk_s']:.2f} s",
        f"{r['reconcile_s'] / r['walk_s']:.2f}x",
    ])  # fmt: skip
    during, idle = p2["during_ms"], p2["idle_ms"]
    rows.append([
        f"search p50 / p95 while phase 2 embeds ({len(during)} queries)",
        f"{_ms(during, 50):.0f} / {_ms(during, 95):.0f} ms",
        f"phase 2 paused: {_ms(idle, 50):.0f} / {_ms(idle, 95):.0f} ms",
        f"{_ms(during, 50) / _ms(idle, 50):.2f}x / {_ms(during, 95) / _ms(idle, 95):.2f}x",
    ])  # fmt: skip
    rows += _launch_rows(f)
    return (
        f"## Scale ({f['machine']})\n\n"
        + table(["what", "Quarry", "baseline (same run)", "ratio"], rows)
        + "\n"
    )


def _launch_rows(f: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    big = f["launch_db"]
    b = f["bits"]
    rows.append([
        f"load the sign bits, {b['rows']:,} x {big['dim']}",
        f"{b['bits_s']:.2f} s", f"read every float vector (exact scan): {b['floats_s']:.1f} s",
        f"{b['bits_s'] / b['floats_s']:.3f}x",
    ])  # fmt: skip
    chunks = big["chunks"]
    rows.append([
        f"database bytes per chunk ({chunks:,} chunks x {big['dim']} dims)",
        f"{big['db_bytes'] / chunks:,.0f} B",
        f"float vector alone: {4 * big['dim']:,} B; phase 1 only: "
        f"{f['phase1']['db_bytes'] / max(1, f['phase1']['chunks']):,.0f} B",
        f"{big['db_bytes'] / chunks / (4 * big['dim']):.2f}x",
    ])  # fmt: skip
    if "launch" not in f:
        return rows
    large, small = f["launch"]["large"], f["launch"]["small"]

    def med(runs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    def mem(runs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(run[key]["VmRSS"] for run in runs)

    for key, label in (("shown", "launch to window shown"),
                       ("first_results", "launch to first results"),
                       ("stall_s", "longest main-thread stall until then")):  # fmt: skip
        rows.append([
            f"{label}, real window, {chunks:,} chunks", f"{med(large, key):.2f} s",
            f"same window, {f['small']['launch']['chunks']:,} chunks: {med(small, key):.2f} s",
            f"{med(large, key) / med(small, key):.2f}x",
        ])  # fmt: skip
    rows.append([
        f"RSS with the window open, {chunks:,} x {big['dim']}, after reconcile",
        f"{mem(large, 'memory_settled'):.0f} MB (peak {med_peak(large):.0f} MB)",
        f"{f['small']['launch']['chunks']:,} chunks: {mem(small, 'memory_settled'):.0f} MB",
        f"+{mem(large, 'memory_settled') - mem(small, 'memory_settled'):.0f} MB",
    ])  # fmt: skip
    return rows


def med_peak(runs: list[dict[str, Any]]) -> float:
    """Median of the runs' peak RSS (VmHWM) in MB."""
    return statistics.median(run["memory_settled"]["VmHWM"] for run in runs)
