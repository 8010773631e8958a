"""Embedder and Reranker on transformers + torch: the reference backend, and the fast one on CUDA.

Follows the Qwen3 model cards exactly (last-token pooling on left-padded input ending in
one ``<|endoftext|>``; reranker P(yes) from the last position's yes/no logits) and also
runs sentence-transformers folders (mean/CLS pooling) such as the starter model.
torch and transformers are imported lazily, so the base install never needs them.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.backends.local import LocalEmbedder
from engine.config import EmbedderConfig, RerankerConfig
from engine.errors import BackendUnavailable, ModelLoadError
from engine.instructions import (
    RERANK_PREFIX,
    RERANK_SUFFIX,
    format_query,
    rerank_body,
)
from engine.pooling import (
    check_dim,
    declared_pooling,
    model_config,
    pad,
    sbert_max_length,
    with_single_eos,
)
from engine.protocols import ModelInfo, Vector
from engine.registry import QWEN3_EOS_ID
from engine.tokenizer import HFTokenizer

if TYPE_CHECKING:
    import torch

    from engine.resolve import ResolvedModel


def _torch() -> Any:
    """Import torch + transformers, or say which extra provides them."""
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable(
            "The transformers backend needs torch and transformers: pip install 'quarry[torch]'"
        ) from exc
    return torch


def pick_device(requested: str) -> str:
    """``auto`` prefers CUDA, then Apple's MPS, then CPU; ``metal`` is an alias of ``mps``."""
    torch = _torch()
    if requested == "metal":
        return "mps"
    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


def pick_dtype(requested: str, device: str, model_id: str = "") -> torch.dtype:
    """Half precision on GPUs (bf16 where supported); on CPU what measured fastest here.

    On CPU ``auto`` is the remembered calibration's fastest precision for this model, else
    bf16 where the CPU computes it natively (AVX-512 BF16, AMX, Apple M2+), else fp32.
    """
    torch = _torch()
    if requested != "auto":
        return getattr(torch, requested)  # type: ignore[no-any-return]
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    from engine.calibrate import preferred_cpu_dtype

    return getattr(torch, preferred_cpu_dtype(model_id))  # type: ignore[no-any-return]


def default_batch_tokens(device: str, hidden_size: int) -> int:
    """Padded tokens per forward pass, measured (benchmarks/model_speed.py, H100, 2026-11-27).

    Qwen3-0.6B bf16 ran 25k tokens/s at 16384 and 104-105k at 65536 (the model card's code:
    88-91k); 4B the same at both (~37k); 8B 20k at 65536 where 8k-token batches gave 25k. On
    a CPU big batches only pad more and cost memory: 2048 ran 294 tokens/s (bf16, 2 cores)
    where 16384 ran 238, in half the memory.
    """
    if device != "cuda":
        return 2048
    return 65536 if hidden_size <= 1024 else 16384


# transformers' from_pretrained swaps module-level functions (torch.linspace, torch.nn.init.*)
# while it builds a model, and restores them afterwards. Two threads loading at once (search
# and indexing both start a model) can restore each other's patched versions and leave torch
# broken for the rest of the process ("Cannot copy out of meta tensor"), so loads take turns.
_LOAD_LOCK = threading.Lock()


def _load(auto_class: str, path: Path, device: str, dtype: torch.dtype) -> Any:
    """Load weights safely (safetensors, no remote code); wrap any library failure."""
    with _LOAD_LOCK:
        return _load_unlocked(auto_class, path, device, dtype)


def _load_unlocked(auto_class: str, path: Path, device: str, dtype: torch.dtype) -> Any:
    import transformers

    # SDPA has given NaN Qwen3 embeddings on MPS; eager attention avoids it there.
    attention = "eager" if device == "mps" else "sdpa"
    try:
        model = getattr(transformers, auto_class).from_pretrained(
            str(path),
            dtype=dtype,
            attn_implementation=attention,
            use_safetensors=True,  # never unpickle .bin weights
            trust_remote_code=False,
            local_files_only=True,  # resolve() already found the folder; never go online
        )
        return model.to(device).eval()
    except Exception as exc:  # OSError, KeyError('qwen3') on old transformers, OOM, ...
        raise ModelLoadError(f"Cannot load {path} with transformers: {exc}") from exc


