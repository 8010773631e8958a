"""``quarry serve``: a JSON API and an MCP endpoint over HTTP on 127.0.0.1, models loaded once.

Routes: ``POST /search``, ``POST /similar``, ``POST /get``, ``GET /status`` and MCP (streamable HTTP) at
``/mcp``. Every request needs ``Authorization: Bearer <token>``, the token being in
``api-token`` in the config folder (``--print-token`` prints it). Loopback only unless
``--allow-remote``; read-only always. See ``app.serve.security`` for the rules.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.commands.model_args import add_server_arguments

if TYPE_CHECKING:
    from app.serve.security import ASGIApp

HELP = "Serve search over HTTP on 127.0.0.1 (JSON API + MCP at /mcp; token required; read-only)."
DEFAULT_PORT = 8765


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register the HTTP server's options."""
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0 picks a free one)")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other machines can reach (the token is still required)",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="with --allow-remote: a Host/Origin name clients use besides loopback",
    )
    add_server_arguments(p)
    p.add_argument("--workers", type=int, default=2, help="searches answered at once (default 2)")
    p.add_argument("--new-token", action="store_true", help="replace the token with a new one")
    p.add_argument("--print-token", action="store_true", help="print the token and exit")


def run(args: argparse.Namespace) -> int:
    """Bind, load the models, print where to connect (stderr), serve until Ctrl-C."""
    from app.serve.security import check_bind, load_token, token_path

    token = load_token(renew=args.new_token)
    if args.print_token:
        print(token)
        return 0
    try:
        check_bind(args.host, args.allow_remote)
        if not 1 <= args.workers <= 64:
            raise ValueError("--workers must be from 1 to 64")
        from app.serve.web import HttpServer, build_app

        server = HttpServer(args.host, args.port)  # a port in use fails before loading models
    except ImportError as exc:
        print(
            f"quarry serve: needs the 'serve' extra: pip install 'quarry[serve]' ({exc})",
            file=sys.stderr,
        )
        return 1
    except (ValueError, OSError) as exc:
        print(f"quarry serve: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    app = _app(args, token, build_app)
    if app is None:
        return 1
    print(
        f"quarry serve: listening on {server.url} (MCP at {server.url}/mcp); "
        f"token in {token_path()}",
        file=sys.stderr,
        flush=True,
    )
    server.serve(app)
    return 0


def _app(args: argparse.Namespace, token: str, build_app: Callable[..., ASGIApp]) -> ASGIApp | None:
    """The guarded app with the models loaded, or None after saying why not."""
    from app.serve.standalone import load_api
    from engine.errors import EngineError

    try:
        api = load_api("serve", args.db, args.rerank, args.workers)
    except EngineError as exc:
        print(f"quarry serve: {exc}", file=sys.stderr)
        return None
    extra = frozenset(args.allow_host) if args.allow_remote else frozenset()
    return build_app(api, token, extra)
