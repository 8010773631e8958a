"""The HTTP API: ``/search``, ``/similar``, ``/get``, ``/status`` as JSON, and MCP at ``/mcp``, on uvicorn.

One Starlette app (the MCP SDK's streamable-HTTP app, stateless, JSON responses, with the
plain routes added) behind ``security.Guard``. Handlers run the blocking API calls on
worker threads, so a slow rerank never stalls the event loop. Every error, the router's
404 and 405 included, is a JSON body ``{"error": {"code", "message"}}``.

``HttpServer`` binds its socket itself: port 0 picks a free port that is known before
serving starts, and a refused bind is reported before any model work is wasted.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from typing import Any

import anyio.to_thread
import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.serve.api import ReadApi
from app.serve.arguments import (
    MAX_BODY_BYTES,
    SEARCH_FIELDS,
    SIMILAR_FIELDS,
    Refusal,
    SearchRequest,
    SimilarRequest,
    only,
)
from app.serve.security import ASGIApp, Guard
from app.serve.tools import build_mcp

log = logging.getLogger(__name__)

GET_FIELDS = ("path", "at", "neighbours", "offset", "max_chars", "message")
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_response(data: Any, status: int = 200) -> Response:
    """UTF-8 JSON; a file name that is not valid UTF-8 keeps its bytes as ``\\udcXX``."""
    text = _SURROGATE.sub(
        lambda m: f"\\u{ord(m.group()):04x}", json.dumps(data, ensure_ascii=False)
    )
    return Response(text.encode(), status, media_type="application/json")


async def _body(request: Request) -> object:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise Refusal(
            "invalid_argument", "send the request as JSON (Content-Type: application/json)"
        )
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise Refusal("invalid_json", "the request body is not valid JSON") from None


def _routes(api: ReadApi) -> dict[str, Any]:
    """Path -> handler of the plain JSON API."""

    async def search(request: Request) -> Response:
        fields = only(await _body(request), SEARCH_FIELDS, ("query",))
        return json_response(await anyio.to_thread.run_sync(api.search, SearchRequest(**fields)))

    async def similar(request: Request) -> Response:
        fields = only(await _body(request), SIMILAR_FIELDS, ("path",))
        return json_response(await anyio.to_thread.run_sync(api.similar, SimilarRequest(**fields)))

    async def get(request: Request) -> Response:
        fields = only(await _body(request), GET_FIELDS, ("path",))
        return json_response(await anyio.to_thread.run_sync(lambda: api.get(**fields)))

    async def status(request: Request) -> Response:
        return json_response(await anyio.to_thread.run_sync(api.status))

    return {"/search": search, "/similar": similar, "/get": get, "/status": status}


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    return json_response(exc.to_json(), exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = (
        "no such route; the API has POST /search, POST /similar, POST /get, GET /status and /mcp"
    )
    return json_response(Refusal(code, message).to_json(), exc.status_code)


async def _crashed(request: Request, exc: Exception) -> Response:
    log.error("request failed", exc_info=exc)
    body = Refusal("internal", f"Quarry failed: {type(exc).__name__}: {exc}").to_json()
    return json_response(body, 500)


def build_app(api: ReadApi, token: str, extra_hosts: frozenset[str] = frozenset()) -> ASGIApp:
    """The whole HTTP surface, guarded."""
    mcp = build_mcp(api)
    for path, handler in _routes(api).items():
        method = "GET" if path == "/status" else "POST"
        mcp.custom_route(path, methods=[method])(handler)
    app: Starlette = mcp.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        max_request_body_size=MAX_BODY_BYTES,
        # Guard checks Host and Origin for every route, with the user's extra hosts.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    app.add_exception_handler(Refusal, _refused)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _crashed)
    return Guard(app, token, extra_hosts)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (IPv4 or IPv6)."""
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(info[4])
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


class HttpServer:
    """uvicorn on a socket bound at construction (so the port is known, and taken, early)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.socket = bind(host, port)
        self.server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` as clients should use it."""
        host, port = self.socket.getsockname()[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def serve(self, app: ASGIApp) -> None:
        """Serve ``app`` until Ctrl-C (from the main thread) or ``stop``."""
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            limit_concurrency=64,  # beyond this, 503 at once instead of an ever longer queue
            timeout_keep_alive=30,
        )
        self.server = uvicorn.Server(config)
        self.server.run(sockets=[self.socket])

    def start(self, app: ASGIApp) -> None:
        """Serve on a background thread (the window's way); returns once it accepts."""
        self._thread = threading.Thread(target=self.serve, args=(app,), name="quarry-http")
        self._thread.daemon = True
        self._thread.start()
        while self._thread.is_alive() and not (self.server and self.server.started):
            self._thread.join(0.02)
        if not (self.server and self.server.started):
            self.socket.close()
            raise OSError(f"the API server at {self.url} stopped while starting")

    def stop(self) -> None:
        """Stop serving and wait for the thread (at most a few seconds)."""
        if self.server is not None:
            self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.socket.close()
