"""The remote backend against real servers on 127.0.0.1: llama-cpp-python's OpenAI server
for embeddings, and stdlib HTTP servers running the real tiny reranker for ``/rerank``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("httpx")

from engine.backends.remote import (
    ApproxTokenizer,
    RemoteEmbedder,
    RemoteReranker,
    local_tokenizer,
)
from engine.errors import DimensionError, RemoteError

TEXTS = [
    "Hello world,",
    "The quick brown fox jumps over the lazy dog.",
    "x",
    "Qwen3 的嵌入模型支持一百多种语言。",
    "Une phrase en français.",
]
MODEL = "tiny-qwen3-embedding"  # "qwen3" in the name: queries get the instruction format


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None, deadline_s: float) -> None:
    """Poll ``url`` until it answers, the process dies, or the deadline passes."""
    import httpx

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server at {url} not ready after {deadline_s}s")


@pytest.fixture(scope="module")
def llama_server(
    tiny_embedding_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on the tiny GGUF (add_eos_token=true)."""
    pytest.importorskip("llama_cpp.server.app")
    port = free_port()
    log = (tmp_path_factory.mktemp("server") / "server.log").open("wb")
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(tiny_embedding_gguf), "--model_alias", MODEL,
        "--embedding", "true", "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "1024", "--n_batch", "1024", "--n_ubatch", "1024", "--verbose", "false",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/v1/models", proc, 180)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def local(tiny_embedding_gguf: Path) -> Iterator[Any]:
    pytest.importorskip("llama_cpp")
    from engine.backends.llamacpp import LlamaCppEmbedder

    emb = LlamaCppEmbedder(tiny_embedding_gguf, max_length=512)
    yield emb
    emb.close()


def cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)))


# ---------------------------------------------------------------- embeddings, real server


@pytest.mark.gguf
@pytest.mark.slow
def test_embeddings_match_local_backend(llama_server: str, local: Any) -> None:
    remote = RemoteEmbedder(llama_server, MODEL, batch_size=2)
    try:
        assert remote.dim == 64 and remote.info.backend == "remote"
        ours = remote.embed_documents(TEXTS)
        assert ours.shape == (len(TEXTS), 64) and ours.dtype == np.float32
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        assert cos(ours, local.embed_documents(TEXTS)).min() >= 0.999
    finally:
        remote.close()


@pytest.mark.gguf
@pytest.mark.slow
def test_query_instruction_formatted_client_side(llama_server: str, local: Any) -> None:
    remote = RemoteEmbedder(llama_server, MODEL)
    try:
        assert remote.info.uses_instruction
        task = "Given a question, retrieve passages that answer it"
        assert cos(remote.embed_query("fox", task), local.embed_query("fox", task)) >= 0.999
        # ...and not the same as the bare text: the instruction really was sent.
        assert cos(remote.embed_query("fox", task), local.embed_documents(["fox"])[0]) < 0.999
    finally:
        remote.close()


@pytest.mark.gguf
@pytest.mark.slow
@pytest.mark.parametrize("dim", [32, 48])
def test_dimensions_truncated_locally(
    llama_server: str, tiny_embedding_gguf: Path, dim: int
) -> None:
    """This server ignores ``dimensions``; the client truncates then normalises."""
    from engine.backends.llamacpp import LlamaCppEmbedder

    remote = RemoteEmbedder(llama_server, MODEL, dim=dim)
    local_dim = LlamaCppEmbedder(tiny_embedding_gguf, dim=dim, max_length=256)
    try:
        ours = remote.embed_documents(TEXTS)
        assert ours.shape == (len(TEXTS), dim)
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        assert cos(ours, local_dim.embed_documents(TEXTS)).min() >= 0.999
    finally:
        remote.close()
        local_dim.close()


@pytest.mark.gguf
@pytest.mark.slow
def test_dimension_out_of_range(llama_server: str) -> None:
    with pytest.raises(DimensionError):
        RemoteEmbedder(llama_server, MODEL, dim=128)


# ---------------------------------------------------------------- stdlib test servers


Handler = Callable[[str, dict[str, Any]], tuple[int, bytes]]


