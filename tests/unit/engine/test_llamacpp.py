"""The GGUF backend against the model-card reference computed with transformers, same weights."""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("llama_cpp")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from engine.backends import llamacpp  # noqa: E402
from engine.backends.llamacpp import (  # noqa: E402
    RERANK_PREFIX,
    RERANK_SUFFIX,
    GGUFTokenizer,
    LlamaCppEmbedder,
    LlamaCppReranker,
    rerank_body,
)
from engine.errors import BackendUnavailable, DimensionError  # noqa: E402
from engine.instructions import format_query  # noqa: E402

pytestmark = [pytest.mark.gguf, pytest.mark.torch, pytest.mark.slow]

EOS = 151643
TEXTS = [
    "Hello world,",
    "The quick brown fox jumps over the lazy dog near the quiet river bank at dawn.",
    "x",
    "Qwen3 的嵌入模型支持一百多种语言。",
    "Une phrase en français, avec des accents : é, è, à.",
]


# ---------------------------------------------------------------- reference (model card)


class Reference:
    """Qwen3-Embedding / Qwen3-Reranker model-card code, run with transformers on CPU."""

    def __init__(self, emb_dir: Path, rr_dir: Path) -> None:
        from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(emb_dir, padding_side="left")
        self.model = AutoModel.from_pretrained(emb_dir, torch_dtype=torch.float32).eval()
        self.rr_tok = AutoTokenizer.from_pretrained(rr_dir, padding_side="left")
        self.rr = AutoModelForCausalLM.from_pretrained(rr_dir, torch_dtype=torch.float32).eval()

    @torch.no_grad()
    def raw(self, texts: list[str]) -> np.ndarray:
        """last_token_pool of the final hidden state, before normalisation (left padding)."""
        batch = self.tok(texts, padding=True, return_tensors="pt")
        hidden = self.model(**batch).last_hidden_state
        return hidden[:, -1].numpy()

    @torch.no_grad()
    def raw_ids(self, ids: list[int]) -> np.ndarray:
        hidden = self.model(input_ids=torch.tensor([ids])).last_hidden_state
        return hidden[0, -1].numpy()

    def embed(self, texts: list[str], dim: int | None = None) -> np.ndarray:
        raw = self.raw(texts)[:, :dim]
        return raw / np.linalg.norm(raw, axis=1, keepdims=True)

    @torch.no_grad()
    def rank(self, query: str, docs: list[str], instruction: str | None = None) -> np.ndarray:
        """log_softmax over [no, yes] of the last position, exp of the yes column."""
        tok = self.rr_tok
        prefix = tok.encode(RERANK_PREFIX, add_special_tokens=False)
        suffix = tok.encode(RERANK_SUFFIX, add_special_tokens=False)
        pairs = [rerank_body(instruction, query, d) for d in docs]
        inputs = tok(pairs, padding=False, truncation="longest_first", return_attention_mask=False)
        ids = [prefix + x + suffix for x in inputs["input_ids"]]
        padded = tok.pad({"input_ids": ids}, padding=True, return_tensors="pt")
        logits = self.rr(**padded).logits[:, -1, :]
        pair = torch.stack([logits[:, 2152], logits[:, 9693]], dim=1)
        return torch.nn.functional.log_softmax(pair, dim=1)[:, 1].exp().numpy()


@pytest.fixture(scope="module")
def reference(tiny_embedding_dir: Path, tiny_reranker_dir: Path) -> Reference:
    return Reference(tiny_embedding_dir, tiny_reranker_dir)


@pytest.fixture(scope="module", params=["eos", "noeos"])
def embedder(
    request: pytest.FixtureRequest, tiny_embedding_gguf: Path, tiny_embedding_gguf_noeos: Path
) -> Iterator[LlamaCppEmbedder]:
    """The same weights with and without ``add_eos_token`` in the GGUF."""
    path = tiny_embedding_gguf if request.param == "eos" else tiny_embedding_gguf_noeos
    emb = LlamaCppEmbedder(path, max_length=512, pack_tokens=64)
    yield emb
    emb.close()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.asarray((a * b).sum(-1))


# ---------------------------------------------------------------- embeddings


