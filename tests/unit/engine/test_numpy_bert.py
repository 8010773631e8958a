"""The torch-free starter model: equal to transformers' BertModel, sensible on real English."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.backends.numpy_bert import NumpyBertEmbedder
from engine.config import EmbedderConfig
from engine.errors import DimensionError
from engine.resolve import resolve

TEXTS = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome, I loved every minute of it.",
    "Héllo WÖRLD, naïve café 日本語 😀",
    "x",
    "Quarterly revenue grew " * 120,  # longer than the model's 256-token window
]


def _load(folder: Path, **kwargs: object) -> NumpyBertEmbedder:
    return NumpyBertEmbedder(resolve(str(folder)), EmbedderConfig(model=str(folder), **kwargs))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def starter(starter_model_dir: Path) -> Iterator[NumpyBertEmbedder]:
    emb = _load(starter_model_dir, batch_tokens=512)  # small budget: several batches
    yield emb
    emb.close()


def test_matches_transformers(starter: NumpyBertEmbedder, starter_model_dir: Path) -> None:
    pytest.importorskip("torch")
    from engine.backends.transformers import TransformersEmbedder

    ref_model = TransformersEmbedder(
        resolve(str(starter_model_dir)), EmbedderConfig(model="x", device="cpu")
    )
    try:
        ref = ref_model.embed_documents(TEXTS)
    finally:
        ref_model.close()
    ours = starter.embed_documents(TEXTS)
    assert np.all(np.sum(ours * ref, axis=1) >= 0.9999)


def test_matches_sentence_transformers(starter: NumpyBertEmbedder, starter_model_dir: Path) -> None:
    """An independent reference: the library the model was published for."""
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(str(starter_model_dir), device="cpu")
    ref = model.encode(TEXTS, normalize_embeddings=True)
    ours = starter.embed_documents(TEXTS)
    assert np.all(np.sum(ours * ref, axis=1) >= 0.9999)


def test_paraphrase_beats_unrelated(starter: NumpyBertEmbedder) -> None:
    vectors = starter.embed_documents(
        [
            "How do I reset my password?",
            "What are the steps to change my login password?",
            "The recipe calls for two cups of flour.",
            "Cats sleep for most of the day.",
        ]
    )
    sims = vectors[1:] @ vectors[0]
    assert sims[0] > 0.5 and sims[0] > sims[1] + 0.3 and sims[0] > sims[2] + 0.3


def test_query_equals_document_and_ignores_instruction(starter: NumpyBertEmbedder) -> None:
    doc = starter.embed_documents(["solar panels on a roof"])[0]
    query = starter.embed_query("solar panels on a roof", "Given a web search query, retrieve ...")
    assert np.allclose(doc, query, atol=1e-6)


def test_batches_keep_order_and_values(starter: NumpyBertEmbedder) -> None:
    together = starter.embed_documents(TEXTS)
    alone = np.stack([starter.embed_documents([t])[0] for t in TEXTS])
    assert together.shape == (len(TEXTS), 384) and together.dtype == np.float32
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.max(np.abs(together - alone)) <= 1e-5


def test_truncation_keeps_sep(starter: NumpyBertEmbedder) -> None:
    ids = starter.encode_ids([TEXTS[-1]])[0]
    assert len(ids) == starter.max_length == 256
    assert ids[0] == starter.tokenizer().token_id("[CLS]") and ids[
        -1
    ] == starter.tokenizer().token_id("[SEP]")


@pytest.mark.parametrize("dim", [32, 383, 385])
def test_no_matryoshka(starter_model_dir: Path, dim: int) -> None:
    with pytest.raises(DimensionError, match="only supports 384"):
        _load(starter_model_dir, dim=dim)


def test_info(starter: NumpyBertEmbedder) -> None:
    info = starter.info
    assert info.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert (info.family, info.pooling, info.backend, info.min_dim, info.max_dim) == (
        "bert",
        "mean",
        "numpy",
        384,
        384,
    )
    assert not info.uses_instruction
