"""GGUF backend through llama.cpp: Qwen3 embeddings (pooling LAST) and reranking.

Why this module tokenises, packs and decodes by hand instead of calling ``Llama.embed()``:

* **EOS.** Qwen3-Embedding pools on ``<|endoftext|>`` (151643), which its official tokenizer's
  post-processor appends. GGUFs disagree about it: official ones set ``add_eos_token``; a
  conversion of a tokenizer without that post-processor declares ``eos_token_id`` =
  ``<|im_end|>`` and no flag, and appending *that* gave cosine 0.16-0.26 to the reference.
  Here a Qwen-family decoder always ends each text with ``<|endoftext|>`` exactly once, and
  truncation keeps it; the text ``<|endoftext|>`` stays ordinary text.
* **Speed.** One decode holds at most ``Runtime.pack_tokens`` tokens: packing a whole
  8192-token context made attention pay for all of it (a quarter of the speed, twice the
  memory). Embedding on a CPU packs 512 tokens (Qwen3-0.6B Q8_0 on 2 cores, interleaved:
  139 tokens/s at 512, 132 at 1024, 123 at 2048); reranking and GPUs keep 2048, where the
  shared prompt and wide batches pay. Threads = physical cores, flash attention on. A text
  longer than the pack gets a context of its own size for that call only.
* **Reranking** shares the prompt: system prompt + instruction + query are identical for every
  candidate, so they are decoded once and every candidate's sequence reuses those cache cells.
* **Safety.** The first load of a model on a machine is probed in a child process
  (``engine.backends.gguf_probe``), because one llama.cpp weight layout segfaulted on one
  AVX-512 VM; a crash there means the safe layout is used, and the app says so.

Reranking reads the ``yes``/``no`` logits of the last position of a causal-LM GGUF, or, for
GGUFs written by llama.cpp's converter with ``pooling_type = RANK``, the two-class head llama.cpp
computes itself. A model must not be used by two threads at once, so each guards itself with a lock.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.backends.gguf_probe import safe_runtime
from engine.backends.llama_native import Context, NativeModel, Runtime, import_llama_cpp
from engine.errors import DimensionError, ModelLoadError
from engine.instructions import (
    RERANK_PREFIX,
    RERANK_SUFFIX,
    format_query,
    rerank_body,
)
from engine.machine import physical_cores
from engine.protocols import ModelInfo, Tokenizer, Vector
from engine.registry import QWEN3_EOS_ID
from engine.registry import RERANK_NO_ID as NO_ID
from engine.registry import RERANK_YES_ID as YES_ID

if TYPE_CHECKING:
    from engine.config import EmbedderConfig, RerankerConfig
    from engine.resolve import ResolvedModel

DECODER_ARCHS = ("qwen3", "qwen2", "llama", "mistral", "gemma", "gemma2", "gemma3")
QWEN_ARCHS = ("qwen3", "qwen2")
ENDOFTEXT = "<|endoftext|>"
RERANK_SPECIALS = ("<|im_start|>", "<|im_end|>", "<think>", "</think>")
MIN_SHARED_PREFIX = 8  # below this, sharing the prompt's cache cells saves nothing measurable
_POOLING_NAMES = {0: "none", 1: "mean", 2: "cls", 3: "last", 4: "rank"}

__all__ = [
    "GGUFTokenizer",
    "LlamaCppEmbedder",
    "LlamaCppReranker",
    "import_llama_cpp",
    "load_embedder",
    "load_reranker",
]


def default_runtime(device: str) -> Runtime:
    """Measured defaults: one thread per physical core, 2048-token packs, flash attention."""
    lib = import_llama_cpp()
    return Runtime(threads=physical_cores(), gpu_layers=gpu_layers(device, lib))


CPU_EMBED_PACK = 512  # tokens per embedding decode on a CPU (see the module docstring)


def embedding_runtime(device: str) -> Runtime:
    """The default runtime with CPU-sized packs when nothing is offloaded to a GPU."""
    runtime = default_runtime(device)
    return runtime if runtime.gpu_layers else replace(runtime, pack_tokens=CPU_EMBED_PACK)


def gpu_layers(device: str, llama_cpp: Any) -> int:
    """Offload everything when a GPU build (Metal, CUDA) is asked for or available."""
    import sys

    if device == "cpu":
        return 0
    if device in ("metal", "cuda", "mps"):
        return -1
    on_mac = sys.platform == "darwin"
    return -1 if on_mac or bool(llama_cpp.llama_supports_gpu_offload()) else 0


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


def probe_metadata(path: Path) -> dict[str, str]:
    """The GGUF's metadata through a vocab-only load: no weights, well under a second.

    Pooling must be chosen before the context exists, so the architecture and declared
    pooling are read first.
    """
    import_llama_cpp()
    model = NativeModel(path, Runtime(threads=1), vocab_only=True)
    try:
        return dict(model.metadata)
    finally:
        model.close()


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


def _context_size(tokens: int) -> int:
    """A context just big enough for ``tokens`` (llama.cpp pads the cache to 256 cells)."""
    return max(256, -(-tokens // 256) * 256)


class _Loaded:
    """A model, its standing context and lock: what the embedder and reranker share."""

    def __init__(self, path: Path, runtime: Runtime, *, embeddings: bool, pooling: int) -> None:
        self.path = path
        self.runtime, self.notice = safe_runtime(path, runtime)
        self.model = NativeModel(path, self.runtime)
        self.lib = self.model.lib
        self.embeddings, self.pooling = embeddings, pooling
        self.lock = threading.Lock()
        self.ctx: Context | None = self._context(self.runtime.pack_tokens)

    def _context(self, n_ctx: int) -> Context:
        max_seqs = int(self.lib.llama_max_parallel_sequences())
        return self.model.context(
            n_ctx, embeddings=self.embeddings, pooling=self.pooling, n_seq_max=max_seqs
        )

    def standing(self) -> Context:
        if self.ctx is None:
            raise ModelLoadError(f"{self.path.name} was closed")
        return self.ctx

    def oversized(self, tokens: int) -> Context:
        """A context for one text longer than the pack, freed by the caller after use."""
        return self._context(_context_size(tokens))

    def close(self) -> None:
        with self.lock:
            if self.ctx is not None:
                self.ctx.close()
                self.ctx = None
            self.model.close()


class GGUFTokenizer:
    """Token spans from the GGUF's own vocabulary, by detokenising token by token.

    Used when no ``tokenizer.json`` is at hand. Byte-level BPE can split one character
    over several tokens; the first gets the character, the rest an empty span at its end
    (the same convention as ``engine.tokenizer.HFTokenizer``).
    """

    def __init__(self, loaded: _Loaded) -> None:
        self._loaded = loaded

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """One (start, end) character span per token, monotonic and non-overlapping."""
        model = self._loaded.model
        with self._loaded.lock:
            pieces = [model.piece(i) for i in model.tokenize(text, special=False)]
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
        with self._loaded.lock:
            return len(self._loaded.model.tokenize(text, special=False))


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


def _end_token(model: NativeModel, decoder: bool) -> int | None:
    """The token to append to every text, None for models that add none.

    Qwen-family decoders: ``<|endoftext|>``, whatever the GGUF declares (its official
    tokenizer appends that one; a declared ``<|im_end|>`` would pool the wrong position).
    Other decoders: the declared EOS. Encoders: EOS only when the GGUF asks for it.
    """
    if model.arch in QWEN_ARCHS:
        found = model.special_id(ENDOFTEXT)
        if found is not None:
            return found
    declared = model.metadata.get("tokenizer.ggml.eos_token_id")
    eos = int(declared) if declared is not None else QWEN3_EOS_ID
    wants = model.metadata.get("tokenizer.ggml.add_eos_token", "").lower() == "true"
    return eos if decoder or wants else None


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
        device: str = "auto",
        uses_instruction: bool | None = None,
        runtime: Runtime | None = None,
        pack_tokens: int | None = None,
    ) -> None:
        lib = import_llama_cpp()
        self.max_length = max_length
        meta = probe_metadata(path)
        arch = meta.get("general.architecture", "")
        self._decoder = arch in DECODER_ARCHS
        pooling = (
            lib.LLAMA_POOLING_TYPE_LAST if self._decoder else lib.LLAMA_POOLING_TYPE_UNSPECIFIED
        )
        runtime = runtime or embedding_runtime(device)
        if pack_tokens is not None:
            runtime = replace(runtime, pack_tokens=pack_tokens)
        if not self._decoder:  # encoders attend both ways: a whole text in one ubatch
            runtime = replace(runtime, pack_tokens=max(runtime.pack_tokens, max_length))
        self._loaded = _Loaded(path, runtime, embeddings=True, pooling=pooling)
        model = self._loaded.model
        self._eos = _end_token(model, self._decoder)
        bos = int(model.metadata.get("tokenizer.ggml.bos_token_id", -1))
        wants_bos = model.metadata.get("tokenizer.ggml.add_bos_token", "").lower() == "true"
        self._bos = bos if wants_bos and bos >= 0 else None
        self._tokenizer_json = find_tokenizer_json(path, model_id or path.stem)
        native = model.n_embd
        low = min_dim if min_dim is not None else min(32, native)
        self.dim = check_dim(dim, low, native)
        declared = meta.get(f"{arch}.pooling_type")
        self.info = ModelInfo(
            model_id=model_id or path.stem,
            revision=revision,
            family=arch,
            pooling="last" if self._decoder else _POOLING_NAMES.get(int(declared or 1), "mean"),
            min_dim=low,
            max_dim=native,
            uses_instruction=self._decoder if uses_instruction is None else uses_instruction,
            backend="llamacpp",
            notice=self._loaded.notice or "",
        )

    @property
    def runtime(self) -> Runtime:
        """The settings llama.cpp runs with (after the crash probe)."""
        return self._loaded.runtime

    def encode(self, text: str) -> list[int]:
        """Token ids as the model sees them: user text literal, EOS kept under truncation."""
        ids = self._loaded.model.tokenize(text, special=False)
        head = [self._bos] if self._bos is not None else []
        tail = [self._eos] if self._eos is not None else []
        room = self.max_length - len(head) - len(tail)
        return head + ids[: max(room, 0)] + tail

    def _embed(self, texts: Sequence[str]) -> Vector:
        """Raw pooled vectors in input order, packed per decode; then MRL + L2."""
        out = np.zeros((len(texts), self.info.max_dim), dtype=np.float32)
        loaded = self._loaded
        with loaded.lock:
            ctx = loaded.standing()
            seqs = [self.encode(t) for t in texts]
            fits = [i for i, s in enumerate(seqs) if len(s) <= ctx.n_ctx]
            for group in pack([len(seqs[i]) for i in fits], ctx.n_ctx, ctx.n_seq_max):
                rows = [fits[j] for j in group]
                out[rows] = self._decode(ctx, [seqs[i] for i in rows])
            for i in (i for i, s in enumerate(seqs) if len(s) > ctx.n_ctx):
                big = loaded.oversized(len(seqs[i]))
                try:
                    out[i] = self._decode(big, [seqs[i]])[0]
                finally:
                    big.close()
        return truncate_normalise(out, self.dim)

    def _decode(self, ctx: Context, seqs: list[list[int]]) -> np.ndarray:
        ctx.clear()
        ctx.decode(seqs, outputs="all")  # pooled embeddings need every token as output
        return np.stack([ctx.embedding(seq_id) for seq_id in range(len(seqs))])

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
        return GGUFTokenizer(self._loaded)

    def close(self) -> None:
        """Free the model; the object is unusable afterwards."""
        self._loaded.close()


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
        runtime: Runtime | None = None,
    ) -> None:
        lib = import_llama_cpp()
        self.max_length = max_length
        self.batch_size = max(batch_size, 1)
        rank = declares_rank(probe_metadata(path))
        self._rank = rank
        pooling = lib.LLAMA_POOLING_TYPE_RANK if rank else lib.LLAMA_POOLING_TYPE_NONE
        self._loaded = _Loaded(
            path, runtime or default_runtime(device), embeddings=rank, pooling=pooling
        )
        model = self._loaded.model
        _check_specials(model)
        self._prefix = model.tokenize(RERANK_PREFIX, special=True)
        self._suffix = model.tokenize(RERANK_SUFFIX, special=True)
        self.info = ModelInfo(
            model_id=model_id or path.stem,
            revision=revision,
            family=model.arch,
            pooling="rank" if rank else "last",
            min_dim=1,
            max_dim=1,
            uses_instruction=True,
            backend="llamacpp",
            notice=self._loaded.notice or "",
        )

    def encode(self, query: str, doc: str, instruction: str | None) -> list[int]:
        """Prefix + body + suffix ids; the body (not the template) is cut to fit max_length."""
        body = self._loaded.model.tokenize(rerank_body(instruction, query, doc), special=False)
        room = max(self.max_length - len(self._prefix) - len(self._suffix), 0)
        return self._prefix + body[:room] + self._suffix

    def rank(self, query: str, docs: Sequence[str], instruction: str | None = None) -> Vector:
        """One P(yes) per doc, in input order."""
        scores = np.zeros(len(docs), dtype=np.float32)
        loaded = self._loaded
        with loaded.lock:
            ctx = loaded.standing()
            seqs = [self.encode(query, d, instruction) for d in docs]
            fits = [i for i, s in enumerate(seqs) if len(s) <= ctx.n_ctx]
            limit = min(self.batch_size, ctx.n_seq_max)
            for group in pack([len(seqs[i]) for i in fits], ctx.n_ctx, limit):
                rows = [fits[j] for j in group]
                scores[rows] = self._score(ctx, [seqs[i] for i in rows])
            for i in (i for i, s in enumerate(seqs) if len(s) > ctx.n_ctx):
                big = loaded.oversized(len(seqs[i]))
                try:
                    scores[i] = self._score(big, [seqs[i]])[0]
                finally:
                    big.close()
        return scores

    def rank_prompts(self, prompts: Sequence[str]) -> Vector:
        """P(yes) of complete judge prompts given as text (special tokens parsed), in order.

        What a server does with a prompt a client assembled itself (vLLM-style ``/rerank``).
        """
        loaded = self._loaded
        with loaded.lock:
            ctx = loaded.standing()
            seqs = [loaded.model.tokenize(p, special=True) for p in prompts]
            return np.array([self._score(ctx, [s])[0] for s in seqs], dtype=np.float32).reshape(
                len(seqs)
            )

    def _score(self, ctx: Context, seqs: list[list[int]]) -> list[float]:
        ctx.clear()
        if self._rank:
            return self._rank_scores(ctx, seqs)
        return self._logit_scores(ctx, seqs)

    def _logit_scores(self, ctx: Context, seqs: list[list[int]]) -> list[float]:
        """softmax([no, yes]) of each last position, the shared prompt decoded only once."""
        shared = shared_prefix(seqs) if len(seqs) > 1 else 0
        if shared >= MIN_SHARED_PREFIX:
            ctx.decode([seqs[0][:shared]], outputs="last")
            for seq_id in range(1, len(seqs)):
                ctx.copy_sequence(0, seq_id)
            lasts = ctx.decode([s[shared:] for s in seqs], start=shared, outputs="last")
        else:
            lasts = ctx.decode(seqs, outputs="last")
        out = []
        for index in lasts:
            logits = ctx.logits(index)
            out.append(_p_yes(float(logits[YES_ID]), float(logits[NO_ID])))
        return out

    def _rank_scores(self, ctx: Context, seqs: list[list[int]]) -> list[float]:
        """llama.cpp's RANK head: [P(yes), P(no)] for Qwen3, or one logit for cross-encoders."""
        ctx.decode(seqs, outputs="all")
        lib = self._loaded.lib
        n_out = max(int(lib.llama_model_n_cls_out(self._loaded.model.model)), 1)
        out = []
        for seq_id in range(len(seqs)):
            values = ctx.classes(seq_id, n_out)
            out.append(float(values[0]) if n_out > 1 else _sigmoid(float(values[0])))
        return out

    def close(self) -> None:
        """Free the model."""
        self._loaded.close()


def shared_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix all ``seqs`` share, leaving each at least one token of its own.

    Computed on the final token lists (not by splitting the prompt text), so tokenisation
    at the join can never differ from the unshared prompt.
    """
    first = seqs[0]
    limit = min(len(s) for s in seqs) - 1
    n = 0
    while n < limit and all(s[n] == first[n] for s in seqs):
        n += 1
    return n


def _check_specials(model: NativeModel) -> None:
    """The judge prompt's special tokens must exist as single tokens, as in Qwen's vocabulary."""
    missing = [t for t in RERANK_SPECIALS if model.special_id(t) is None]
    if missing:
        raise ModelLoadError(
            f"{model.path.name} is not a Qwen3 reranker: its vocabulary lacks {', '.join(missing)}"
        )


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
        batch_size=config.batch_size or 8,
        device=config.device,
        **kwargs,
    )
