"""A thin layer over llama.cpp's C API (as bound by llama-cpp-python), for the GGUF backend.

Why not ``llama_cpp.Llama``: its constructor fixes settings Quarry must choose per machine
(``use_extra_bufts``, which crashed llama.cpp's repacked-weight path on one AVX-512 VM; one
thread per *physical* core, where ``Llama`` takes half the logical CPUs), and it ties one
context to one model, while long texts need a larger context only for a moment. This module
exposes just what the backend uses: load a model, read its metadata, tokenise, create
contexts, decode a batch of sequences, and read embeddings or logits.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from engine.errors import BackendUnavailable, ModelLoadError

log = logging.getLogger(__name__)
_LOG_ERROR = 4  # ggml_log_level: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 continuation
_log_callback: Any = None  # the ctypes callback must outlive every llama.cpp call


def import_llama_cpp() -> ModuleType:
    """Import llama_cpp lazily so the base install works without it; quiet its logging."""
    global _log_callback
    try:
        import llama_cpp
    except ImportError as exc:
        raise BackendUnavailable(
            "The llamacpp backend needs llama-cpp-python: pip install 'quarry[gguf]'"
        ) from exc
    if _log_callback is None:
        # llama.cpp prints every tensor and token oddity to stderr by default; only its
        # errors matter to a user, and they go to the log like everything else.
        @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
        def _forward(level: int, text: bytes, _user: object) -> None:
            if level == _LOG_ERROR:
                log.error("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())

        _log_callback = _forward
        llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
    return llama_cpp


@dataclass(frozen=True)
class Runtime:
    """How llama.cpp runs a model on this machine (chosen by measurement in the benchmarks).

    ``pack_tokens`` is the size of one decode (n_ctx = n_batch = n_ubatch): several short
    texts are packed into it, but never more, because attention then pays for the whole
    packed context (8192 packed tokens ran at a quarter of 2048's speed on a 2-core CPU).
    """

    threads: int
    pack_tokens: int = 2048
    flash_attn: bool = True
    extra_bufts: bool = True  # llama.cpp's repacked weight layouts; off where they crash
    gpu_layers: int = 0


class NativeModel:
    """One GGUF's weights and vocabulary; contexts are made from it as needed."""

    def __init__(self, path: Path, runtime: Runtime, *, vocab_only: bool = False) -> None:
        self.lib = import_llama_cpp()
        self.path = path
        self.runtime = runtime
        params = self.lib.llama_model_default_params()
        params.n_gpu_layers = runtime.gpu_layers
        params.vocab_only = vocab_only
        if hasattr(params, "use_extra_bufts"):
            params.use_extra_bufts = runtime.extra_bufts
        self.lib.llama_backend_init()
        pointer = self.lib.llama_model_load_from_file(str(path).encode("utf-8"), params)
        if not pointer:
            raise ModelLoadError(f"Cannot load GGUF {path}: llama.cpp could not read it")
        self.model: Any = pointer
        self.vocab: Any = self.lib.llama_model_get_vocab(pointer)
        self.metadata = self._metadata()
        self.arch = self.metadata.get("general.architecture", "")
        self.n_embd = int(self.lib.llama_model_n_embd(pointer))
        self.n_vocab = int(self.lib.llama_vocab_n_tokens(self.vocab))

    def _metadata(self) -> dict[str, str]:
        out: dict[str, str] = {}
        buf = ctypes.create_string_buffer(4096)
        for i in range(int(self.lib.llama_model_meta_count(self.model))):
            if self.lib.llama_model_meta_key_by_index(self.model, i, buf, len(buf)) < 0:
                continue
            key = buf.value.decode("utf-8", "replace")
            if self.lib.llama_model_meta_val_str_by_index(self.model, i, buf, len(buf)) >= 0:
                out[key] = buf.value.decode("utf-8", "replace")
        return out

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        """Ids of ``text`` without BOS/EOS; ``special`` parses ``<|im_start|>`` and friends."""
        data = text.encode("utf-8")
        size = len(data) + 16
        for _ in range(2):
            buf = (self.lib.llama_token * size)()
            n = int(self.lib.llama_tokenize(self.vocab, data, len(data), buf, size, False, special))
            if n >= 0:
                return list(buf[:n])
            size = -n
        raise ModelLoadError(f"llama.cpp could not tokenise a text of {len(data)} bytes")

    def piece(self, token: int) -> bytes:
        """The bytes one token stands for (special tokens render as nothing)."""
        buf = ctypes.create_string_buffer(64)
        n = int(self.lib.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False))
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = int(self.lib.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False))
        return buf.raw[: max(n, 0)]

    def special_id(self, text: str) -> int | None:
        """The id of a special token such as ``<|endoftext|>``, None if the vocabulary lacks it."""
        ids = self.tokenize(text, special=True)
        return ids[0] if len(ids) == 1 else None

    def context(self, n_ctx: int, *, embeddings: bool, pooling: int, n_seq_max: int) -> Context:
        """A fresh context of ``n_ctx`` tokens (one decode holds at most that many)."""
        return Context(self, n_ctx, embeddings=embeddings, pooling=pooling, n_seq_max=n_seq_max)

    def close(self) -> None:
        """Free the weights; safe to call twice."""
        if self.model:
            self.lib.llama_model_free(self.model)
            self.model = None