def test_gguf_metadata_variants(tiny_embedding_gguf: Path, tiny_embedding_gguf_noeos: Path) -> None:
    """The fixtures really differ in the flag the backend must cope with."""
    with_eos = llamacpp.probe_metadata(tiny_embedding_gguf)
    without = llamacpp.probe_metadata(tiny_embedding_gguf_noeos)
    assert with_eos["tokenizer.ggml.add_eos_token"] == "true"
    assert "tokenizer.ggml.add_eos_token" not in without
    assert with_eos["tokenizer.ggml.pre"] == "qwen2"


def test_eos_exactly_once(embedder: LlamaCppEmbedder) -> None:
    ids = embedder.encode("Hello world,")
    assert ids == [9707, 1879, 11, EOS]
    literal = embedder.encode("ends with <|endoftext|>")
    assert literal.count(EOS) == 1 and literal[-1] == EOS  # the text is not the special token


def test_single_matches_reference(embedder: LlamaCppEmbedder, reference: Reference) -> None:
    for text in TEXTS:
        ours = embedder.embed_documents([text])
        assert ours.shape == (1, 64) and ours.dtype == np.float32
        assert cosines(ours, reference.embed([text]))[0] >= 0.999, text


def test_batched_matches_reference(embedder: LlamaCppEmbedder, reference: Reference) -> None:
    """Several texts per decode and several decodes (64-token packs), input order kept."""
    texts = TEXTS * 3
    ours = embedder.embed_documents(texts)
    assert ours.shape == (len(texts), 64)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cosines(ours, reference.embed(texts)).min() >= 0.999
    singles = np.stack([embedder.embed_documents([t])[0] for t in texts])
    assert cosines(ours, singles).min() >= 0.99999


def test_query_uses_qwen3_instruction(embedder: LlamaCppEmbedder, reference: Reference) -> None:
    task = "Given a question, retrieve passages that answer it"
    ours = embedder.embed_query("what is a fox", task)
    assert ours.shape == (64,)
    expected = reference.embed([format_query(task, "what is a fox")])[0]
    assert cosines(ours, expected) >= 0.999
    default = embedder.embed_query("what is a fox")
    assert cosines(default, reference.embed([format_query(None, "what is a fox")])[0]) >= 0.999


@pytest.mark.parametrize("dim", [32, 40, 63, 64])
def test_mrl_truncates_then_normalises(
    tiny_embedding_gguf_noeos: Path, reference: Reference, dim: int
) -> None:
    emb = LlamaCppEmbedder(tiny_embedding_gguf_noeos, dim=dim, max_length=128)
    try:
        ours = emb.embed_documents(TEXTS)
        assert emb.dim == dim and ours.shape == (len(TEXTS), dim)
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        assert cosines(ours, reference.embed(TEXTS, dim)).min() >= 0.999
    finally:
        emb.close()


@pytest.mark.parametrize("dim", [16, 31, 65, 4096])
def test_dim_out_of_range(tiny_embedding_gguf: Path, dim: int) -> None:
    with pytest.raises(DimensionError, match=r"32\.\.64"):
        LlamaCppEmbedder(tiny_embedding_gguf, dim=dim, max_length=64)


def test_truncation_keeps_eos(tiny_embedding_gguf: Path, reference: Reference) -> None:
    emb = LlamaCppEmbedder(tiny_embedding_gguf, max_length=8)
    try:
        long_text = TEXTS[1]
        ids = emb.encode(long_text)
        full = reference.tok(long_text)["input_ids"]
        assert len(ids) == 8 and ids[-1] == EOS and ids.count(EOS) == 1
        assert ids == [*full[:7], EOS]
        expected = reference.raw_ids(ids)
        assert cosines(emb.embed_documents([long_text])[0], expected) >= 0.999
    finally:
        emb.close()


def test_threads_share_one_model(embedder: LlamaCppEmbedder) -> None:
    """The lock serialises decodes; concurrent callers get the same vectors as serial ones."""
    expected = embedder.embed_documents(TEXTS)
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(embedder.embed_documents(TEXTS))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 3
    assert all(np.allclose(r, expected, atol=1e-5) for r in results)


def test_info_and_protocol(embedder: LlamaCppEmbedder) -> None:
    from engine.protocols import Embedder, Tokenizer

    assert isinstance(embedder, Embedder)
    assert embedder.info.pooling == "last" and embedder.info.backend == "llamacpp"
    assert (embedder.info.min_dim, embedder.info.max_dim) == (32, 64)
    assert isinstance(embedder.tokenizer(), Tokenizer)
    assert embedder.embed_documents([]).shape == (0, 64)


