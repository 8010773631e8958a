"""What stands between the HTTP API and every other program on the machine (or network).

- **Loopback only** unless the user passes ``--allow-remote``: ``check_bind``.
- **A bearer token** on every request: random, kept in ``api-token`` in the user's config
  folder, readable by the user only (0600), so only programs running as the user (or
  given the token) can search. Compared in constant time.
- **DNS rebinding guard**: a web page can make the browser resolve its own domain to
  127.0.0.1; such requests carry that domain in ``Host`` (and ``Origin``), so both must
  name the loopback interface (or a host the user allowed explicitly).
- **Bounded requests**: bodies over ``MAX_BODY_BYTES`` are refused before any handler
  reads them.

``Guard`` is plain ASGI, in front of every route (the MCP endpoint included), and answers
each refusal with the same JSON error body as the API (``Refusal.to_json``).
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app import paths
from app.serve.arguments import MAX_BODY_BYTES, Refusal

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_FILE = "api-token"


# ---- the token -------------------------------------------------------------------------


def token_path() -> Path:
    """Where the bearer token lives (the user's config folder, beside settings.json)."""
    return paths.config_dir() / TOKEN_FILE


def _write_private(path: Path, content: str) -> None:
    """Create ``path`` 0600 from the start (no moment where others could read it)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(content + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_token(*, renew: bool = False) -> str:
    """The API's bearer token, made on first use (or when ``renew``); the file stays 0600."""
    path = token_path()
    if not renew:
        with contextlib.suppress(FileNotFoundError, UnicodeDecodeError):
            token = path.read_text(encoding="ascii").strip()
            if len(token) >= 32:
                with contextlib.suppress(OSError):  # a copied-in file may have lost its mode
                    path.chmod(0o600)
                return token
    token = secrets.token_urlsafe(32)
    _write_private(path, token)
    return token


def token_matches(header: str | None, token: str) -> bool:
    """Does an ``Authorization`` header carry ``token``? (Constant-time comparison.)"""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


# ---- where requests may come from ------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Is ``host`` (a name or an address, IPv6 with or without brackets) this machine only?"""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool) -> None:
    """Refuse to listen beyond this machine unless the user said so explicitly."""
    if not is_loopback(host) and not allow_remote:
        raise ValueError(
            f"refusing to listen on {host}: other machines could reach the index; "
            "pass --allow-remote as well if that is what you want (the token stays required)"
        )


def host_of(header: str) -> str:
    """The host part of a ``Host`` header (port dropped, IPv6 brackets kept off)."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def origin_host(origin: str) -> str | None:
    """The host of an ``Origin`` header, None when it is not an http(s) origin at all."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname


class Guard:
    """ASGI middleware: Host, Origin, token and body size, checked before any route runs."""

    def __init__(self, app: ASGIApp, token: str, extra_hosts: frozenset[str] = frozenset()):
        self.app = app
        self.token = token
        self.extra_hosts = frozenset(h.lower() for h in extra_hosts)

    def _allowed(self, host: str) -> bool:
        return is_loopback(host) or host.strip("[]").lower() in self.extra_hosts

    def check(self, headers: dict[str, str]) -> Refusal | None:
        """The first rule the request breaks, if any."""
        host = headers.get("host", "")
        if not self._allowed(host_of(host)):
            return Refusal("bad_host", f"Host {host!r} is not this machine's loopback", 421)
        origin = headers.get("origin")
        if origin is not None and not self._allowed(origin_host(origin) or ""):
            return Refusal("bad_origin", f"requests from {origin!r} are not accepted", 403)
        if "authorization" not in headers:
            message = f"no token: send 'Authorization: Bearer TOKEN' (TOKEN is in {token_hint()})"
            return Refusal("unauthorized", message, 401)
        if not token_matches(headers["authorization"], self.token):
            return Refusal(
                "unauthorized", f"wrong token; the current one is in {token_hint()}", 401
            )
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return too_large()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # lifespan: start-up and shutdown only
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self.check(headers)
        body = None if refusal else await _read_body(receive)
        if body is None:
            await send_refusal(send, refusal or too_large())
            return
        await self.app(scope, _replay(body, receive), send)


def token_hint() -> str:
    """Where the token is, for error messages (the path, never the token)."""
    return str(token_path())


def too_large() -> Refusal:
    """The refusal of a body over the limit."""
    return Refusal("too_large", f"request bodies are limited to {MAX_BODY_BYTES} bytes", 413)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None once it exceeds ``MAX_BODY_BYTES`` (chunked uploads too)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body)
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES:
            return None
        if not message.get("more_body", False):
            return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the real channel."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_refusal(send: Send, refusal: Refusal) -> None:
    """Answer with the refusal's JSON body and status."""
    payload = json.dumps(refusal.to_json()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if refusal.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="quarry"'))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
