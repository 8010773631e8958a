"""``quarry serve`` as a client sees it: a real server process on 127.0.0.1, real HTTP.

One index (starter model, built by ``quarry index``) and one server for the module; the
answers are compared with ``quarry search --json`` run as its own process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.servers import QUERIES, Indexed, Served, build_indexed, serve

pytest.importorskip("uvicorn")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, starter_model_dir: Path) -> Indexed:
    return build_indexed(tmp_path_factory.mktemp("served"), starter_model_dir)


@pytest.fixture(scope="module")
def served(indexed: Indexed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(indexed, log=tmp_path_factory.mktemp("logs") / "serve.err") as server:
        yield server


@pytest.fixture(scope="module")
def client(served: Served, indexed: Indexed) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {indexed.token()}"}
    with httpx.Client(base_url=served.url, headers=headers, timeout=60) as http:
        yield http


def _body(argv: list[str]) -> dict[str, Any]:
    """The JSON request meaning the same as ``quarry search ARGV``."""
    body: dict[str, Any] = {"query": argv[0]}
    for flag, value in zip(argv[1::2], argv[2::2], strict=True):
        name = flag.removeprefix("--")
        body[name] = [value] if name in ("type", "folder") else value
    return body


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return str(error["message"])


@pytest.mark.parametrize("argv", QUERIES, ids=lambda a: " ".join(a))
def test_search_equals_the_cli(client: httpx.Client, indexed: Indexed, argv: list[str]) -> None:
    answer = client.post("/search", json=_body(argv))
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert results, "the query should find something in this corpus"
    assert results == indexed.search_json(*argv)


def test_weaker_matches_only_when_asked_as_with_all(client: httpx.Client, indexed: Indexed) -> None:
    query = "what does the keeper do during storms"
    strong = client.post("/search", json={"query": query}).json()["results"]
    every = client.post("/search", json={"query": query, "all": True}).json()["results"]
    assert every == indexed.search_json(query, "--all")
    assert not any(r["weak"] for r in strong) and any(r["weak"] for r in every)
    assert [r for r in every if not r["weak"]] == strong


def test_concurrent_searches_agree(client: httpx.Client) -> None:
    bodies = [_body(QUERIES[i % 2]) for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda b: client.post("/search", json=b).json(), bodies))
    assert all(a == answers[i % 2] for i, a in enumerate(answers))


@pytest.mark.parametrize("passage", [None, 1])
def test_similar_equals_the_cli(
    client: httpx.Client, indexed: Indexed, passage: int | None
) -> None:
    path = str(indexed.folder / "lighthouse.md")
    body: dict[str, Any] = {"path": path, "k": 5}
    argv = [path, "--k", "5"]
    if passage is not None:
        body["passage"] = passage
        argv += ["--passage", str(passage)]
    answer = client.post("/similar", json=body)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert results and path not in {r["path"] for r in results}
    assert results == indexed.similar_json(*argv)
    pdfs = client.post("/similar", json={**body, "type": ["pdf"]}).json()["results"]
    assert [r["path"] for r in pdfs] == [str(indexed.folder / "report.pdf")]


def test_get_reads_a_document_and_a_passage_in_context(
    client: httpx.Client, indexed: Indexed
) -> None:
    path = str(indexed.folder / "lighthouse.md")
    hits = client.post("/search", json={"query": "storms lamp", "type": ["md"]}).json()["results"]
    found = next(h for h in hits if h["path"] == path)
    at = max(p["end"] for p in found["passages"]) - 1  # deep in the document: not its first chunk
    passage = client.post("/get", json={"path": path, "at": at, "neighbours": 1}).json()
    chunk = passage["passage"]
    assert chunk["start"] <= at < chunk["end"]
    assert passage["start"] < chunk["start"] and passage["end"] >= chunk["end"]  # a neighbour
    whole, pieces, offset = "", 0, 0
    while offset is not None:
        page = client.post("/get", json={"path": path, "offset": offset, "max_chars": 700}).json()
        assert len(page["text"]) <= 700
        whole, offset, pieces = whole + page["text"], page["next_offset"], pieces + 1
    assert pieces > 2 and whole == (indexed.folder / "lighthouse.md").read_text().strip()


def test_status_names_the_index_and_model(client: httpx.Client, indexed: Indexed) -> None:
    status = client.get("/status").json()
    assert status["index"]["folders"] == [str(indexed.folder)]
    assert status["index"]["files"]["ok"] == 3
    assert status["embedder"]["model_id"].endswith("all-MiniLM-L6-v2")


def test_token_is_required_on_every_route(served: Served, indexed: Indexed) -> None:
    token_file = indexed.home / "config" / "api-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    routes = [("GET", "/status"), ("POST", "/search"), ("POST", "/get"), ("POST", "/mcp")]
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic x"}):
        for method, route in routes:
            answer = httpx.request(method, served.url + route, headers=headers, json={})
            message = _error(answer, 401, "unauthorized")
            assert str(token_file) in message and indexed.token() not in answer.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"Host": "evil.example:8765"},
        {"Host": "127.0.0.1.evil.example"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.example:8765"},
    ],
)
def test_foreign_host_or_origin_is_refused(client: httpx.Client, headers: dict[str, str]) -> None:
    """DNS rebinding: the browser sends the attacker's name even though it reached 127.0.0.1."""
    for route in ("/status", "/mcp"):
        answer = client.get(route, headers=headers)
        code = "bad_host" if "Host" in headers else "bad_origin"
        _error(answer, 421 if code == "bad_host" else 403, code)


