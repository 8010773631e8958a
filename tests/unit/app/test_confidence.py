"""Per-query fusion weights: how sure each list is, read from scores the search has."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app import confidence
from app.search import SearchOptions, SearchService
from engine.protocols import ModelInfo
from engine.registry import Fusion
from storage.fusion import rrf
from storage.models import Fingerprint, NewChunk
from storage.store import Store

TUNED = Fusion(vector=1.0, adapt=1.0, vector_spread=0.02, keyword_lead=0.2)


def test_each_file_counts_once_at_its_best_chunk() -> None:
    file_of = {1: "a", 2: "a", 3: "b", 4: "c"}
    scores = {1: 0.9, 2: 0.8, 3: 0.7, 4: 0.6}
    assert confidence.best_per_file([1, 2, 3, 4], scores, file_of) == [0.9, 0.7, 0.6]


def test_spread_is_the_best_file_against_the_tenth() -> None:
    cosines = [0.9 - 0.01 * i for i in range(15)]
    assert confidence.vector_spread(cosines) == pytest.approx(0.09)
    assert confidence.vector_spread([0.8, 0.75]) == pytest.approx(0.05)  # fewer: the last
    assert confidence.vector_spread([]) == 0.0


def test_lead_is_how_far_the_best_keyword_file_is_ahead() -> None:
    assert confidence.keyword_lead([3.0, 1.5, 1.0]) == pytest.approx(1.0)
    assert confidence.keyword_lead([2.0, 2.0]) == 0.0  # a tie: no keyword answer
    assert confidence.keyword_lead([2.0]) == 1.0  # the only file holding the words
    assert confidence.keyword_lead([]) == 0.0


def test_fixed_weights_without_measured_signals() -> None:
    fixed = Fusion(vector=2.0)
    assert confidence.vector_weight(0.0, 5.0, fixed) == 2.0
    assert confidence.vector_weight(0.5, 0.0, fixed) == 2.0


def test_the_surer_list_gains_within_bounds() -> None:
    usual = confidence.vector_weight(0.02, 0.2, TUNED)
    assert usual == pytest.approx(1.0)
    assert confidence.vector_weight(0.04, 0.2, TUNED) == pytest.approx(2.0)
    assert confidence.vector_weight(0.02, 0.4, TUNED) == pytest.approx(0.5)
    assert confidence.vector_weight(1.0, 0.0, TUNED) == confidence.MAX_SHIFT
    assert confidence.vector_weight(0.0, 9.0, TUNED) == 1 / confidence.MAX_SHIFT


def test_a_flat_vector_list_lets_a_clear_keyword_answer_win() -> None:
    """The order flips: fixed weights follow the vector list, adaptive ones the keywords."""
    lists = {"vector": [1, 2, 3], "keyword": [3]}
    by_source = {"vector": {1: 0.80, 2: 0.80, 3: 0.79}, "keyword": {3: 1.0}}
    file_of = {1: "a", 2: "b", 3: "c"}
    fixed = Fusion(vector=4.0, rrf_k=1)
    adaptive = Fusion(vector=4.0, rrf_k=1, adapt=1.0, vector_spread=0.02, keyword_lead=0.2)
    first = [
        rrf(lists, confidence.weights(lists, by_source, file_of, f), 1)[0][0]
        for f in (fixed, adaptive)
    ]
    assert first == [1, 3]


class FakeFlatEmbedder:
    """Every text lands on nearly the same vector (a model that cannot tell them apart);
    texts holding "zebra" sit a little further from every query."""

    info = ModelInfo("fake/flat", "", "fake", "mean", 4, 4, False, "numpy")
    dim = 4
    max_length = 512

    def _vec(self, text: str) -> np.ndarray:
        v = np.array([1.0, 0.1 if "zebra" in text else 0.0, 0.0, 0.0], dtype=np.float32)
        return v / np.linalg.norm(v)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])

    def embed_query(self, text: str, instruction: str | None = None) -> np.ndarray:
        return np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)

    def tokenizer(self) -> object:
        raise NotImplementedError

    def close(self) -> None:
        pass


def test_search_weighs_each_query_by_its_own_signals(tmp_path: Path) -> None:
    db = tmp_path / "i.sqlite3"
    docs = {
        "/d/a.txt": "notes about horses",
        "/d/b.txt": "notes about cows",
        "/d/z.txt": "the zebra crossing rules",
    }
    embedder = FakeFlatEmbedder()
    with Store.open(db) as store:
        for path, text in docs.items():
            chunk = NewChunk(0, text, 0, len(text), "h:" + text)
            store.write_file(
                path,
                size=len(text),
                mtime=1.0,
                content_hash=path,
                chunks=[chunk],
                vectors_by_hash={chunk.content_hash: embedder._vec(text)},
                fingerprint=Fingerprint("fake/flat", "", 4, "mean"),
            )
    service = SearchService(db, embedder)  # type: ignore[arg-type]
    spread, lead = service.confidence("zebra")
    assert spread == pytest.approx(1 - 1 / np.sqrt(1.01), abs=1e-5) and lead == 1.0
    fixed = Fusion(vector=4.0, rrf_k=1)
    adaptive = Fusion(vector=4.0, rrf_k=1, adapt=1.0, vector_spread=0.05, keyword_lead=0.2)
    paths = [
        service.search("zebra", SearchOptions(k=3, fusion=f, cutoff=False))[0].path
        for f in (fixed, adaptive)
    ]
    assert paths[0] != "/d/z.txt" and paths[1] == "/d/z.txt"
