"""The transformers backend against the Qwen3 model cards' reference code, on tiny real models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch.nn.functional as F  # noqa: E402
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from engine.backends.transformers import (  # noqa: E402
    RERANK_PREFIX,
    RERANK_SUFFIX,
    TransformersEmbedder,
    TransformersReranker,
)
from engine.config import EmbedderConfig, RerankerConfig  # noqa: E402
from engine.errors import DimensionError  # noqa: E402
from engine.resolve import resolve  # noqa: E402

EOS = 151643
TASK = "Given a web search query, retrieve relevant passages that answer the query"
TEXTS = [
    "The capital of China is Beijing.",
    "Gravity is a force that attracts two bodies towards each other. It gives weight to physical objects and is responsible for the movement of planets around the sun.",
    "短い日本語の文。",
    "emoji 😀👍🏽 and naïve café",
    "x",
]


# ------------------------------------------------------------- model-card reference code


def last_token_pool(last_hidden_states: Any, attention_mask: Any) -> Any:
    """Verbatim from the Qwen3-Embedding model card."""
    left_padding = attention_mask[:, -1].sum() == attention_mask.shape[0]
    if left_padding:
        return last_hidden_states[:, -1]
    sequence_lengths = attention_mask.sum(dim=1) - 1
    batch_size = last_hidden_states.shape[0]
    return last_hidden_states[
        torch.arange(batch_size, device=last_hidden_states.device), sequence_lengths
    ]


def reference_embed(folder: Path, texts: list[str], *, add_eos: bool = False) -> np.ndarray:
    """Model-card embedding: tokenizer with left padding, AutoModel, last_token_pool, normalize.

    ``add_eos`` appends ``<|endoftext|>`` to the text for tokenizers that lack the
    post-processor, as the card's note requires.
    """
    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModel.from_pretrained(folder).eval()
    inputs = [t + "<|endoftext|>" for t in texts] if add_eos else texts
    batch = tokenizer(inputs, padding=True, truncation=True, max_length=8192, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch)
    emb = last_token_pool(out.last_hidden_state, batch["attention_mask"])
    return F.normalize(emb, p=2, dim=1).numpy()


def reference_raw_from_ids(folder: Path, ids: list[int]) -> np.ndarray:
    """Un-normalised last-token state of one explicit id sequence."""
    model = AutoModel.from_pretrained(folder).eval()
    with torch.no_grad():
        out = model(
            input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long)
        )
    return last_token_pool(out.last_hidden_state, torch.ones(1, len(ids))).numpy()


def reference_rerank(
    folder: Path, query: str, docs: list[str], instruction: str, max_length: int = 8192
) -> np.ndarray:
    """Model-card reranking: prefix + truncated pair + suffix, log_softmax over [no, yes]."""
    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    token_false_id = tokenizer.convert_tokens_to_ids("no")
    token_true_id = tokenizer.convert_tokens_to_ids("yes")
    prefix_tokens = tokenizer.encode(RERANK_PREFIX, add_special_tokens=False)
    suffix_tokens = tokenizer.encode(RERANK_SUFFIX, add_special_tokens=False)
    pairs = [f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}" for doc in docs]
    inputs = tokenizer(
        pairs,
        padding=False,
        truncation="longest_first",
        return_attention_mask=False,
        max_length=max_length - len(prefix_tokens) - len(suffix_tokens),
    )
    for i, ele in enumerate(inputs["input_ids"]):
        inputs["input_ids"][i] = prefix_tokens + ele + suffix_tokens
    inputs = tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=max_length)
    with torch.no_grad():
        batch_scores = model(**inputs).logits[:, -1, :]
    true_vector = batch_scores[:, token_true_id]
    false_vector = batch_scores[:, token_false_id]
    batch_scores = torch.stack([false_vector, true_vector], dim=1)
    batch_scores = torch.nn.functional.log_softmax(batch_scores, dim=1)
    return batch_scores[:, 1].exp().numpy()


# ------------------------------------------------------------- fixtures


def _embedder(folder: Path, **kwargs: Any) -> TransformersEmbedder:
    return TransformersEmbedder(
        resolve(str(folder)),
        EmbedderConfig(model=str(folder), device="cpu", **{"dtype": "float32", **kwargs}),
    )


@pytest.fixture(scope="module")
def embedder(tiny_embedding_dir: Path) -> Iterator[TransformersEmbedder]:
    emb = _embedder(tiny_embedding_dir, batch_tokens=64)  # small budget: forces several batches
    yield emb
    emb.close()


@pytest.fixture(scope="module")
def reranker(tiny_reranker_dir: Path) -> Iterator[TransformersReranker]:
    rr = TransformersReranker(
        resolve(str(tiny_reranker_dir)),
        RerankerConfig(model=str(tiny_reranker_dir), device="cpu", dtype="float32", batch_size=2),
    )
    yield rr
    rr.close()


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


# ------------------------------------------------------------- embedding


def test_weights_really_loaded(embedder: TransformersEmbedder, tiny_embedding_dir: Path) -> None:
    """AutoModel on a *ForCausalLM checkpoint must load the saved weights, not random ones."""
    from safetensors.torch import load_file

    saved = load_file(str(tiny_embedding_dir / "model.safetensors"))["model.embed_tokens.weight"]
    assert torch.equal(embedder._model.embed_tokens.weight, saved)


def test_documents_match_model_card_batched(
    embedder: TransformersEmbedder, tiny_embedding_dir: Path
) -> None:
    ours = embedder.embed_documents(TEXTS)
    ref = reference_embed(tiny_embedding_dir, TEXTS)
    assert ours.shape == (len(TEXTS), 64) and ours.dtype == np.float32
    assert np.all(_cos(ours, ref) >= 0.9999)
    assert np.max(np.abs(ours - ref)) <= 1e-4
    # the texts get clearly different vectors, so the agreement above is not trivial
    assert np.max(ours @ ours.T - 2 * np.eye(len(TEXTS))) < 0.9


def test_batching_does_not_change_vectors(embedder: TransformersEmbedder) -> None:
    """Input order is kept and a vector is independent of its batch mates and padding."""
    together = embedder.embed_documents(TEXTS)
    alone = np.stack([embedder.embed_documents([t])[0] for t in TEXTS])
    assert np.max(np.abs(together - alone)) <= 1e-4
    reversed_ = embedder.embed_documents(TEXTS[::-1])[::-1]
    assert np.max(np.abs(together - reversed_)) <= 1e-4


def test_query_uses_instruction_format(
    embedder: TransformersEmbedder, tiny_embedding_dir: Path
) -> None:
    ours = embedder.embed_query("what is the capital of China?", TASK)
    ref = reference_embed(
        tiny_embedding_dir, [f"Instruct: {TASK}\nQuery:what is the capital of China?"]
    )[0]
    assert _cos(ours, ref) >= 0.9999
    # a different task gives a different vector: the instruction really reaches the model
    other = embedder.embed_query("what is the capital of China?", "Retrieve poems")
    assert _cos(ours, other) < 0.9999


def test_exactly_one_eos_with_eos_tokenizer(embedder: TransformersEmbedder) -> None:
    for ids in embedder.encode_ids([*TEXTS, "ends with token<|endoftext|>"]):
        assert ids[-1] == EOS and ids.count(EOS) == 1


def test_exactly_one_eos_without_eos_tokenizer(
    tiny_embedding_noeos_dir: Path, tiny_embedding_dir: Path
) -> None:
    emb = _embedder(tiny_embedding_noeos_dir)
    try:
        ids = emb.encode_ids(TEXTS)
        assert all(x[-1] == EOS and x.count(EOS) == 1 for x in ids)
        ours = emb.embed_documents(TEXTS)
    finally:
        emb.close()
    ref = reference_embed(tiny_embedding_noeos_dir, TEXTS, add_eos=True)
    assert np.all(_cos(ours, ref) >= 0.9999)
    # and the same as the tokenizer that appends EOS itself
    assert np.all(_cos(ours, reference_embed(tiny_embedding_dir, TEXTS)) >= 0.9999)


def test_truncation_keeps_eos(tiny_embedding_dir: Path) -> None:
    emb = _embedder(tiny_embedding_dir, max_length=16)
    try:
        long_text = " ".join(["word"] * 100)
        (ids,) = emb.encode_ids([long_text])
        assert len(ids) == 16 and ids[-1] == EOS and ids.count(EOS) == 1
        ours = emb.embed_documents([long_text])[0]
    finally:
        emb.close()
    raw = reference_raw_from_ids(tiny_embedding_dir, ids)
    ref = F.normalize(torch.from_numpy(raw), p=2, dim=1).numpy()[0]
    assert _cos(ours, ref) >= 0.9999


@pytest.mark.parametrize("dim", [32, 48, 64])
def test_mrl_truncate_then_normalise(tiny_embedding_dir: Path, dim: int) -> None:
    emb = _embedder(tiny_embedding_dir, dim=dim)
    try:
        ours = emb.embed_documents(TEXTS[:3])
    finally:
        emb.close()
    # reference: raw last-token states, cut to dim, then F.normalize (model card recipe)
    tokenizer = AutoTokenizer.from_pretrained(tiny_embedding_dir, padding_side="left")
    model = AutoModel.from_pretrained(tiny_embedding_dir).eval()
    batch = tokenizer(TEXTS[:3], padding=True, return_tensors="pt")
    with torch.no_grad():
        raw = last_token_pool(model(**batch).last_hidden_state, batch["attention_mask"])
    ref = F.normalize(raw[:, :dim], p=2, dim=1).numpy()
    assert ours.shape == (3, dim)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert np.max(np.abs(ours - ref)) <= 1e-4


@pytest.mark.parametrize("dim", [16, 31, 65, 4096])
def test_dimension_out_of_range(tiny_embedding_dir: Path, dim: int) -> None:
    with pytest.raises(DimensionError, match=r"32\.\.64"):
        _embedder(tiny_embedding_dir, dim=dim)


def test_info(embedder: TransformersEmbedder) -> None:
    info = embedder.info
    assert (info.family, info.pooling, info.min_dim, info.max_dim) == ("qwen3", "last", 32, 64)
    assert info.uses_instruction and info.backend == "transformers" and len(info.revision) == 16


def test_empty_input(embedder: TransformersEmbedder) -> None:
    assert embedder.embed_documents([]).shape == (0, 64)


# ------------------------------------------------------------- reranking

DOCS = [
    "The capital of China is Beijing.",
    "Gravity is a force that attracts two bodies towards each other, giving weight to objects.",
    "ok",
]


def test_rerank_matches_model_card(reranker: TransformersReranker, tiny_reranker_dir: Path) -> None:
    ours = reranker.rank("What is the capital of China?", DOCS, TASK)
    ref = reference_rerank(tiny_reranker_dir, "What is the capital of China?", DOCS, TASK)
    assert ours.shape == (3,) and ours.dtype == np.float32
    assert np.max(np.abs(ours - ref)) <= 1e-4
    assert np.all((ours > 0) & (ours < 1))
    assert np.ptp(ours) > 1e-4  # random weights still separate different documents


def test_rerank_custom_instruction_and_default(
    reranker: TransformersReranker, tiny_reranker_dir: Path
) -> None:
    custom = "Judge whether the passage is about physics"
    ours = reranker.rank("forces", DOCS, custom)
    assert (
        np.max(np.abs(ours - reference_rerank(tiny_reranker_dir, "forces", DOCS, custom))) <= 1e-4
    )
    default = reranker.rank("forces", DOCS)
    assert (
        np.max(np.abs(default - reference_rerank(tiny_reranker_dir, "forces", DOCS, TASK))) <= 1e-4
    )


def test_rerank_truncates_document_not_prompt(tiny_reranker_dir: Path) -> None:
    rr = TransformersReranker(
        resolve(str(tiny_reranker_dir)),
        RerankerConfig(model=str(tiny_reranker_dir), device="cpu", dtype="float32", max_length=120),
    )
    try:
        long_doc = "lorem ipsum dolor " * 200
        ids = rr.encode_pair("q", long_doc, TASK)
        assert len(ids) == 120
        assert ids[: len(rr._prefix)] == rr._prefix and ids[-len(rr._suffix) :] == rr._suffix
        ours = rr.rank("q", [long_doc, "short"], TASK)
    finally:
        rr.close()
    ref = reference_rerank(tiny_reranker_dir, "q", [long_doc, "short"], TASK, max_length=120)
    assert np.max(np.abs(ours - ref)) <= 1e-4
