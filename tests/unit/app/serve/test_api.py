"""ReadApi on a real index and real models: concurrent requests, model swaps, refusals."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from app.indexer import IndexerConfig
from app.pipeline import Pipeline
from app.serve.api import ReadApi
from app.serve.arguments import Refusal, SearchRequest
from app.settings import Settings
from engine.config import EmbedderConfig, RerankerConfig
from engine.factory import load_embedder, load_reranker
from engine.protocols import Embedder

TOPICS = ["ships", "bread", "taxes", "gardens", "trains", "music", "rivers", "stars", "cats", "tea"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, starter_model_dir: Path) -> Path:
    base = tmp_path_factory.mktemp("api")
    folder = base / "docs"
    folder.mkdir()
    for topic in TOPICS:
        (folder / f"{topic}.txt").write_text(f"A short note about {topic} and how {topic} work.")
    settings = Settings(folders=[str(folder)], embed_model=str(starter_model_dir))
    embedder = load_embedder(EmbedderConfig(model=str(starter_model_dir)))
    pipeline = Pipeline(
        base / "index.sqlite3", embedder, settings, config=IndexerConfig(workers=1, sandbox=False)
    )
    try:
        pipeline.index_once()
    finally:
        pipeline.stop()
        embedder.close()
    return base / "index.sqlite3"


class CountingEmbedder:
    """The real starter embedder, counting the queries it embeds."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.queries = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_query(self, text: str, instruction: str | None = None) -> Any:
        self.queries += 1
        return self.inner.embed_query(text, instruction)


@pytest.mark.torch
def test_concurrent_requests_never_cut_each_others_rerank(
    db: Path, starter_model_dir: Path, tiny_reranker_dir: Path
) -> None:
    """A service's new search outdates its running rerank; each request has its own."""
    embedder = load_embedder(EmbedderConfig(model=str(starter_model_dir)))
    reranker = load_reranker(RerankerConfig(model=str(tiny_reranker_dir)))
    api = ReadApi(db, lambda: (embedder, reranker), Settings(), rerank_depth=10, workers=2)
    answers: list[dict[str, Any]] = []

    def client(topic: str) -> None:
        for _ in range(3):
            answers.append(api.search(SearchRequest(f"notes about {topic}", k=10)))

    threads = [threading.Thread(target=client, args=(t,)) for t in TOPICS[:4]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert len(answers) == 12
    for answer in answers:
        assert answer["reranked"] and len(answer["results"]) == 10
        assert all(r["scores"]["rerank"] is not None for r in answer["results"])
    api.close()


def test_swapped_models_are_used_from_the_next_request(db: Path, starter_model_dir: Path) -> None:
    first = CountingEmbedder(load_embedder(EmbedderConfig(model=str(starter_model_dir))))
    second = CountingEmbedder(load_embedder(EmbedderConfig(model=str(starter_model_dir))))
    current: list[Any] = [first]
    api = ReadApi(db, lambda: (current[0], None), Settings(), rerank_depth=10)
    before = api.search(SearchRequest("rivers"))
    current[0] = second
    after = api.search(SearchRequest("rivers"))
    assert (first.queries, second.queries) == (1, 1)
    assert before["results"] == after["results"] and before["results"][0]["path"].endswith(
        "rivers.txt"
    )
    api.close()


def test_no_index_yet_is_503_not_a_crash(tmp_path: Path, starter_model_dir: Path) -> None:
    embedder = load_embedder(EmbedderConfig(model=str(starter_model_dir)))
    api = ReadApi(tmp_path / "none.sqlite3", lambda: (embedder, None), Settings(), rerank_depth=10)
    for call in (lambda: api.search(SearchRequest("x")), api.status, lambda: api.get("/a.txt")):
        with pytest.raises(Refusal) as refused:
            call()
        assert refused.value.status == 503 and "index a folder first" in refused.value.message
    assert not (tmp_path / "none.sqlite3").exists()