class Context:
    """One llama.cpp context plus the batch buffer it decodes from."""

    def __init__(
        self, model: NativeModel, n_ctx: int, *, embeddings: bool, pooling: int, n_seq_max: int
    ) -> None:
        lib, runtime = model.lib, model.runtime
        self.lib, self.model, self.n_ctx = lib, model, n_ctx
        params = lib.llama_context_default_params()
        params.n_ctx = params.n_batch = params.n_ubatch = n_ctx
        params.n_seq_max = max(1, min(n_seq_max, n_ctx, int(lib.llama_max_parallel_sequences())))
        if not embeddings:
            # Logits are read only at each sequence's last token: reserving n_batch rows of
            # vocabulary logits (1.2 GB at 2048 x 151669) would be memory for nothing.
            params.n_outputs_max = params.n_seq_max
        params.n_threads = params.n_threads_batch = runtime.threads
        params.embeddings = embeddings
        params.pooling_type = pooling
        params.kv_unified = True  # sequences share the cells: a packed batch needs no more
        params.flash_attn_type = (
            lib.LLAMA_FLASH_ATTN_TYPE_ENABLED
            if runtime.flash_attn
            else lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        self.n_seq_max = int(params.n_seq_max)
        pointer = lib.llama_init_from_model(model.model, params)
        if not pointer:
            raise ModelLoadError(f"llama.cpp could not create a {n_ctx}-token context")
        self.ctx: Any = pointer
        self.batch: Any = lib.llama_batch_init(n_ctx, 0, 1)

    def clear(self) -> None:
        """Forget every sequence (the next decode starts from an empty cache)."""
        memory = self.lib.llama_get_memory(self.ctx)
        if memory:
            self.lib.llama_memory_clear(memory, True)

    def copy_sequence(self, src: int, dst: int) -> None:
        """Let ``dst`` see ``src``'s cached tokens (shared cells: nothing is copied)."""
        self.lib.llama_memory_seq_cp(self.lib.llama_get_memory(self.ctx), src, dst, -1, -1)

    def decode(
        self, seqs: Sequence[Sequence[int]], *, start: int = 0, outputs: str = "last"
    ) -> list[int]:
        """Decode ``seqs`` (each its own sequence id, positions from ``start``) in one batch.

        ``outputs`` is "all" (pooled embeddings need every token) or "last" (logits of each
        sequence's final token). Returns each sequence's last batch index.
        """
        batch, pos, lasts = self.batch, 0, []
        for seq_id, tokens in enumerate(seqs):
            for i, token in enumerate(tokens):
                batch.token[pos] = token
                batch.pos[pos] = start + i
                batch.n_seq_id[pos] = 1
                batch.seq_id[pos][0] = seq_id
                batch.logits[pos] = outputs == "all" or i == len(tokens) - 1
                pos += 1
            lasts.append(pos - 1)
        batch.n_tokens = pos
        status = int(self.lib.llama_decode(self.ctx, batch))
        if status != 0:
            raise ModelLoadError(
                f"llama.cpp decode failed with status {status} ({self.model.path.name})"
            )
        return lasts

    def embedding(self, seq_id: int) -> np.ndarray:
        """The pooled vector of one sequence from the last decode."""
        size = self.model.n_embd
        return _copy(self.lib.llama_get_embeddings_seq(self.ctx, seq_id), size, self.model)

    def logits(self, index: int) -> np.ndarray:
        """The vocabulary logits at one batch index of the last decode."""
        return _copy(self.lib.llama_get_logits_ith(self.ctx, index), self.model.n_vocab, self.model)

    def classes(self, seq_id: int, count: int) -> np.ndarray:
        """A RANK-pooling model's ``count`` class scores for one sequence."""
        return _copy(self.lib.llama_get_embeddings_seq(self.ctx, seq_id), count, self.model)

    def close(self) -> None:
        """Free the batch and the context; safe to call twice."""
        if self.batch is not None:
            self.lib.llama_batch_free(self.batch)
            self.batch = None
        if self.ctx:
            self.lib.llama_free(self.ctx)
            self.ctx = None


def _copy(pointer: Any, size: int, model: NativeModel) -> np.ndarray:
    """Copy ``size`` floats out of a llama.cpp buffer before the next decode reuses it."""
    if not pointer:
        raise ModelLoadError(f"llama.cpp returned no output for {model.path.name}")
    array = ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float))
    return np.ctypeslib.as_array(array, (size,)).copy()