@pytest.fixture
def http_server() -> Iterator[Callable[[Handler], str]]:
    """Start real HTTP servers in threads; each answers POSTs through a Python function."""
    servers: list[ThreadingHTTPServer] = []

    def start(handle: Handler) -> str:
        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                status, body = handle(self.path, json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_server_down_is_quick_remote_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    start = time.monotonic()
    with pytest.raises(RemoteError, match=r"127\.0\.0\.1.*3 attempts"):
        RemoteEmbedder(url, MODEL, retries=2, backoff=0.05)
    assert time.monotonic() - start < 5


def test_malformed_json_is_remote_error(http_server: Callable[[Handler], str]) -> None:
    url = http_server(lambda path, body: (200, b"{not json"))
    with pytest.raises(RemoteError, match="malformed JSON"):
        RemoteEmbedder(url, MODEL, retries=0)


def test_wrong_shape_and_count_are_remote_errors(http_server: Callable[[Handler], str]) -> None:
    url = http_server(lambda path, body: (200, json.dumps({"object": "list"}).encode()))
    with pytest.raises(RemoteError, match="unexpected shape"):
        RemoteEmbedder(url, MODEL, retries=0)
    two = {"data": [{"index": 0, "embedding": [1.0, 0.0]}, {"index": 1, "embedding": [0.0, 1.0]}]}
    url = http_server(lambda path, body: (200, json.dumps(two).encode()))
    with pytest.raises(RemoteError, match="2 vectors for 1"):
        RemoteEmbedder(url, MODEL, retries=0)


def test_http_error_message_and_retry_on_5xx(http_server: Callable[[Handler], str]) -> None:
    calls: list[str] = []

    def flaky(path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        calls.append(path)
        if len(calls) == 1:
            return 503, b'{"error": "warming up"}'
        vectors = [
            {"index": i, "embedding": [3.0, 4.0] + [0.0] * 30} for i in range(len(body["input"]))
        ]
        return 200, json.dumps({"data": vectors[::-1]}).encode()

    url = http_server(flaky)
    emb = RemoteEmbedder(url, "plain-model", retries=2, backoff=0.01)
    assert calls == ["/v1/embeddings", "/v1/embeddings"]
    assert emb.dim == 32 and not emb.info.uses_instruction
    assert np.allclose(emb.embed_documents(["a", "b"])[:, :2], [[0.6, 0.8], [0.6, 0.8]])
    url = http_server(lambda path, body: (401, b'{"error": {"message": "bad key"}}'))
    with pytest.raises(RemoteError, match="HTTP 401: bad key"):
        RemoteEmbedder(url, MODEL, retries=0)


# ---------------------------------------------------------------- rerank, real model


QUERY = "what animal is a fox"
DOCS = ["A fox is a small mammal of the dog family.", "Paris is the capital of France.", "x"]


@pytest.fixture(scope="module")
def local_reranker(tiny_reranker_gguf: Path) -> Iterator[Any]:
    pytest.importorskip("llama_cpp")
    from engine.backends.llama_native import Runtime
    from engine.backends.llamacpp import LlamaCppReranker

    # Flash attention off: scores then do not depend on how candidates are batched, so the
    # remote round trip can be held to 1e-5 (with it on, f16 rounding moves them ~1e-3).
    rr = LlamaCppReranker(
        tiny_reranker_gguf, max_length=512, runtime=Runtime(threads=1, flash_attn=False)
    )
    yield rr
    rr.close()


def rerank_handler(rr: Any) -> Handler:
    """TEI (``/rerank``, ``texts``) and Jina (``/v1/rerank``, ``documents``) shapes.

    The Jina route answers raw logits (log-odds), as some servers do, so the client's
    normalisation to [0, 1] is exercised; TEI answers probabilities sorted by score.
    """

    def handle(path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        if path == "/rerank" and "texts" in body:
            scores = rr.rank(body["query"], body["texts"])
            items = [{"index": i, "score": float(s)} for i, s in enumerate(scores)]
            return 200, json.dumps(sorted(items, key=lambda x: -x["score"])).encode()
        if path == "/v1/rerank" and "documents" in body:
            p = np.clip(rr.rank(body["query"], body["documents"]), 1e-7, 1 - 1e-7).astype(float)
            logits = np.log(p / (1 - p))
            results = [{"index": i, "relevance_score": float(s)} for i, s in enumerate(logits)]
            return 200, json.dumps({"results": results}).encode()
        return 404, b'{"error": "not found"}'

    return handle


@pytest.mark.gguf
@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["", "/v1"])
def test_rerank_matches_local(
    http_server: Callable[[Handler], str], local_reranker: Any, suffix: str
) -> None:
    url = http_server(rerank_handler(local_reranker)) + suffix
    remote = RemoteReranker(url, "tiny-reranker", batch_size=2)
    try:
        expected = local_reranker.rank(QUERY, DOCS)
        ours = remote.rank(QUERY, DOCS)
        assert ours.shape == (3,) and ((ours >= 0) & (ours <= 1)).all()
        assert np.abs(ours - expected).max() <= 1e-4
    finally:
        remote.close()


@pytest.mark.gguf
@pytest.mark.slow
def test_rerank_qwen3_template_carries_the_instruction(
    http_server: Callable[[Handler], str], local_reranker: Any
) -> None:
    """vLLM-style servers score query + document as sent: the client's split judge prompt
    must then equal the full prompt the local reranker builds, custom instruction included."""

    def raw(path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        scores = local_reranker.rank_prompts([body["query"] + d for d in body["documents"]])
        results = [{"index": i, "relevance_score": float(s)} for i, s in enumerate(scores)]
        return 200, json.dumps({"results": results}).encode()

    remote = RemoteReranker(http_server(raw) + "/v1", "tiny-reranker", template="qwen3")
    task = "Judge whether the passage names the animal"
    assert (
        np.abs(remote.rank(QUERY, DOCS, task) - local_reranker.rank(QUERY, DOCS, task)).max()
        <= 1e-5
    )
    remote.close()


def test_rerank_bad_answers(http_server: Callable[[Handler], str]) -> None:
    url = http_server(lambda path, body: (200, json.dumps([{"index": 7, "score": 0.5}]).encode()))
    with pytest.raises(RemoteError, match="index 7"):
        RemoteReranker(url, "m", retries=0).rank("q", ["d"])
    url = http_server(lambda path, body: (200, b"<html>"))
    with pytest.raises(RemoteError, match="malformed JSON"):
        RemoteReranker(url, "m", retries=0).rank("q", ["d"])


# ---------------------------------------------------------------- tokenizers


def test_approx_tokenizer_spans() -> None:
    tok = ApproxTokenizer()
    text = "Hello, wonderful world 2024! 日本語"
    spans = tok.token_spans(text)
    assert tok.count(text) == len(spans) > 5
    assert all(a < b for a, b in spans)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))
    assert "".join(text[a:b] for a, b in spans) == text
    assert [text[a:b] for a, b in spans][-3:] == [" 日", "本", "語"]


def test_local_tokenizer_preferred(tiny_embedding_dir: Path) -> None:
    from engine.tokenizer import HFTokenizer

    assert isinstance(local_tokenizer(str(tiny_embedding_dir)), HFTokenizer)
    assert isinstance(local_tokenizer("someone/unknown-model"), ApproxTokenizer)
