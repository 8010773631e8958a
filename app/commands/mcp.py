"""``quarry mcp``: answer an AI assistant over the Model Context Protocol on stdin/stdout.

The assistant starts this command itself (see the README for client configuration) and
talks to it through its pipes, so no port is opened and no token is needed. Tools:
``search``, ``similar``, ``get``, ``status``; all read-only.
"""

from __future__ import annotations

import argparse
import sys

from app.commands.model_args import add_server_arguments

HELP = "Serve search to an AI assistant over MCP on stdio (read-only; models loaded once)."
MISSING_EXTRA = "needs the 'serve' extra: pip install 'quarry[serve]'"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register the MCP server's options."""
    add_server_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Load the models, then serve until the client closes stdin."""
    try:
        from app.serve.tools import build_mcp
    except ImportError as exc:
        print(f"quarry mcp: {MISSING_EXTRA} ({exc})", file=sys.stderr)
        return 1
    from app.serve.standalone import load_api
    from engine.errors import EngineError

    try:
        api = load_api("mcp", args.db, args.rerank)
    except EngineError as exc:
        print(f"quarry mcp: {exc}", file=sys.stderr)
        return 1
    try:
        build_mcp(api).run("stdio")
    finally:
        api.close()
    return 0
