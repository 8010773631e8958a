"""Remote backend: an OpenAI-compatible ``/v1/embeddings`` server and a ``/rerank`` endpoint.

For users who run the models elsewhere (TEI, vLLM, llama-server, llama-cpp-python's server).
The server owns tokenisation, so EOS handling is its business (the official Qwen3 tokenizer
and GGUFs append EOS themselves); the client owns everything that changes *which* text is
embedded or how vectors are compared:

- Qwen3 query instructions are formatted here, because servers embed what they are sent.
- Matryoshka dimensions: ``dimensions`` is requested once; a server that ignores or rejects
  it gets full vectors truncated and re-normalised locally, which is mathematically the same.
- Every vector is L2-normalised here, whatever the server did.

Rerank endpoints come in two shapes, both understood: TEI (``POST /rerank`` with
``texts``, answering ``[{"index", "score"}]``) and Jina/Cohere/vLLM/llama-server
(``POST /v1/rerank`` with ``documents``, answering ``{"results": [{"index",
"relevance_score"}]}``). Scores outside [0, 1] are taken as logits and squashed by a sigmoid.

Errors: network failures, timeouts and 5xx/429 answers are retried with exponential backoff,
then raised as ``RemoteError`` naming the URL; malformed answers raise ``RemoteError`` at once.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import httpx
import numpy as np

from engine.errors import DimensionError, RemoteError
from engine.instructions import DEFAULT_TASK, RERANK_PREFIX, RERANK_SUFFIX, format_query
from engine.protocols import ModelInfo, Tokenizer, Vector
from engine.registry import lookup

if TYPE_CHECKING:
    from engine.config import EmbedderConfig, RerankerConfig
    from engine.resolve import ResolvedModel

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class HttpOptions(TypedDict, total=False):
    """How both remote models talk to their server (``HttpClient``'s keyword options)."""

    api_key: str | None
    timeout: float
    retries: int
    backoff: float


class HttpClient:
    """JSON POSTs with timeouts, bounded retries and errors that name the endpoint."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.25,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.retries, self.backoff = max(retries, 0), backoff
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout, connect=connect_timeout)
        )

    def post(self, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
        """POST ``payload``; return (status, parsed JSON) for any 2xx/4xx answer."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 8.0))
            try:
                response = self._client.post(url, json=payload)
            except httpx.HTTPError as exc:  # connect refused, timeout, protocol error
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in RETRY_STATUS:
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            return response.status_code, _parse_json(url, response)
        raise RemoteError(f"{url} failed after {self.retries + 1} attempts ({last})")

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def _parse_json(url: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise RemoteError(
            f"{url} answered HTTP {response.status_code} with malformed JSON: "
            f"{response.text[:200]!r}"
        ) from exc


def _endpoint_base(url: str) -> str:
    """``http://host:port`` or ``.../v1``: the OpenAI routes hang below ``/v1``."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body))
        if isinstance(err, dict):
            err = err.get("message", err)
        return str(err)[:300]
    return str(body)[:300]


def is_qwen3(model: str) -> bool:
    """Qwen3 models need client-side instruction formatting."""
    entry = lookup(model)
    return (entry is not None and entry.family == "qwen3") or "qwen3" in model.lower()


class ApproxTokenizer:
    """A documented approximation for chunking when the model's tokenizer is not local.

    Splits like the Qwen pre-tokenizer (a word with its leading space, single digits,
    punctuation runs), then cuts pieces into 4-character tokens; CJK characters count one
    each. This over-counts English slightly versus Qwen's BPE, which keeps chunks safely
    under the server's limit. Only the remote backend uses it.
    """

    _CJK = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff"
    _PIECE = re.compile(rf" ?[{_CJK}]| ?[^\W\d_{_CJK}]+|\d| ?[^\w\s]+|\s+")
    _MAX = 4

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character spans covering the text's non-ignored pieces."""
        spans: list[tuple[int, int]] = []
        for match in self._PIECE.finditer(text):
            start, end = match.span()
            spans.extend((s, min(s + self._MAX, end)) for s in range(start, end, self._MAX))
        return spans

    def count(self, text: str) -> int:
        """Approximate token count."""
        return len(self.token_spans(text))


def local_tokenizer(model: str) -> Tokenizer:
    """The model's real tokenizer from a local folder or the HF cache, else ApproxTokenizer."""
    from engine.tokenizer import HFTokenizer

    folder = Path(model).expanduser()
    if (folder / "tokenizer.json").exists():
        return HFTokenizer.from_folder(folder)
    if "/" in model:
        try:
            from engine.resolve import cached_snapshot

            snapshot = cached_snapshot(model)
        except Exception:  # no huggingface_hub or an odd cache: approximate instead
            snapshot = None
        if snapshot is not None and (snapshot / "tokenizer.json").exists():
            return HFTokenizer.from_folder(snapshot)
    return ApproxTokenizer()


class RemoteEmbedder:
    """Embeddings from an OpenAI-compatible server; vectors normalised here."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        dim: int | None = None,
        max_length: int = 8192,
        batch_size: int = 32,
        **http: Unpack[HttpOptions],
    ) -> None:
        self.model = model
        self.max_length = max_length
        self.batch_size = max(batch_size, 1)
        self._http = HttpClient(_endpoint_base(url), **http)
        self._send_dimensions = dim is not None
        native = self._request(["dimension probe"], None).shape[1]  # also proves the server works
        entry = lookup(model)
        low = entry.min_dim if entry else (32 if is_qwen3(model) else native)
        if dim is not None and not min(low, native) <= dim <= native:
            raise DimensionError(f"Dimension {dim} is outside this model's range {low}..{native}")
        self.dim = dim or native
        self.info = ModelInfo(
            model_id=entry.model_id if entry else model,
            revision="",
            family=entry.family if entry else ("qwen3" if is_qwen3(model) else "remote"),
            pooling=entry.pooling if entry else "last",
            min_dim=min(low, native),
            max_dim=native,
            uses_instruction=entry.uses_instruction if entry else is_qwen3(model),
            backend="remote",
        )
        self._tokenizer: Tokenizer | None = None

    def _request(self, texts: list[str], dim: int | None) -> np.ndarray:
        """One POST; returns the raw vectors in input order, shape-checked."""
        payload: dict[str, Any] = {"model": self.model, "input": texts}
        if dim is not None and self._send_dimensions:
            payload["dimensions"] = dim
        status, body = self._http.post("embeddings", payload)
        if status >= 400 and "dimensions" in payload:
            self._send_dimensions = False  # e.g. vLLM on a non-MRL model: truncate locally
            return self._request(texts, dim)
        if status >= 400:
            raise RemoteError(f"Embedding server answered HTTP {status}: {_error_text(body)}")
        return _vectors_from(body, len(texts))

    def _embed(self, texts: Sequence[str]) -> Vector:
        chunks = [
            self._request(list(texts[i : i + self.batch_size]), self.dim)
            for i in range(0, len(texts), self.batch_size)
        ]
        raw = np.concatenate(chunks) if chunks else np.zeros((0, self.dim), dtype=np.float32)
        if raw.shape[1] < self.dim:
            raise RemoteError(f"Server returned {raw.shape[1]}-d vectors, expected {self.dim}")
        if raw.shape[1] != self.dim:
            self._send_dimensions = False  # server ignores `dimensions`: stop sending it
        cut = raw[:, : self.dim]
        norms = np.linalg.norm(cut, axis=1, keepdims=True)
        return (cut / np.maximum(norms, 1e-12)).astype(np.float32)

    def embed_documents(self, texts: Sequence[str]) -> Vector:
        """Documents are sent verbatim (no instruction)."""
        return self._embed(list(texts))

    def embed_query(self, text: str, instruction: str | None = None) -> Vector:
        """Queries get the Qwen3 instruction format client-side; servers send text as is."""
        formatted = format_query(instruction, text) if self.info.uses_instruction else text
        return self._embed([formatted])[0]

    def tokenizer(self) -> Tokenizer:
        """The real tokenizer if found locally, else ``ApproxTokenizer``."""
        if self._tokenizer is None:
            self._tokenizer = local_tokenizer(self.model)
        return self._tokenizer

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _vectors_from(body: Any, expected: int) -> np.ndarray:
    """Validate an OpenAI embeddings answer and order it by ``index``."""
    try:
        items = sorted(body["data"], key=lambda item: int(item.get("index", 0)))
        vectors = np.asarray([item["embedding"] for item in items], dtype=np.float32)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RemoteError(
            f"Embedding server answered an unexpected shape: {str(body)[:200]}"
        ) from exc
    if vectors.ndim != 2 or len(vectors) != expected:
        raise RemoteError(f"Embedding server returned {len(vectors)} vectors for {expected} texts")
    if not np.isfinite(vectors).all():
        raise RemoteError("Embedding server returned NaN or infinite values")
    return vectors


class RemoteReranker:
    """Relevance scores from a TEI- or Jina-style ``/rerank`` endpoint, in [0, 1].

    ``template="qwen3"`` sends the Qwen3-Reranker judge prompt split over query and
    documents (vLLM's recipe for Qwen3-Reranker), which is how a custom instruction
    reaches the model; ``"plain"`` sends raw text for servers that template themselves.
    """

    def __init__(
        self,
        url: str,
        model: str,
        *,
        style: str = "auto",
        template: str = "plain",
        batch_size: int = 32,
        **http: Unpack[HttpOptions],
    ) -> None:
        self.model = model
        self.url = url.rstrip("/")
        self.style = style if style != "auto" else ("jina" if self.url.endswith("/v1") else "tei")
        self.template = template
        self.batch_size = max(batch_size, 1)
        self._http = HttpClient(self.url, **http)
        entry = lookup(model)
        self.info = ModelInfo(
            model_id=entry.model_id if entry else model,
            revision="",
            family=entry.family if entry else "remote",
            pooling="rank",
            min_dim=1,
            max_dim=1,
            uses_instruction=template == "qwen3",
            backend="remote",
        )

    def _texts(
        self, query: str, docs: Sequence[str], instruction: str | None
    ) -> tuple[str, list[str]]:
        if self.template != "qwen3":
            return query, list(docs)
        q = f"{RERANK_PREFIX}<Instruct>: {instruction or DEFAULT_TASK}\n<Query>: {query}\n"
        return q, [f"<Document>: {d}{RERANK_SUFFIX}" for d in docs]

    def _payload(self, query: str, docs: list[str]) -> tuple[str, dict[str, Any]]:
        if self.style == "tei":
            return "rerank", {"query": query, "texts": docs, "raw_scores": False}
        return "rerank", {
            "model": self.model,
            "query": query,
            "documents": docs,
            "top_n": len(docs),
        }

    def _post(self, query: str, docs: list[str]) -> Vector:
        path, payload = self._payload(query, docs)
        status, body = self._http.post(path, payload)
        if status in (404, 405, 422) and self.style == "tei":
            self.style = "jina"  # guessed wrong: the other shape, once
            return self._post(query, docs)
        if status >= 400:
            raise RemoteError(f"Rerank server answered HTTP {status}: {_error_text(body)}")
        return _scores_from(body, len(docs))

    def rank(self, query: str, docs: Sequence[str], instruction: str | None = None) -> Vector:
        """One relevance probability per doc, in input order."""
        q, texts = self._texts(query, docs, instruction)
        parts = [
            self._post(q, texts[i : i + self.batch_size])
            for i in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _scores_from(body: Any, expected: int) -> Vector:
    """Scores in input order from either answer shape; logits squashed to [0, 1]."""
    try:
        items = body["results"] if isinstance(body, dict) else body
        pairs = [
            (
                int(it["index"]),
                float(it["relevance_score"] if "relevance_score" in it else it["score"]),
            )
            for it in items
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise RemoteError(f"Rerank server answered an unexpected shape: {str(body)[:200]}") from exc
    scores = np.full(expected, np.nan, dtype=np.float64)
    for index, score in pairs:
        if not 0 <= index < expected:
            raise RemoteError(f"Rerank server returned index {index} for {expected} documents")
        scores[index] = score
    if not np.isfinite(scores).all():
        raise RemoteError("Rerank server left documents unscored or returned NaN")
    if scores.min() < 0 or scores.max() > 1:
        scores = np.array([_sigmoid(s) for s in scores])
    return scores.astype(np.float32)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _url(config_url: str | None) -> str:
    if not config_url:
        raise RemoteError(
            "The remote backend needs a server URL (remote_url), e.g. http://127.0.0.1:8080/v1"
        )
    return config_url


def load_embedder(resolved: ResolvedModel, config: EmbedderConfig) -> RemoteEmbedder:
    """Factory hook: ``resolved.spec`` is the model name the server expects."""
    return RemoteEmbedder(
        _url(config.remote_url),
        resolved.spec,
        api_key=config.api_key,
        dim=config.dim,
        max_length=config.max_length,
    )


def load_reranker(resolved: ResolvedModel, config: RerankerConfig) -> RemoteReranker:
    """Factory hook; Qwen3 rerankers get the judge template so instructions take effect."""
    return RemoteReranker(
        _url(config.remote_url),
        resolved.spec,
        api_key=config.api_key,
        template="qwen3" if is_qwen3(resolved.spec) else "plain",
        batch_size=max(config.batch_size or 32, 1),
    )
