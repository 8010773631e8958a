"""Plumbing shared by the subcommands that load models (``embed``, ``rerank``, ``mcp``,
``serve``): options, config, errors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TypeVar

from engine.config import BACKENDS, DEVICES, EmbedderConfig, RerankerConfig
from engine.errors import EngineError

ConfigT = TypeVar("ConfigT", EmbedderConfig, RerankerConfig)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model``, ``--backend`` and ``--device``: which model to load, and where."""
    parser.add_argument("--model", help="model folder, .gguf file or hub name (default: auto)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--device", choices=DEVICES, default="auto")


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """``--db`` and ``--rerank``, the options both servers (``mcp``, ``serve``) start with."""
    parser.add_argument("--db", type=Path, help="index database (default: the app's)")
    parser.add_argument(
        "--rerank",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="load the reranker (default: as in the settings)",
    )


def add_source_arguments(parser: argparse.ArgumentParser, remote_help: str) -> None:
    """``--remote-url``, ``--download`` and ``--json``, the options every model command ends with."""
    parser.add_argument("--remote-url", help=remote_help)
    parser.add_argument("--download", action="store_true", help="allow downloading the model")
    parser.add_argument("--json", action="store_true", help="print JSON")


def model_config(
    kind: type[ConfigT], args: argparse.Namespace, model: str, **extra: Any
) -> ConfigT:
    """``kind`` built from the shared options, plus ``extra`` fields only that kind has."""
    return kind(
        model=model,
        backend=args.backend,
        device=args.device,
        max_length=args.max_length,
        allow_download=args.download,
        remote_url=args.remote_url,
        **extra,
    )


def report(command: str, exc: EngineError) -> int:
    """One calm line on stderr for an engine failure; the exit code 1."""
    print(f"quarry {command}: error: {exc}", file=sys.stderr)
    return 1
