"""ReadApi on a real index and real models: concurrent requests, model swaps, refusals."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from app.indexer import IndexerConfig
from app.pipeline import Pipeline
from app.serve.api import ReadApi
from app.serve.arguments import Refusal, SearchRequest, SimilarRequest
from app.settings import Settings
from engine.config import EmbedderConfig, RerankerConfig
from engine.errors import EngineError
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
    for answer in answers:  # weak matches are hidden as in quarry search: at least one shows
        assert answer["reranked"] and answer["results"]
        assert all(r["scores"]["rerank"] is not None for r in answer["results"])
    by_query: dict[str, list[str]] = {}
    for answer in answers:  # no request saw another's (cut) rerank: same query, same order
        paths = [r["path"] for r in answer["results"]]
        assert by_query.setdefault(answer["query"], paths) == paths
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
    calls = (
        lambda: api.search(SearchRequest("x")),
        api.status,
        lambda: api.get("/a.txt"),
        lambda: api.similar(SimilarRequest("/a.txt")),
    )
    for call in calls:
        with pytest.raises(Refusal) as refused:
            call()
        assert refused.value.status == 503 and "index a folder first" in refused.value.message
    assert not (tmp_path / "none.sqlite3").exists()


def test_similar_needs_no_model_and_refuses_a_passage_the_file_lacks(db: Path) -> None:
    def broken() -> Any:
        raise EngineError("the model failed to load")

    api = ReadApi(db, broken, Settings(), rerank_depth=10)
    path = str(db.parent / "docs" / "rivers.txt")
    answer = api.similar(SimilarRequest(path, k=3))
    found = [r["path"] for r in answer["results"]]
    assert len(found) == 3 and path not in found and answer["path"] == path
    with pytest.raises(Refusal) as refused:
        api.similar(SimilarRequest(path, passage=1))  # a one-sentence note has passage 0 only
    assert refused.value.code == "limit" and "from 0 to 0" in refused.value.message
    with pytest.raises(Refusal) as refused:
        api.search(SearchRequest("rivers"))
    assert refused.value.status == 503
    api.close()
