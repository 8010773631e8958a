"""GGUF backend through llama-cpp-python: Qwen3 embeddings (pooling LAST) and reranking.

Why this module tokenises and batches by hand instead of calling ``Llama.embed()``:
``embed()`` tokenises with ``special=False`` and relies on the GGUF's ``add_eos_token``
flag, so a GGUF without it silently loses the ``<|endoftext|>`` that Qwen3 pools on, and
``embed(truncate=True)`` cuts that EOS off long texts. Here every sequence ends with EOS
exactly once, whatever the GGUF says, and truncation keeps it.

Reranking reads either the ``yes``/``no`` logits of the last position of a causal-LM GGUF
(community conversions keep the LM head) or, for GGUFs written by llama.cpp's converter
with ``pooling_type = RANK``, the two-class softmax llama.cpp computes itself.

A ``Llama`` object must not be used by two threads at once, so each model guards its
context with a lock.
"""

from __future__ import annotations

import bisect
import ctypes
import math
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import BackendUnavailable, DimensionError, ModelLoadError
from engine.instructions import (
    RERANK_PREFIX,
    RERANK_SUFFIX,
    format_query,
    rerank_body,
)
from engine.protocols import ModelInfo, Tokenizer, Vector
from engine.registry import QWEN3_EOS_ID
from engine.registry import RERANK_NO_ID as NO_ID
from engine.registry import RERANK_YES_ID as YES_ID

if TYPE_CHECKING:
    from engine.config import EmbedderConfig, RerankerConfig
    from engine.resolve import ResolvedModel

UBATCH_TOKENS = 512  # llama.cpp's default micro-batch; causal models split safely across it
DECODER_ARCHS = ("qwen3", "qwen2", "llama", "mistral", "gemma", "gemma2", "gemma3")
_POOLING_NAMES = {0: "none", 1: "mean", 2: "cls", 3: "last", 4: "rank"}