def _release(model: Any, device: str) -> None:
    """Drop the model and give GPU memory back now rather than at the next GC."""
    del model
    gc.collect()
    torch = _torch()
    if device == "cuda":
        torch.cuda.empty_cache()
    elif device == "mps":
        torch.mps.empty_cache()


class TransformersEmbedder(LocalEmbedder):
    """Qwen3 (last-token) or sentence-transformers (mean/CLS) embeddings via torch."""

    def __init__(self, resolved: ResolvedModel, config: EmbedderConfig) -> None:
        path = resolved.hf_folder("transformers")
        settings = model_config(path)
        self.family = "qwen3" if settings.get("model_type") == "qwen3" else "bert"
        self.pooling = declared_pooling(path) or ("last" if self.family == "qwen3" else "mean")
        self.device = pick_device(config.device)
        self._tokenizer = HFTokenizer.from_folder(path)
        self.max_length = self._max_length(path, settings, config.max_length)
        native = int(settings["hidden_size"])
        self.batch_tokens = config.batch_tokens or default_batch_tokens(self.device, native)
        entry = resolved.entry
        min_dim = entry.min_dim if entry else (32 if self.family == "qwen3" else native)
        min_dim = min(min_dim, native)
        self.dim = check_dim(config.dim, min_dim, native)
        self.info = ModelInfo(
            model_id=resolved.model_id,
            revision=resolved.revision,
            family=self.family,
            pooling=self.pooling,
            min_dim=min_dim,
            max_dim=native,
            uses_instruction=self.family == "qwen3",
            backend="transformers",
        )
        self._pad_id = (
            int(settings.get("pad_token_id") or 0) if self.family == "bert" else QWEN3_EOS_ID
        )
        self.use_prefixes(entry)
        dtype = pick_dtype(config.dtype, self.device, resolved.model_id)
        self.dtype = str(dtype).removeprefix("torch.")
        self._model = _load("AutoModel", path, self.device, dtype)

    def _max_length(self, path: Path, settings: dict[str, Any], requested: int) -> int:
        """The requested length, capped by what the model can position-encode or was tuned on."""
        limits = [requested, int(settings.get("max_position_embeddings") or requested)]
        if (tuned := sbert_max_length(path)) is not None:
            limits.append(tuned)
        return min(limits)

    def encode_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Model input ids: Qwen3 ends in exactly one EOS; BERT keeps [CLS] ... [SEP]."""
        if self.family == "qwen3":
            raw = self._tokenizer.encode_batch(texts, special=False)
            return [with_single_eos(ids, QWEN3_EOS_ID, self.max_length) for ids in raw]
        return super().encode_ids(texts)

    def embed_query(self, text: str, instruction: str | None = None) -> Vector:
        """Embed a query; Qwen3 gets ``Instruct: ...\\nQuery:`` (default task when None)."""
        if self.info.uses_instruction:
            query = format_query(instruction, text)
        else:
            query = self.query_prefix + text  # E5's "query: "; nothing for other BERTs
        vectors: Vector = self._embed([query])[0]
        return vectors

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        """Raw pooled vectors (float32, not normalised) for one padded batch."""
        torch = _torch()
        left = self.pooling == "last"  # causal models pool the last slot; BERT needs right pads
        ids, mask = pad(batch, self._pad_id, left=left)
        input_ids = torch.from_numpy(ids).to(self.device)
        attention = torch.from_numpy(mask).to(self.device)
        with torch.inference_mode():  # per thread: must be entered in the calling thread
            hidden = self._model(input_ids=input_ids, attention_mask=attention).last_hidden_state
            hidden = hidden.float()
            if self.pooling == "last":
                pooled = hidden[:, -1]
            elif self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                weights = attention.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            result: np.ndarray = pooled.cpu().numpy()
        return result

    def close(self) -> None:
        """Free the weights; the embedder is unusable afterwards."""
        model, self._model = self._model, None
        _release(model, self.device)


class TransformersReranker:
    """Qwen3-Reranker: P(yes) of the official judge prompt, batched with left padding."""

    def __init__(self, resolved: ResolvedModel, config: RerankerConfig) -> None:
        path = resolved.hf_folder("transformers")
        settings = model_config(path)
        self.device = pick_device(config.device)
        self._tokenizer = HFTokenizer.from_folder(path)
        self.max_length = config.max_length
        self.batch_size = max(1, config.batch_size or (32 if self.device == "cuda" else 8))
        self._prefix = self._tokenizer.encode(RERANK_PREFIX)
        self._suffix = self._tokenizer.encode(RERANK_SUFFIX)
        yes, no = self._tokenizer.token_id("yes"), self._tokenizer.token_id("no")
        if yes is None or no is None:
            raise ModelLoadError(f"{path} has no 'yes'/'no' tokens: not a Qwen3 reranker")
        self._yes_no = (yes, no)
        hidden = int(settings.get("hidden_size", 0))
        self.info = ModelInfo(
            model_id=resolved.model_id,
            revision=resolved.revision,
            family=str(settings.get("model_type", "qwen3")),
            pooling="rank",
            min_dim=hidden,
            max_dim=hidden,
            uses_instruction=True,
            backend="transformers",
        )
        self._model = _load(
            "AutoModelForCausalLM",
            path,
            self.device,
            pick_dtype(config.dtype, self.device, resolved.model_id),
        )

    def encode_pair(self, query: str, doc: str, instruction: str | None = None) -> list[int]:
        """Prompt ids for one pair; only the body's tail (the document's end) is ever cut."""
        body = rerank_body(instruction, query, doc)
        budget = max(self.max_length - len(self._prefix) - len(self._suffix), 0)
        return [*self._prefix, *self._tokenizer.encode(body)[:budget], *self._suffix]

    def rank(self, query: str, docs: Sequence[str], instruction: str | None = None) -> Vector:
        """P(yes) per document, in input order."""
        if not docs:
            return np.zeros(0, dtype=np.float32)
        ids = [self.encode_pair(query, doc, instruction) for doc in docs]
        scores = np.zeros(len(ids), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # little padding per batch
        for start in range(0, len(order), self.batch_size):
            part = order[start : start + self.batch_size]
            scores[part] = self._forward([ids[i] for i in part])
        return scores

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        torch = _torch()
        ids, mask = pad(batch, QWEN3_EOS_ID, left=True)
        yes, no = self._yes_no
        with torch.inference_mode():
            out = self._model(
                input_ids=torch.from_numpy(ids).to(self.device),
                attention_mask=torch.from_numpy(mask).to(self.device),
                logits_to_keep=1,  # only the last position: the full vocab x length is huge
            )
            pair = out.logits[:, -1, [no, yes]].float()
            result: np.ndarray = torch.softmax(pair, dim=-1)[:, 1].cpu().numpy()
        return result

    def close(self) -> None:
        """Free the weights."""
        model, self._model = self._model, None
        _release(model, self.device)


def load_embedder(resolved: ResolvedModel, config: EmbedderConfig) -> TransformersEmbedder:
    """Backend entry point used by ``engine.factory``."""
    _torch()
    return TransformersEmbedder(resolved, config)


def load_reranker(resolved: ResolvedModel, config: RerankerConfig) -> TransformersReranker:
    """Backend entry point used by ``engine.factory``."""
    _torch()
    return TransformersReranker(resolved, config)
