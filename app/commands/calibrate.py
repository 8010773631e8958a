"""``quarry calibrate``: measure which backend and precision embeds fastest on this computer."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from engine.calibrate import Candidate, Measurement, amount, duration

HELP = "Measure embedding speed of each installed backend/precision here; remembered for 'auto'."
DEFAULT_PROXY = "Qwen/Qwen3-Embedding-0.6B"
PER = 1_000_000  # figures are also shown per million tokens (about 2,500 pages of text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``quarry calibrate``."""
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="SPEC",
        help="model folder or .gguf to measure (repeatable; default: the model in use)",
    )
    parser.add_argument(
        "--proxy",
        metavar="MODEL_ID",
        help=f"also measure a same-shape stand-in of a model not downloaded (e.g. {DEFAULT_PROXY})",
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="time per candidate")
    parser.add_argument("--json", action="store_true", help="print JSON")


def candidates(args: argparse.Namespace) -> list[Candidate]:
    """The explicit models, else the model in use; plus proxies when asked or when no Qwen3."""
    from app import settings as app_settings
    from engine.calibrate import candidates_for, proxy_candidates
    from engine.resolve import default_embedding_spec, resolve

    specs = list(args.model)
    proxy = args.proxy
    if not specs:
        spec = app_settings.load().embed_model or default_embedding_spec()[0]
        specs = [spec]
    out: list[Candidate] = []
    for spec in specs:
        resolved = resolve(spec)
        if resolved.path is not None:
            out += candidates_for(resolved.model_id, [str(resolved.path)])
        if resolved.entry is not None and resolved.entry.family == "bert" and not args.model:
            proxy = proxy or DEFAULT_PROXY  # no Qwen3 yet: say what the download would cost
    if proxy:
        out += proxy_candidates(proxy)
    return out


def run(args: argparse.Namespace) -> int:
    """Measure, remember, print; exit 1 when nothing could run."""
    from engine.calibrate import calibrate, fastest
    from engine.errors import EngineError
    from engine.machine import detect

    try:
        todo = candidates(args)
    except EngineError as exc:
        print(f"quarry calibrate: error: {exc}", file=sys.stderr)
        return 1
    if not todo:
        print("quarry calibrate: nothing to measure: no backend installed for this model",
              file=sys.stderr)  # fmt: skip
        return 1
    if not args.json:
        print(f"Measuring on {detect().describe()}, {args.seconds:g} s each:")
    results = calibrate(todo, seconds=args.seconds, on_result=None if args.json else _line)
    winners = [id(w) for w in _fastest_per_model(results)]
    if args.json:
        rows = [{**asdict(r.candidate), "tokens_per_s": r.tokens_per_s, "error": r.error,
                 "fastest": id(r) in winners} for r in results]  # fmt: skip
        print(json.dumps(rows))
    else:
        for best in _fastest_per_model(results):
            who = best.candidate.model_id + (" (stand-in)" if best.candidate.proxy else "")
            print(f"Fastest for {who}: {best.candidate.label}, "
                  f"about {duration(PER / best.tokens_per_s)} per {amount(PER)} tokens.")  # fmt: skip
    return 0 if fastest(results) is not None else 1


def _fastest_per_model(results: list[Measurement]) -> list[Measurement]:
    """The fastest measurement of each model (a stand-in counted apart from real copies)."""
    from engine.calibrate import fastest

    keys = dict.fromkeys((r.candidate.model_id, r.candidate.proxy) for r in results)
    groups = [[r for r in results if (r.candidate.model_id, r.candidate.proxy) == k] for k in keys]
    return [best for best in map(fastest, groups) if best is not None]


def _line(result: Measurement) -> None:
    stand_in = " [stand-in]" if result.candidate.proxy else ""
    print(f"  {result.candidate.model_id}{stand_in}: {result.describe(PER)}", flush=True)
