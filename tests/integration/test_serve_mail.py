"""``get`` on a mail message inside an mbox, over HTTP (``quarry serve``) and MCP (``quarry mcp``).

A message's chunks have offsets of their own (the message's text, headers first), so the
file's offsets cannot find one: the search result's ``mail.key`` names the message and
``get`` returns that message, not whatever of the archive lies at the same offset.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.fixtures import mail
from tests.integration.servers import Indexed, quarry_command, serve

pytest.importorskip("uvicorn")
mcp = pytest.importorskip("mcp")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, starter_model_dir: Path) -> Indexed:
    base = tmp_path_factory.mktemp("mailserve")
    home, folder = base / "home", base / "docs"
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.json").write_text(
        json.dumps({"embed_model": str(starter_model_dir)})
    )
    folder.mkdir()
    mail.write_mbox(folder / "archive.mbox", mail.messages(12))
    anna = mail.message("Harbour fees for March", "Anna Berg <anna@example.org>",
                        "The berth costs forty crowns a night.")  # fmt: skip
    (folder / "fees.eml").write_bytes(bytes(anna))
    indexed = Indexed(home, folder, base / "none")
    done = indexed.run("index", str(folder), "--json", "--workers", "1", timeout=300)
    assert done.returncode == 0, done.stderr
    return indexed


@pytest.fixture(scope="module")
def client(indexed: Indexed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with serve(indexed, log=tmp_path_factory.mktemp("logs") / "serve.err") as server:
        headers = {"Authorization": f"Bearer {indexed.token()}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
            yield http


def _only_message(text: str, i: int) -> None:
    """``text`` is message ``i``'s: its subject, sender and body, and no other message's."""
    assert f"subj{i}" in text and f"sender{i}@example.org" in text and f"body{i}" in text, text
    others = [j for j in range(12) if j != i and (f"subj{j} " in text or f"body{j}." in text)]
    assert not others, f"message {i}'s text shows messages {others}: {text!r}"


def test_http_get_reads_the_message_a_mail_result_names(client: httpx.Client) -> None:
    for i in (3, 9):
        found = client.post("/search", json={"query": f"body{i}", "mode": "keyword"})
        hit = found.json()["results"][0]
        assert hit["mail"]["subject"].endswith(f"subj{i}"), hit
        body = {"path": hit["path"], "at": hit["start"], "message": hit["mail"]["key"]}
        passage = client.post("/get", json=body)
        assert passage.status_code == 200, passage.text
        assert passage.json()["message"] == hit["mail"]["key"]
        _only_message(passage.json()["text"], i)
        whole = client.post("/get", json={"path": hit["path"], "message": hit["mail"]["key"]})
        assert whole.json()["text"].startswith("Subject:"), whole.json()["text"][:200]
        _only_message(whole.json()["text"], i)

    # Without `message`, the archive's offsets mean nothing: a clear refusal, not a wrong place.
    alone = client.post("/get", json={"path": hit["path"], "at": hit["start"]})
    assert alone.status_code == 400 and alone.json()["error"]["code"] == "message_needed"
    assert "mail.key" in alone.json()["error"]["message"]
    missing = client.post("/get", json={"path": hit["path"], "message": "no-such-key"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_in_index"

    # An .eml is one message: its key works, and so does leaving it out.
    eml = client.post("/search", json={"query": "berth", "mode": "keyword"}).json()["results"][0]
    assert eml["path"].endswith("fees.eml")
    for body in ({"path": eml["path"], "message": eml["mail"]["key"]}, {"path": eml["path"]}):
        text = client.post("/get", json=body).json()["text"]
        assert text.startswith("Subject: Harbour fees") and "forty crowns" in text, text


def test_mcp_get_reads_the_message_a_mail_result_names(indexed: Indexed) -> None:
    command = quarry_command()
    server = mcp.StdioServerParameters(
        command=command[0], args=[*command[1:], "mcp"], env=indexed.env()
    )

    async def main() -> tuple[dict[str, Any], Any]:
        async with mcp.Client(server, read_timeout_seconds=120) as session:
            found = await session.call_tool("search", {"query": "body7", "mode": "keyword"})
            hit = found.structured_content["results"][0]
            args = {"path": hit["path"], "at": hit["start"], "message": hit["mail"]["key"]}
            return hit, await session.call_tool("get", args)

    hit, passage = anyio.run(main)
    assert hit["mail"]["subject"].endswith("subj7")
    assert not passage.is_error, passage.content
    _only_message(passage.structured_content["text"], 7)