# Every way a Qwen3-Embedding GGUF declares its end token. Official GGUFs: <|endoftext|> and
# add_eos_token=true (the HF tokenizer's post-processor appends it). llama.cpp's converter on a
# tokenizer without that post-processor: eos_token_id = <|im_end|> (151645), no flag.
EOS_VARIANTS = {
    "official": {"eos_id": EOS, "add_eos_token": True},
    "converter-no-postprocessor": {"eos_id": 151645, "add_eos_token": None},
    "endoftext-no-flag": {"eos_id": EOS, "add_eos_token": None},
    "im_end-with-flag": {"eos_id": 151645, "add_eos_token": True},
}


@pytest.mark.parametrize("variant", sorted(EOS_VARIANTS))
def test_every_eos_variant_pools_on_endoftext(
    tmp_path: Path, tiny_embedding_dir: Path, reference: Reference, variant: str
) -> None:
    """Whatever the GGUF declares, Qwen3 gets <|endoftext|> once: cosine >= 0.999 to the card."""
    from tests.fixtures.gguf import write_qwen3_gguf

    path = write_qwen3_gguf(tiny_embedding_dir, tmp_path / "v.gguf", **EOS_VARIANTS[variant])
    emb = LlamaCppEmbedder(path, max_length=256)
    try:
        assert emb.encode("Hello world,") == [9707, 1879, 11, EOS]
        assert cosines(emb.embed_documents(TEXTS), reference.embed(TEXTS)).min() >= 0.999
        query = format_query(None, "what is a fox")
        assert cosines(emb.embed_query("what is a fox"), reference.embed([query])[0]) >= 0.999
    finally:
        emb.close()


def test_text_longer_than_the_pack_gets_its_own_context(
    tiny_embedding_gguf: Path, reference: Reference
) -> None:
    """A 340-token text with 64-token packs: embedded whole (not cut to the pack), like the card."""
    emb = LlamaCppEmbedder(tiny_embedding_gguf, max_length=1024, pack_tokens=64)
    try:
        long_text = " ".join(TEXTS[1] for _ in range(20))
        assert len(emb.encode(long_text)) > 300
        mixed = [TEXTS[0], long_text, TEXTS[3]]
        assert cosines(emb.embed_documents(mixed), reference.embed(mixed)).min() >= 0.999
        assert emb.runtime.pack_tokens == 64  # the standing context stayed small
    finally:
        emb.close()


def test_cpu_embedding_packs_stay_small_and_reranking_packs_wide(
    tiny_embedding_gguf: Path, tiny_reranker_gguf: Path
) -> None:
    """Measured defaults: 512-token embedding packs on a CPU, 2048 for the shared rerank prompt."""
    emb = LlamaCppEmbedder(tiny_embedding_gguf, device="cpu")
    ranker = LlamaCppReranker(tiny_reranker_gguf, device="cpu")
    try:
        assert emb.runtime.pack_tokens == llamacpp.CPU_EMBED_PACK == 512
        assert ranker._loaded.runtime.pack_tokens == 2048
        long_text = " ".join(TEXTS[1] for _ in range(60))
        assert len(emb.encode(long_text)) > 512  # still embedded whole, in a context of its own
        assert np.isfinite(emb.embed_documents([long_text])).all()
    finally:
        emb.close()
        ranker.close()


# ---------------------------------------------------------------- tokenizer


SPAN_TEXTS = ["héllo 😀 wörld", "日本語のテキスト", "  spaces\tand\nnewlines ", "", "a" * 50]


def test_gguf_tokenizer_spans_match_hf(embedder: LlamaCppEmbedder, reference: Reference) -> None:
    from engine.tokenizer import HFTokenizer

    ours = embedder.tokenizer()
    assert isinstance(ours, GGUFTokenizer)  # no tokenizer.json beside the fixture GGUF
    hf = HFTokenizer(reference.tok.backend_tokenizer)
    for text in SPAN_TEXTS:
        assert ours.count(text) == hf.count(text), text
        assert ours.token_spans(text) == hf.token_spans(text), text