def test_loopback_origin_is_accepted(client: httpx.Client) -> None:
    assert client.get("/status", headers={"Origin": "http://localhost:3000"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("{secret}", "not_in_index"),
        ("{folder}/../secret.txt", "bad_path"),
        ("{folder}/./invoice.txt", "bad_path"),
        ("{folder}//invoice.txt", "bad_path"),
        ("docs/invoice.txt", "bad_path"),
        ("../secret.txt", "bad_path"),
        ("{folder}/link-to-secret.txt", "not_in_index"),
        ("{folder}/invoice.txt\u0000.md", "bad_path"),
        ("/etc/passwd", "not_in_index"),
        ("{folder}", "not_in_index"),
    ],
)
def test_get_and_similar_refuse_paths_outside_the_index(
    client: httpx.Client, indexed: Indexed, path: str, code: str
) -> None:
    target = path.format(folder=indexed.folder, secret=indexed.secret)
    for route in ("/get", "/similar"):
        answer = client.post(route, json={"path": target})
        _error(answer, 404 if code == "not_in_index" else 400, code)
        assert "combination" not in answer.text


def test_limits_are_refused(client: httpx.Client) -> None:
    _error(client.post("/search", json={"query": "x", "k": 10**9}), 400, "limit")
    _error(client.post("/search", json={"query": "x", "k": 0}), 400, "limit")
    _error(client.post("/search", json={"query": "x" * 3000}), 400, "limit")
    _error(client.post("/search", json={"query": "x", "folder": ["/"] * 100}), 400, "limit")
    big = {"query": "x", "instruction": "y" * 200_000}
    _error(client.post("/search", json=big), 413, "too_large")
    chunked = client.post(
        "/search",
        content=iter([b'{"query": "', b"y" * 70_000, b'"}']),
        headers={"Content-Type": "application/json"},
    )
    _error(chunked, 413, "too_large")


def test_bad_requests_get_clear_json_errors(client: httpx.Client, indexed: Indexed) -> None:
    _error(client.post("/search", content=b"{not json", headers=_json()), 400, "invalid_json")
    _error(client.post("/search", content=b"query=x"), 400, "invalid_argument")
    _error(client.post("/search", json={"query": "x", "kk": 3}), 400, "invalid_argument")
    _error(client.post("/search", json={"k": 3}), 400, "invalid_argument")
    _error(client.post("/search", json={"query": 3}), 400, "invalid_argument")
    _error(client.post("/search", json={"query": "x", "after": "soon"}), 400, "invalid_argument")
    _error(client.post("/search", json={"query": "x", "preset": "nope"}), 400, "invalid_argument")
    _error(client.post("/search", json=["query"]), 400, "invalid_argument")
    _error(client.get("/search"), 405, "method_not_allowed")
    _error(client.delete("/status"), 405, "method_not_allowed")
    _error(client.get("/index"), 404, "not_found")
    path = str(indexed.folder / "invoice.txt")
    _error(client.post("/get", json={"path": path, "max_chars": 10**7}), 400, "limit")
    _error(client.post("/get", json={"path": path, "at": -1}), 400, "limit")
    _error(client.post("/get", json={"path": path, "neighbours": 99, "at": 0}), 400, "limit")
    _error(client.post("/similar", json={"path": path, "k": 10**9}), 400, "limit")
    _error(client.post("/similar", json={"path": path, "passage": 99}), 400, "limit")
    _error(client.post("/similar", json={"path": path, "passage": -1}), 400, "limit")
    _error(client.post("/similar", json={"path": path, "query": "x"}), 400, "invalid_argument")
    _error(client.post("/similar", json={"k": 3}), 400, "invalid_argument")


@pytest.mark.parametrize(
    "argv",
    [
        ["plumber invoice", "--after", "yesterday"],
        ["plumber invoice", "--after", "last week"],
        ["plumber invoice", "--before", "3 days ago"],
        ["plumber invoice", "--after", "2024-03"],
    ],
    ids=lambda a: " ".join(a[1:]),
)
def test_natural_dates_read_as_the_cli_reads_them(
    client: httpx.Client, indexed: Indexed, argv: list[str]
) -> None:
    answer = client.post("/search", json=_body(argv))
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert results == indexed.search_json(*argv)
    assert bool(results) == (argv[1] == "--after")  # the files changed minutes ago


def test_an_unknown_date_names_the_accepted_forms(client: httpx.Client) -> None:
    for name in ("after", "before"):
        message = _error(
            client.post("/search", json={"query": "x", name: "soon"}), 400, "invalid_argument"
        )
        assert f"'{name}'" in message and "'soon'" in message
        assert all(
            form in message for form in ("2024-05-17", "yesterday", "last week", "3 days ago")
        )


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def test_no_request_writes_to_the_index(client: httpx.Client, indexed: Indexed) -> None:
    """Last in the module: every request above and these left the database as indexed."""
    mtime = os.stat(indexed.db).st_mtime_ns
    client.post("/search", json={"query": "plumber", "k": 50})
    client.post("/get", json={"path": str(indexed.folder / "invoice.txt")})
    client.post("/similar", json={"path": str(indexed.folder / "invoice.txt"), "k": 50})
    client.get("/status")
    for route in ("/index", "/delete", "/folders", "/reindex", "/mcp"):
        client.post(route, json={"path": str(indexed.folder)})
    client.put("/search", json={"query": "x"})
    assert indexed.checksum() == indexed.built
    assert os.stat(indexed.db).st_mtime_ns == mtime


def test_refuses_to_listen_beyond_loopback_without_the_flag(indexed: Indexed) -> None:
    done = indexed.run("serve", "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2 and "--allow-remote" in done.stderr
