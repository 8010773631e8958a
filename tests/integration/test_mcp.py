"""``quarry mcp`` driven by the official MCP SDK's client, as an assistant would drive it.

The client starts ``quarry mcp`` itself over stdio (like Claude Desktop does), lists the
tools and calls them on a real index; ``quarry serve``'s ``/mcp`` endpoint is driven the
same way over streamable HTTP with the bearer token.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.integration.servers import QUERIES, Indexed, build_indexed, quarry_command, serve

mcp = pytest.importorskip("mcp")
pytestmark = pytest.mark.slow

Session = Callable[[Any], Awaitable[Any]]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, starter_model_dir: Path) -> Indexed:
    return build_indexed(tmp_path_factory.mktemp("mcp"), starter_model_dir)


def _stdio(indexed: Indexed) -> Any:
    command = quarry_command()
    return mcp.StdioServerParameters(
        command=command[0], args=[*command[1:], "mcp"], env=indexed.env()
    )


def _with_client(server: Any, work: Session) -> Any:
    """Run ``work(client)`` inside one MCP session."""

    async def main() -> Any:
        async with mcp.Client(server, read_timeout_seconds=120) as client:
            return await work(client)

    return anyio.run(main)


def _arguments(argv: list[str]) -> dict[str, Any]:
    """The tool arguments meaning the same as ``quarry search ARGV``."""
    arguments: dict[str, Any] = {"query": argv[0]}
    for flag, value in zip(argv[1::2], argv[2::2], strict=True):
        name = flag.removeprefix("--")
        arguments[name] = [value] if name in ("type", "folder") else value
    return arguments


def _payload(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    payload: dict[str, Any] = result.structured_content
    assert json.loads(result.content[0].text) == payload  # the text form says the same
    return payload


def test_stdio_tools_answer_like_the_cli(indexed: Indexed) -> None:
    async def work(client: Any) -> dict[str, Any]:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        searches = [await client.call_tool("search", _arguments(argv)) for argv in QUERIES]
        first = _payload(searches[0])["results"][0]
        passage = await client.call_tool("get", {"path": first["path"], "at": first["start"]})
        status = await client.call_tool("status", {})
        return {"tools": tools, "searches": searches, "passage": passage, "status": status}

    answers = _with_client(_stdio(indexed), work)
    tools = answers["tools"]
    assert {"search", "get", "status"} <= set(tools)
    for tool in tools.values():
        assert len(tool.description) > 100 and tool.annotations.read_only_hint
    assert tools["search"].input_schema["properties"]["k"]["maximum"] == 50
    for argv, result in zip(QUERIES, answers["searches"], strict=True):
        assert _payload(result)["results"] == indexed.search_json(*argv)
    passage = _payload(answers["passage"])
    assert "plumber" in passage["text"] and passage["path"].endswith("invoice.txt")
    assert _payload(answers["status"])["index"]["files"]["ok"] == 3


def test_stdio_refusals_are_tool_errors_and_nothing_is_written(indexed: Indexed) -> None:
    before = indexed.checksum()
    calls = [
        ("get", {"path": str(indexed.secret)}, "not_in_index"),
        ("get", {"path": f"{indexed.folder}/../secret.txt"}, "bad_path"),
        ("get", {"path": str(indexed.folder / "link-to-secret.txt")}, "not_in_index"),
        ("get", {"path": "secret.txt"}, "bad_path"),
        ("search", {"query": "x", "k": 100_000}, "less than or equal to 50"),
        ("search", {"query": "x", "after": "someday"}, "invalid_argument"),
    ]

    async def work(client: Any) -> list[Any]:
        return [await client.call_tool(name, arguments) for name, arguments, _ in calls]

    results = _with_client(_stdio(indexed), work)
    for (_, _, expected), result in zip(calls, results, strict=True):
        assert result.is_error and expected in result.content[0].text
        assert "combination" not in result.content[0].text
    assert indexed.checksum() == before == indexed.built


def test_mcp_over_http_needs_the_token(indexed: Indexed, tmp_path: Path) -> None:
    httpx2 = pytest.importorskip("httpx2")
    from mcp.client.streamable_http import streamable_http_client

    async def search(client: Any) -> Any:
        return await client.call_tool("search", {"query": "plumber invoice"})

    with serve(indexed, log=tmp_path / "serve.err") as served:
        token = {"Authorization": f"Bearer {indexed.token()}"}
        http = httpx2.AsyncClient(headers=token, timeout=60)
        result = _with_client(streamable_http_client(served.url + "/mcp", http_client=http), search)
        assert _payload(result)["results"] == indexed.search_json("plumber invoice")
        statuses: list[int] = []

        async def record(response: Any) -> None:
            statuses.append(response.status_code)

        anonymous = httpx2.AsyncClient(timeout=60, event_hooks={"response": [record]})
        with pytest.raises(ExceptionGroup):  # the SDK wraps the refusal in task groups
            _with_client(streamable_http_client(served.url + "/mcp", http_client=anonymous), search)
    assert statuses and set(statuses) == {401}


def test_mcp_reports_a_missing_index_as_a_tool_error(
    tmp_path: Path, starter_model_dir: Path
) -> None:
    empty = Indexed(tmp_path / "home", tmp_path / "none", tmp_path / "none.txt")
    (empty.home / "config").mkdir(parents=True)
    (empty.home / "config" / "settings.json").write_text(
        json.dumps({"embed_model": str(starter_model_dir)})
    )

    async def work(client: Any) -> Any:
        return await client.call_tool("search", {"query": "anything"})

    result = _with_client(_stdio(empty), work)
    assert result.is_error and "index_unavailable" in result.content[0].text
    assert "index a folder first" in result.content[0].text
