"""The token file, loopback rules and the Guard in front of every HTTP route."""

from __future__ import annotations

import stat
from pathlib import Path

import anyio
import httpx
import pytest

from app.serve.security import (
    Guard,
    check_bind,
    host_of,
    is_loopback,
    load_token,
    token_matches,
    token_path,
)


def test_token_is_random_private_and_kept(quarry_home: Path) -> None:
    first = load_token()
    path = token_path()
    assert path.parent == quarry_home / "config"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) >= 32
    assert load_token() == first
    path.chmod(0o644)  # e.g. restored from a backup
    assert load_token() == first and stat.S_IMODE(path.stat().st_mode) == 0o600
    renewed = load_token(renew=True)
    assert renewed != first and load_token() == renewed
    path.write_text("short\n")  # damaged: a new one rather than a guessable one
    assert load_token() not in ("short", renewed)
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_token_matching() -> None:
    assert token_matches("Bearer abc", "abc") and token_matches("bearer  abc ", "abc")
    for header in (None, "", "abc", "Basic abc", "Bearer abd", "Bearer", "Bearer abcd"):
        assert not token_matches(header, "abc")


def test_loopback_names() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.5", "localhost.evil.example", "", "127.0.0.1.nip.io"):
        assert not is_loopback(host), host
    assert [host_of(h) for h in ("127.0.0.1:80", "[::1]:80", "localhost", "[::1]")] == [
        "127.0.0.1",
        "::1",
        "localhost",
        "::1",
    ]


def test_binding_beyond_loopback_needs_the_flag() -> None:
    check_bind("127.0.0.1", allow_remote=False)
    with pytest.raises(ValueError, match="--allow-remote"):
        check_bind("0.0.0.0", allow_remote=False)
    check_bind("0.0.0.0", allow_remote=True)


async def _ok(scope: object, receive: object, send: object) -> None:
    """An app that echoes the body it was given (after the guard read it)."""
    body = (await receive())["body"]  # type: ignore[operator]
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": body})  # type: ignore[operator]


def _request(guard: Guard, headers: dict[str, str], body: bytes = b"") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=guard)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await c.post("/x", content=body, headers=headers)

    return anyio.run(go)


def test_guard_allows_only_what_the_user_allowed() -> None:
    token = "t" * 40
    auth = {"Authorization": f"Bearer {token}"}
    plain = Guard(_ok, token)
    assert _request(plain, auth, b"hello").content == b"hello"
    assert _request(plain, {**auth, "Host": "nas.local:8765"}).status_code == 421
    extra = Guard(_ok, token, frozenset({"nas.local"}))
    assert _request(extra, {**auth, "Host": "nas.local:8765"}).status_code == 200
    assert _request(extra, {**auth, "Origin": "http://nas.local:8765"}).status_code == 200
    assert _request(extra, {**auth, "Origin": "http://evil.example"}).status_code == 403
    assert _request(plain, {**auth, "Content-Length": "-1"}).status_code == 413