def test_tokenizer_json_beside_gguf_is_used(
    tmp_path: Path, tiny_embedding_gguf: Path, tiny_embedding_dir: Path
) -> None:
    from engine.tokenizer import HFTokenizer

    (tmp_path / "m.gguf").symlink_to(tiny_embedding_gguf)
    shutil.copy(tiny_embedding_dir / "tokenizer.json", tmp_path / "tokenizer.json")
    emb = LlamaCppEmbedder(tmp_path / "m.gguf", max_length=64)
    try:
        tok = emb.tokenizer()
        assert isinstance(tok, HFTokenizer)
        assert tok.count("Hello world,") == 3
    finally:
        emb.close()


# ---------------------------------------------------------------- reranker


QUERY = "what animal is a fox"
DOCS = [
    "A fox is a small omnivorous mammal of the dog family.",
    "Paris is the capital of France.",
    "x",
    "狐狸是一种哺乳动物。",
]


@pytest.mark.parametrize("variant", ["causal", "rank"])
def test_reranker_matches_reference(
    request: pytest.FixtureRequest, reference: Reference, variant: str
) -> None:
    name = "tiny_reranker_gguf" if variant == "causal" else "tiny_reranker_gguf_rank"
    rr = LlamaCppReranker(request.getfixturevalue(name), max_length=512, batch_size=3)
    try:
        assert rr.info.pooling == ("last" if variant == "causal" else "rank")
        for instruction in (None, "Judge whether the passage names the animal"):
            ours = rr.rank(QUERY, DOCS, instruction)
            expected = reference.rank(QUERY, DOCS, instruction)
            assert ours.shape == (len(DOCS),) and ours.dtype == np.float32
            # llama.cpp's CPU flash attention rounds queries to f16 in small decodes, which
            # the shared-prompt path makes (measured here: up to 1.03e-3 in P(yes) with flash
            # attention, 1.1e-4 without; a wrong prompt or token moves P(yes) by > 0.01).
            assert np.abs(ours - expected).max() <= 2e-3, (ours, expected)
            single = [rr.rank(QUERY, [d], instruction)[0] for d in DOCS]
            assert np.abs(ours - np.array(single)).max() <= 2e-3
    finally:
        rr.close()


def test_reranker_shares_the_prompt(tiny_reranker_gguf: Path, reference: Reference) -> None:
    """Candidates share system prompt + instruction + query: decoded once, same scores."""
    from engine.backends.llamacpp import MIN_SHARED_PREFIX, shared_prefix

    rr = LlamaCppReranker(tiny_reranker_gguf, max_length=512, batch_size=8)
    try:
        seqs = [rr.encode(QUERY, d, None) for d in DOCS]
        shared = shared_prefix(seqs)
        assert shared >= MIN_SHARED_PREFIX and all(s[:shared] == seqs[0][:shared] for s in seqs)
        assert all(len(s) > shared for s in seqs)
        ours = rr.rank(QUERY, DOCS * 2, None)  # one decode group: the shared path
        assert np.abs(ours - np.tile(reference.rank(QUERY, DOCS), 2)).max() <= 1e-3
    finally:
        rr.close()


def test_shared_prompt_is_exact_without_flash_attention(tiny_reranker_gguf: Path) -> None:
    """With flash attention off, packing with a shared prompt gives the one-by-one scores."""
    from engine.backends.llama_native import Runtime

    runtime = Runtime(threads=1, flash_attn=False)
    rr = LlamaCppReranker(tiny_reranker_gguf, max_length=512, batch_size=8, runtime=runtime)
    try:
        packed = rr.rank(QUERY, DOCS, "Judge whether the passage names the animal")
        single = [
            rr.rank(QUERY, [d], "Judge whether the passage names the animal")[0] for d in DOCS
        ]
        assert np.abs(packed - np.array(single)).max() <= 1e-5
    finally:
        rr.close()


def test_shared_prefix_leaves_every_sequence_a_token() -> None:
    from engine.backends.llamacpp import shared_prefix

    assert shared_prefix([[1, 2, 3], [1, 2, 3]]) == 2
    assert shared_prefix([[1, 2, 3, 4], [1, 2, 5]]) == 2
    assert shared_prefix([[7, 1], [8, 1]]) == 0