def import_llama_cpp() -> ModuleType:
    """Import llama_cpp lazily so the base install works without it."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise BackendUnavailable(
            "The llamacpp backend needs llama-cpp-python: pip install 'quarry[gguf]'"
        ) from exc
    return llama_cpp


def gpu_layers(device: str, llama_cpp: ModuleType) -> int:
    """Offload everything when a GPU build (Metal, CUDA) is asked for or available."""
    if device == "cpu":
        return 0
    if device in ("metal", "cuda", "mps"):
        return -1
    on_mac = sys.platform == "darwin"
    return -1 if on_mac or bool(llama_cpp.llama_supports_gpu_offload()) else 0


class _Model:
    """One GGUF loaded into one llama.cpp context, plus the batch buffer it decodes from."""

    def __init__(self, path: Path, *, budget: int, device: str, pooling: int | None) -> None:
        self.lib = import_llama_cpp()
        self.path = path
        self.lock = threading.Lock()
        self.budget = budget
        embedding = pooling is not None
        try:
            self.llm = self.lib.Llama(
                model_path=str(path),
                n_gpu_layers=gpu_layers(device, self.lib),
                n_ctx=budget,
                n_batch=budget,
                n_ubatch=min(budget, UBATCH_TOKENS),
                # embedding=True also makes llama-cpp-python allow many sequences per batch.
                embedding=True,
                pooling_type=pooling if embedding else self.lib.LLAMA_POOLING_TYPE_NONE,
                verbose=False,
            )
        except Exception as exc:  # llama-cpp-python raises ValueError/RuntimeError/OSError
            raise ModelLoadError(f"Cannot load GGUF {path}: {exc}") from exc
        if not embedding:
            self.lib.llama_set_embeddings(self.llm.ctx, False)  # we want logits, not vectors
        self.metadata: dict[str, str] = dict(self.llm.metadata)
        self.arch = self.metadata.get("general.architecture", "")
        self.max_seqs = int(self.llm.context_params.n_seq_max)
        self.batch = self.lib.llama_batch_init(budget, 0, 1)

    def flag(self, key: str) -> bool | None:
        """A boolean tokenizer flag from the GGUF metadata, None when absent."""
        value = self.metadata.get(f"tokenizer.ggml.{key}")
        return None if value is None else value.lower() == "true"

    def declared_pooling(self) -> int | None:
        """The pooling type the GGUF declares, if any."""
        value = self.metadata.get(f"{self.arch}.pooling_type")
        return None if value is None else int(value)

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        """Ids of ``text`` with no BOS/EOS; ``special`` parses ``<|im_start|>`` etc."""
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def decode(self, seqs: Sequence[list[int]], *, all_outputs: bool) -> list[int]:
        """Run one batch (each list its own sequence); return each sequence's last batch index.

        All tokens are outputs for pooled embeddings (llama.cpp otherwise warns and overrides);
        only the last token of each sequence is needed for logits.
        """
        batch, pos, lasts = self.batch, 0, []
        for seq_id, tokens in enumerate(seqs):
            for i, token in enumerate(tokens):
                batch.token[pos] = token
                batch.pos[pos] = i
                batch.n_seq_id[pos] = 1
                batch.seq_id[pos][0] = seq_id
                batch.logits[pos] = all_outputs or i == len(tokens) - 1
                pos += 1
            lasts.append(pos - 1)
        batch.n_tokens = pos
        memory = self.lib.llama_get_memory(self.llm.ctx)
        if memory is not None:
            self.lib.llama_memory_clear(memory, True)
        status = self.lib.llama_decode(self.llm.ctx, batch)
        if status != 0:
            raise ModelLoadError(f"llama.cpp decode failed with status {status} ({self.path.name})")
        return lasts

    def read(self, pointer: Any, size: int) -> np.ndarray:
        """Copy ``size`` floats out of a llama.cpp buffer before the next decode reuses it."""
        if not pointer:
            raise ModelLoadError(f"llama.cpp returned no output for {self.path.name}")
        return np.ctypeslib.as_array(
            ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), (size,)
        ).copy()

    def close(self) -> None:
        """Free the batch and the model; safe to call twice."""
        with self.lock:
            if self.batch is not None:
                self.lib.llama_batch_free(self.batch)
                self.batch = None
            if self.llm is not None:
                self.llm.close()
                self.llm = None


def pack(lengths: Sequence[int], budget: int, max_seqs: int) -> Iterator[list[int]]:
    """Group indices, longest first, into batches of at most ``budget`` tokens and ``max_seqs``."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    group: list[int] = []
    used = 0
    for i in order:
        if group and (used + lengths[i] > budget or len(group) >= max_seqs):
            yield group
            group, used = [], 0
        group.append(i)
        used += lengths[i]
    if group:
        yield group


class GGUFTokenizer:
    """Token spans from the GGUF's own vocabulary, by detokenising token by token.

    Used when no ``tokenizer.json`` is at hand. Byte-level BPE can split one character
    over several tokens; the first gets the character, the rest an empty span at its end
    (the same convention as ``engine.tokenizer.HFTokenizer``).
    """

    def __init__(self, model: _Model) -> None:
        self._model = model

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """One (start, end) character span per token, monotonic and non-overlapping."""
        with self._model.lock:
            ids = self._model.tokenize(text, special=False)
            pieces = [self._model.llm.detokenize([i]) for i in ids]
        char_starts = _char_byte_starts(text)
        spans: list[tuple[int, int]] = []
        offset = last_end = 0
        for piece in pieces:
            b0, offset = offset, min(offset + len(piece), char_starts[-1])
            start = max(bisect.bisect_right(char_starts, b0) - 1, last_end)
            end = max(bisect.bisect_left(char_starts, offset), start)
            spans.append((start, end))
            last_end = end
        return spans

    def count(self, text: str) -> int:
        """Tokens ``text`` costs, without special tokens."""
        with self._model.lock:
            return len(self._model.tokenize(text, special=False))


def _char_byte_starts(text: str) -> list[int]:
    """UTF-8 byte offset of each character's start, plus the total length at the end."""
    starts = [0]
    for ch in text:
        starts.append(starts[-1] + len(ch.encode("utf-8")))
    return starts


