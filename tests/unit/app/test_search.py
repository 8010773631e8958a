"""SearchService orchestration on a real index: hybrid fusion, rerank order, cancel, cache.

The embedder and reranker here are deterministic fakes (named Fake...) because these tests
check orchestration only; model quality is tested in tests/unit/engine.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from app.search import SearchOptions, SearchService
from app.snippets import best_snippet
from engine.protocols import ModelInfo
from storage.errors import FingerprintMismatch
from storage.models import Fingerprint, NewChunk
from storage.store import Store

DIM = 32
INFO = ModelInfo("fake/emb", "", "fake", "last", DIM, DIM, False, "numpy")


def _vec(text: str) -> np.ndarray:
    """Bag-of-words hashing: texts sharing words get similar vectors."""
    v = np.zeros(DIM, dtype=np.float32)
    for word in text.lower().split():
        v[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
    return v / (np.linalg.norm(v) or 1.0)


class FakeEmbedder:
    info = INFO
    dim = DIM
    max_length = 512

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([_vec(t) for t in texts])

    def embed_query(self, text: str, instruction: str | None = None) -> np.ndarray:
        return _vec(text)

    def tokenizer(self) -> object:
        raise NotImplementedError

    def close(self) -> None:
        pass


class FakeReranker:
    """Prefers longer documents, and counts calls so caching is observable."""

    info = ModelInfo("fake/rr", "", "fake", "rank", 1, 1, False, "numpy")

    def __init__(self) -> None:
        self.calls = 0

    def rank(self, query: str, docs: Sequence[str], instruction: str | None = None) -> np.ndarray:
        self.calls += len(docs)
        return np.array([min(1.0, len(d) / 100) for d in docs], dtype=np.float32)

    def close(self) -> None:
        pass


DOCS = {
    "/d/cats.txt": "cats purr and sleep",
    "/d/dogs.txt": "dogs bark loudly at the mail carrier every single morning",
    "/d/birds.md": "birds sing cats watch",
    "/d/fish.txt": "fish swim",
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "i.sqlite3"
    fp = Fingerprint("fake/emb", "", DIM, "last")
    with Store.open(path) as store:
        for p, text in DOCS.items():
            chunk = NewChunk(0, text, 0, len(text), "h:" + text)
            store.write_file(
                p,
                size=len(text),
                mtime=1.0,
                content_hash=p,
                chunks=[chunk],
                vectors_by_hash={chunk.content_hash: _vec(text)},
                fingerprint=fp,
            )
    return path


def test_hybrid_search_fuses_and_snippets(db: Path) -> None:
    svc = SearchService(db, FakeEmbedder())
    results = svc.search("cats", SearchOptions(k=3))
    assert results[0].path in ("/d/cats.txt", "/d/birds.md")
    assert results[0].scores["keyword"] is not None and results[0].scores["vector"] is not None
    assert results[0].spans and results[0].snippet[slice(*results[0].spans[0])].lower() == "cats"
    shape = results[0].to_json()
    old = {"path", "score", "snippet", "spans", "page", "start", "end", "heading", "scores"}
    assert old <= set(shape) and {"passages", "relevance", "level", "weak"} <= set(shape)
    assert set(shape["scores"]) == {"vector", "keyword", "rerank", "fused"}
    assert [p["path"] for p in shape["passages"]] == [results[0].path]
    assert shape["ocr"] is False and "mail" not in shape  # a mail message adds "mail"


def test_foreign_embedder_is_refused(db: Path) -> None:
    other = FakeEmbedder()
    other.info = ModelInfo("other/emb", "", "fake", "last", DIM, DIM, False, "numpy")  # type: ignore[misc]
    with pytest.raises(FingerprintMismatch):
        SearchService(db, other).search("cats")


def test_rerank_publishes_in_order_and_caches(db: Path) -> None:
    rr = FakeReranker()
    svc = SearchService(db, FakeEmbedder(), rr)
    opts = SearchOptions(k=4, rerank_batch=1)
    results = svc.search("cats dogs fish birds", opts)
    updates: list[list[str]] = []
    final = svc.rerank(
        "cats dogs fish birds", results, opts, lambda r: updates.append([x.path for x in r])
    )
    assert len(updates) == 4 and final[0].path == "/d/dogs.txt"
    assert final[0].scores["rerank"] is not None
    svc.rerank("cats dogs fish birds", results, opts, lambda r: None)
    assert rr.calls == 4  # second pass served from the cache


def test_new_request_cancels_rerank(db: Path) -> None:
    rr = FakeReranker()
    svc = SearchService(db, FakeEmbedder(), rr)
    opts = SearchOptions(k=4, rerank_batch=1)
    results = svc.search("cats", opts)

    def on_update(_r: object) -> None:
        svc.search("dogs", opts)  # the user typed on: the old rerank must stop

    svc.rerank("cats", results, opts, on_update)
    assert rr.calls == 1
    stop = SearchService(db, FakeEmbedder(), FakeReranker())
    out = stop.rerank("cats", results, opts, lambda r: None, is_cancelled=lambda: True)
    assert out == results


def test_snippet_accents_and_cjk() -> None:
    snip = best_snippet("Intro. Le Café est fermé. Fin.", "cafe")
    assert snip.text[slice(*snip.spans[0])] == "Café"
    zh = best_snippet("今天天气很好。我们学习机器学习。", "机器")
    assert zh.text[slice(*zh.spans[0])] == "机器"


def _index_starter(db: Path, starter_model_dir: Path, docs: dict[str, str]) -> object:
    from app.search import query_fingerprint
    from engine.config import EmbedderConfig
    from engine.factory import load_embedder

    embedder = load_embedder(EmbedderConfig(model=str(starter_model_dir)))
    with Store.open(db) as store:
        for path, text in docs.items():
            chunk = NewChunk(0, text, 0, len(text), hashlib.sha256(text.encode()).hexdigest())
            store.write_file(
                path, size=len(text), mtime=1.0, content_hash=chunk.content_hash,
                chunks=[chunk],
                vectors_by_hash={chunk.content_hash: embedder.embed_documents([text])[0]},
                fingerprint=query_fingerprint(embedder),
            )  # fmt: skip
    return embedder


def test_english_only_model_leaves_other_languages_to_keywords(
    tmp_path: Path, starter_model_dir: Path
) -> None:
    db = tmp_path / "starter.sqlite3"
    docs = {
        "/d/en.txt": "The kill command sends a signal to a process to terminate it.",
        "/d/de.txt": "Der Befehl beendet einen Prozess, indem er ihm ein Signal sendet.",
        "/d/zh.txt": "终止进程需要向进程发送信号。默认的终止信号是 TERM。",
    }
    embedder = _index_starter(db, starter_model_dir, docs)
    svc = SearchService(db, embedder)  # type: ignore[arg-type]
    english = svc.search("terminate a running process", SearchOptions(k=3))
    assert english[0].path == "/d/en.txt" and english[0].scores["vector"] is not None
    for query, path in (("Prozesse beenden", "/d/de.txt"), ("终止进程", "/d/zh.txt")):
        found = svc.search(query, SearchOptions(k=3))
        assert found[0].path == path
        assert all(r.scores["vector"] is None for r in found)  # keywords only
        forced = svc.search(query, SearchOptions(k=3, mode="vector"))
        assert forced and forced[0].scores["vector"] is not None  # asked for: still there
    svc.close()


def test_a_huge_chunk_from_an_older_index_is_cut_per_hit(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    text = "needle " + "x" * 4_000_000  # a chunk written before chunks had a size limit
    chunk = NewChunk(0, text, 0, len(text), "h:huge")
    with Store.open(path) as store:
        store.write_file("/d/blob.txt", size=len(text), mtime=1.0, content_hash="blob",
                         chunks=[chunk], vectors_by_hash={"h:huge": _vec("needle")},
                         fingerprint=Fingerprint("fake/emb", "", DIM, "last"))  # fmt: skip
    started = time.perf_counter()
    results = SearchService(path, FakeEmbedder()).search("needle")
    assert time.perf_counter() - started < 2
    assert results[0].path == "/d/blob.txt" and results[0].snippet.startswith("needle")
    assert len(results[0].text) <= 100_000  # what reranking and the preview get