def test_reranker_with_im_end_eos_keeps_its_prompt(
    tmp_path: Path, tiny_reranker_dir: Path, reference: Reference
) -> None:
    """A reranker GGUF declaring <|im_end|> as EOS tokenises and scores the prompt the same."""
    from tests.fixtures.gguf import write_qwen3_gguf

    path = write_qwen3_gguf(
        tiny_reranker_dir, tmp_path / "rr.gguf", add_eos_token=None, eos_id=151645
    )
    rr = LlamaCppReranker(path, max_length=512)
    try:
        text = RERANK_PREFIX + rerank_body(None, QUERY, DOCS[0]) + RERANK_SUFFIX
        assert rr.encode(QUERY, DOCS[0], None) == reference.rr_tok.encode(
            text, add_special_tokens=False
        )
        assert np.abs(rr.rank(QUERY, DOCS) - reference.rank(QUERY, DOCS)).max() <= 1e-3
    finally:
        rr.close()


def test_gguf_without_prompt_specials_is_not_a_reranker(
    tmp_path: Path, tiny_reranker_dir: Path
) -> None:
    """A vocabulary where <|im_start|> etc. are plain text cannot run the judge prompt."""
    from engine.errors import ModelLoadError
    from tests.fixtures.gguf import write_qwen3_gguf

    path = write_qwen3_gguf(
        tiny_reranker_dir, tmp_path / "plain.gguf", add_eos_token=None, control_tokens=False
    )
    with pytest.raises(ModelLoadError, match=r"not a Qwen3 reranker.*<\|im_start\|>"):
        LlamaCppReranker(path, max_length=64)


def test_reranker_prompt_tokens(tiny_reranker_gguf: Path, reference: Reference) -> None:
    """The judge prompt tokenises exactly as the HF tokenizer does, specials included."""
    rr = LlamaCppReranker(tiny_reranker_gguf, max_length=512)
    try:
        ids = rr.encode(QUERY, DOCS[0], None)
        text = RERANK_PREFIX + rerank_body(None, QUERY, DOCS[0]) + RERANK_SUFFIX
        assert ids == reference.rr_tok.encode(text, add_special_tokens=False)
        assert EOS not in ids
    finally:
        rr.close()


# ---------------------------------------------------------------- loading


def test_load_through_resolve(tiny_embedding_gguf: Path, tiny_reranker_gguf: Path) -> None:
    from engine.config import EmbedderConfig, RerankerConfig
    from engine.resolve import resolve

    resolved = resolve(str(tiny_embedding_gguf))
    emb = llamacpp.load_embedder(resolved, EmbedderConfig(model=str(tiny_embedding_gguf), dim=48))
    try:
        assert emb.dim == 48 and emb.info.model_id == resolved.model_id
        assert emb.info.revision == resolved.revision
        assert emb.embed_documents(["a"]).shape == (1, 48)
    finally:
        emb.close()
    rr = llamacpp.load_reranker(
        resolve(str(tiny_reranker_gguf)), RerankerConfig(model=str(tiny_reranker_gguf))
    )
    try:
        assert 0.0 <= float(rr.rank("q", ["d"])[0]) <= 1.0
    finally:
        rr.close()


def test_bad_file_is_model_load_error(tmp_path: Path) -> None:
    from engine.errors import ModelLoadError

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF not really")
    with pytest.raises(ModelLoadError, match=r"broken\.gguf"):
        LlamaCppEmbedder(bad)


def test_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(BackendUnavailable, match=r"quarry\[gguf\]"):
        llamacpp.import_llama_cpp()


def test_matches_transformers_backend(
    tiny_embedding_dir: Path, tiny_embedding_gguf_noeos: Path
) -> None:
    """Cross-check with the engine's own transformers backend when it is present."""
    backend: Any = pytest.importorskip("engine.backends.transformers")
    from engine.config import EmbedderConfig
    from engine.resolve import resolve

    config = EmbedderConfig(model=str(tiny_embedding_dir), backend="transformers", device="cpu")
    ref = backend.load_embedder(resolve(str(tiny_embedding_dir)), config)
    emb = LlamaCppEmbedder(tiny_embedding_gguf_noeos, max_length=256)
    try:
        assert cosines(emb.embed_documents(TEXTS), ref.embed_documents(TEXTS)).min() >= 0.999
        ours, theirs = (
            emb.embed_query("fox", "Find animals"),
            ref.embed_query("fox", "Find animals"),
        )
        assert cosines(ours, theirs) >= 0.999
    finally:
        emb.close()
        ref.close()