def find_tokenizer_json(path: Path, model_id: str) -> Path | None:
    """A ``tokenizer.json`` beside the GGUF or in the cached HF snapshot of ``model_id``."""
    beside = path.parent / "tokenizer.json"
    if beside.exists():
        return beside
    if "/" in model_id:
        try:
            from engine.resolve import cached_snapshot

            snapshot = cached_snapshot(model_id)
        except Exception:  # no huggingface_hub, odd cache: fall back to the GGUF vocabulary
            return None
        if snapshot is not None and (snapshot / "tokenizer.json").exists():
            return snapshot / "tokenizer.json"
    return None


class LlamaCppEmbedder:
    """Qwen3-Embedding (or another decoder embedder) from a GGUF file, pooling LAST.

    Encoder GGUFs (BERT-style) keep the pooling and special tokens their metadata declares.
    """

    def __init__(
        self,
        path: Path,
        *,
        model_id: str | None = None,
        revision: str = "",
        dim: int | None = None,
        min_dim: int | None = None,
        max_length: int = 8192,
        batch_tokens: int = 16384,
        device: str = "auto",
        uses_instruction: bool | None = None,
    ) -> None:
        lib = import_llama_cpp()
        self.max_length = max_length
        # n_ctx == n_batch: one decode holds a whole batch; never below one full-length text.
        budget = max(max_length, min(batch_tokens, 4096))
        arch = probe_metadata(path).get("general.architecture", "")
        self._decoder = arch in DECODER_ARCHS
        pooling = (
            lib.LLAMA_POOLING_TYPE_LAST if self._decoder else lib.LLAMA_POOLING_TYPE_UNSPECIFIED
        )
        self._model = _Model(path, budget=budget, device=device, pooling=pooling)
        self._add_eos, self._add_bos = self._special_tokens()
        self._tokenizer_json = find_tokenizer_json(path, model_id or path.stem)
        native = int(self._model.llm.n_embd())
        low = min_dim if min_dim is not None else min(32, native)
        self.dim = check_dim(dim, low, native)
        pooled = _POOLING_NAMES.get(self._model.declared_pooling() or 1, "mean")
        self.info = ModelInfo(
            model_id=model_id or path.stem,
            revision=revision,
            family=self._model.arch,
            pooling="last" if self._decoder else pooled,
            min_dim=low,
            max_dim=native,
            uses_instruction=self._decoder if uses_instruction is None else uses_instruction,
            backend="llamacpp",
        )

    def _special_tokens(self) -> tuple[int | None, int | None]:
        """EOS to append and BOS to prepend ourselves.

        Decoder embedders pool on a trailing EOS: we always append it (exactly once), so a
        GGUF without ``add_eos_token`` works like the official ones that set it.
        """
        model = self._model
        eos = int(model.metadata.get("tokenizer.ggml.eos_token_id", QWEN3_EOS_ID))
        bos = int(model.metadata.get("tokenizer.ggml.bos_token_id", -1))
        add_eos = self._decoder or bool(model.flag("add_eos_token"))
        add_bos = bool(model.flag("add_bos_token")) and bos >= 0
        return (eos if add_eos else None), (bos if add_bos else None)

    def encode(self, text: str) -> list[int]:
        """Token ids as the model sees them: user text literal, EOS kept under truncation."""
        ids = self._model.tokenize(text, special=False)
        head = [self._add_bos] if self._add_bos is not None else []
        tail = [self._add_eos] if self._add_eos is not None else []
        room = self.max_length - len(head) - len(tail)
        return head + ids[: max(room, 0)] + tail

    def _embed(self, texts: Sequence[str]) -> Vector:
        """Raw pooled vectors, batched by token budget, in input order; then MRL + L2."""
        out = np.zeros((len(texts), self.info.max_dim), dtype=np.float32)
        model = self._model
        with model.lock:
            if model.llm is None:
                raise ModelLoadError("the embedder was closed")
            seqs = [self.encode(t) for t in texts]
            for group in pack([len(s) for s in seqs], model.budget, model.max_seqs):
                model.decode([seqs[i] for i in group], all_outputs=True)
                for seq_id, i in enumerate(group):
                    ptr = model.lib.llama_get_embeddings_seq(model.llm.ctx, seq_id)
                    out[i] = model.read(ptr, self.info.max_dim)
        return truncate_normalise(out, self.dim)

    def embed_documents(self, texts: Sequence[str]) -> Vector:
        """Documents get no instruction (Qwen3 model card)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._embed(list(texts))

    def embed_query(self, text: str, instruction: str | None = None) -> Vector:
        """One query, with the Qwen3 ``Instruct: ...\\nQuery:`` prefix when the model uses it."""
        formatted = format_query(instruction, text) if self.info.uses_instruction else text
        return self._embed([formatted])[0]

    def tokenizer(self) -> Tokenizer:
        """``tokenizer.json`` when one can be found offline, else the GGUF vocabulary."""
        if self._tokenizer_json is not None:
            from engine.tokenizer import HFTokenizer

            return HFTokenizer.from_folder(self._tokenizer_json.parent)
        return GGUFTokenizer(self._model)

    def close(self) -> None:
        """Free the model; the object is unusable afterwards."""
        self._model.close()


def probe_metadata(path: Path) -> dict[str, str]:
    """The GGUF's metadata through a vocab-only load: no weights, well under a second.

    Pooling must be chosen before the context exists, so the architecture and declared
    pooling are read first (gguf-py's reader parses the whole vocabulary and is far slower).
    """
    lib = import_llama_cpp()
    try:
        llm = lib.Llama(model_path=str(path), vocab_only=True, n_ctx=8, n_batch=8, verbose=False)
    except Exception as exc:  # llama-cpp-python raises ValueError for unreadable files
        raise ModelLoadError(f"Cannot read GGUF {path}: {exc}") from exc
    try:
        return dict(llm.metadata)
    finally:
        llm.close()


def check_dim(dim: int | None, low: int, high: int) -> int:
    """The output dimension, or DimensionError naming the allowed range."""
    if dim is None:
        return high
    if not low <= dim <= high:
        raise DimensionError(f"Dimension {dim} is outside this model's range {low}..{high}")
    return dim


def truncate_normalise(vectors: np.ndarray, dim: int) -> Vector:
    """Matryoshka: keep the first ``dim`` values of the raw vectors, then L2-normalise."""
    cut = np.ascontiguousarray(vectors[:, :dim], dtype=np.float32)
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return (cut / np.maximum(norms, 1e-12)).astype(np.float32)


class LlamaCppReranker:
    """Qwen3-Reranker from a GGUF: P(yes) of the official judge prompt."""

    def __init__(
        self,
        path: Path,
        *,
        model_id: str | None = None,
        revision: str = "",
        max_length: int = 8192,
        batch_size: int = 8,
        device: str = "auto",
    ) -> None:
        lib = import_llama_cpp()
        self.max_length = max_length
        self.batch_size = max(batch_size, 1)
        rank = declares_rank(probe_metadata(path))
        pooling = lib.LLAMA_POOLING_TYPE_RANK if rank else None
        self._model = _Model(path, budget=max_length, device=device, pooling=pooling)
        self._rank = rank
        self._prefix = self._model.tokenize(RERANK_PREFIX, special=True)
        self._suffix = self._model.tokenize(RERANK_SUFFIX, special=True)
        self.info = ModelInfo(
            model_id=model_id or path.stem,
            revision=revision,
            family=self._model.arch,
            pooling="rank" if rank else "last",
            min_dim=1,
            max_dim=1,
            uses_instruction=True,
            backend="llamacpp",
        )

    def encode(self, query: str, doc: str, instruction: str | None) -> list[int]:
        """Prefix + body + suffix ids; the body (not the template) is cut to fit max_length."""
        body = self._model.tokenize(rerank_body(instruction, query, doc), special=False)
        room = max(self.max_length - len(self._prefix) - len(self._suffix), 0)
        return self._prefix + body[:room] + self._suffix

    def rank(self, query: str, docs: Sequence[str], instruction: str | None = None) -> Vector:
        """One P(yes) per doc, in input order."""
        scores = np.zeros(len(docs), dtype=np.float32)
        model = self._model
        with model.lock:
            if model.llm is None:
                raise ModelLoadError("the reranker was closed")
            seqs = [self.encode(query, d, instruction) for d in docs]
            limit = min(self.batch_size, model.max_seqs)
            for group in pack([len(s) for s in seqs], model.budget, limit):
                score = self._rank_scores if self._rank else self._logit_scores
                scores[group] = score([seqs[i] for i in group])
        return scores

    def _logit_scores(self, seqs: list[list[int]]) -> list[float]:
        """softmax([no, yes]) of the last position's logits, as the model card computes."""
        model = self._model
        lasts = model.decode(seqs, all_outputs=False)
        n_vocab = int(model.llm.n_vocab())
        out = []
        for j in lasts:
            logits = model.read(model.lib.llama_get_logits_ith(model.llm.ctx, j), n_vocab)
            out.append(_p_yes(float(logits[YES_ID]), float(logits[NO_ID])))
        return out

    def _rank_scores(self, seqs: list[list[int]]) -> list[float]:
        """llama.cpp's RANK head: [P(yes), P(no)] for Qwen3, or one logit for cross-encoders."""
        model = self._model
        model.decode(seqs, all_outputs=True)
        n_out = max(int(model.lib.llama_model_n_cls_out(model.llm.model)), 1)
        out = []
        for seq_id in range(len(seqs)):
            values = model.read(model.lib.llama_get_embeddings_seq(model.llm.ctx, seq_id), n_out)
            out.append(float(values[0]) if n_out > 1 else _sigmoid(float(values[0])))
        return out

    def close(self) -> None:
        """Free the model."""
        self._model.close()


def _p_yes(yes: float, no: float) -> float:
    """P(yes) of a two-way softmax, computed stably."""
    return _sigmoid(yes - no)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def declares_rank(metadata: dict[str, str]) -> bool:
    """True for GGUFs whose metadata says ``pooling_type = RANK`` (llama.cpp's converter)."""
    arch = metadata.get("general.architecture", "")
    return metadata.get(f"{arch}.pooling_type") == "4"


def _resolved_kwargs(resolved: ResolvedModel) -> dict[str, Any]:
    if resolved.path is None or resolved.format != "gguf":
        raise ModelLoadError(f"The llamacpp backend needs a .gguf file, not {resolved.spec!r}")
    return {"model_id": resolved.model_id, "revision": resolved.revision}


def load_embedder(resolved: ResolvedModel, config: EmbedderConfig) -> LlamaCppEmbedder:
    """Factory hook: an embedder for a resolved ``.gguf`` spec."""
    kwargs = _resolved_kwargs(resolved)
    entry = resolved.entry
    assert resolved.path is not None
    return LlamaCppEmbedder(
        resolved.path,
        dim=config.dim,
        min_dim=entry.min_dim if entry else None,
        max_length=config.max_length,
        batch_tokens=config.batch_tokens,
        device=config.device,
        uses_instruction=entry.uses_instruction if entry else None,
        **kwargs,
    )


def load_reranker(resolved: ResolvedModel, config: RerankerConfig) -> LlamaCppReranker:
    """Factory hook: a reranker for a resolved ``.gguf`` spec."""
    kwargs = _resolved_kwargs(resolved)
    assert resolved.path is not None
    return LlamaCppReranker(
        resolved.path,
        max_length=config.max_length,
        batch_size=config.batch_size,
        device=config.device,
        **kwargs,
    )


__all__: list[str] = [
    "GGUFTokenizer",
    "LlamaCppEmbedder",
    "LlamaCppReranker",
    "load_embedder",
    "load_reranker",
]
