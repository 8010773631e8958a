"""A BERT encoder in pure numpy, so the starter model runs without torch.

The base install and the frozen app ship no torch, yet must embed out of the box with
all-MiniLM-L6-v2 (22M parameters: numpy's BLAS handles it at interactive speed). Weights
come straight from ``model.safetensors``; the maths mirrors transformers' ``BertModel``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from engine.backends.local import LocalEmbedder
from engine.config import EmbedderConfig
from engine.errors import ModelLoadError
from engine.pooling import (
    check_dim,
    declared_pooling,
    model_config,
    pad,
    sbert_max_length,
)
from engine.protocols import ModelInfo, Vector
from engine.threads import apply_blas_limit
from engine.tokenizer import HFTokenizer

if TYPE_CHECKING:
    from engine.resolve import ResolvedModel

Array = NDArray[np.float32]
NUMPY_BATCH_TOKENS = 2048


@dataclass(frozen=True)
class BertShape:
    """The few config.json numbers the forward pass needs."""

    layers: int
    heads: int
    eps: float
    max_positions: int
    pad_id: int


_SQRT_HALF = np.float32(np.sqrt(0.5))
# Abramowitz-Stegun 7.1.26 coefficients (max error 1.5e-7): numpy has no erf, scipy is no dep.
_AS_P = np.float32(0.3275911)
_AS_A = tuple(
    np.float32(c) for c in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
)


def _gelu(x: Array) -> Array:
    """BERT's exact (erf) GELU, not the tanh approximation, computed with few temporaries.

    With z = |x|/sqrt(2) and erf(z) = 1 - y, GELU is x - x*y/2 for x >= 0 and x*y/2 below.
    """
    z = np.abs(x)
    z *= _SQRT_HALF
    t = z * _AS_P
    t += 1.0
    np.reciprocal(t, out=t)
    y = t * _AS_A[0]
    for coef in _AS_A[1:]:
        y += coef
        y *= t
    z *= z
    np.negative(z, out=z)
    np.exp(z, out=z)
    y *= z  # y = 1 - erf(|x|/sqrt 2)
    y *= x
    y *= 0.5
    return np.where(x >= 0, x - y, y)


def _layer_norm(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    out = x - x.mean(-1, keepdims=True)
    var = np.mean(out * out, axis=-1, keepdims=True)
    var += eps
    np.sqrt(var, out=var)
    out /= var
    out *= weight
    out += bias
    return out


def _softmax(x: Array) -> Array:
    """Softmax over the last axis, in place: the score tensor is the biggest one we hold."""
    x -= x.max(-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(-1, keepdims=True)
    return x


class NumpyBert:
    """BertModel's forward pass (last hidden state) over safetensors weights."""

    def __init__(self, weights: dict[str, Array], shape: BertShape) -> None:
        self.w = {k.removeprefix("bert."): v for k, v in weights.items()}
        self.shape = shape
        # Pre-transposed, contiguous weight matrices so every linear layer is one plain GEMM.
        self.wt = {
            k.removesuffix(".weight"): np.ascontiguousarray(v.T)
            for k, v in self.w.items()
            if k.endswith(".weight") and v.ndim == 2 and "embeddings" not in k
        }
        for name in self.wt:  # the transposed copy replaces the original: one matrix in memory
            del self.w[f"{name}.weight"]

    def _linear(self, x: Array, name: str) -> Array:
        # One 2-D GEMM: numpy runs a stacked 3-D @ 2-D product as many small ones (2x slower).
        flat = x.reshape(-1, x.shape[-1]) @ self.wt[name]
        flat += self.w[f"{name}.bias"]
        return flat.reshape(*x.shape[:-1], flat.shape[-1])

    def _norm(self, x: Array, name: str) -> Array:
        return _layer_norm(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"], self.shape.eps)

    def __call__(self, ids: NDArray[np.int64], mask: NDArray[np.int64]) -> Array:
        """Hidden states (batch, length, hidden) for right-padded ``ids``."""
        length = ids.shape[1]
        x = (
            self.w["embeddings.word_embeddings.weight"][ids]
            + self.w["embeddings.position_embeddings.weight"][:length]
            + self.w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x.astype(np.float32), "embeddings.LayerNorm")
        # Padding keys get a large negative bias, as transformers' extended attention mask does.
        bias = ((1.0 - mask[:, None, None, :]) * np.float32(-1e9)).astype(np.float32)
        for i in range(self.shape.layers):
            x = self._layer(x, bias, f"encoder.layer.{i}")
        return x

    def _layer(self, x: Array, bias: Array, p: str) -> Array:
        batch, length, hidden = x.shape
        heads = self.shape.heads
        size = hidden // heads

        def split(t: Array) -> Array:
            # Contiguous heads let matmul hand each (length x size) block to BLAS.
            return np.ascontiguousarray(t.reshape(batch, length, heads, size).transpose(0, 2, 1, 3))

        q = split(self._linear(x, f"{p}.attention.self.query") * np.float32(size**-0.5))
        # K^T laid out contiguously: numpy's stacked matmul is ~3x slower on a transposed view.
        k_t = np.ascontiguousarray(
            self._linear(x, f"{p}.attention.self.key")
            .reshape(batch, length, heads, size)
            .transpose(0, 2, 3, 1)
        )
        v = split(self._linear(x, f"{p}.attention.self.value"))
        scores = q @ k_t
        scores += bias
        context = (_softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        x = self._norm(
            self._linear(context, f"{p}.attention.output.dense") + x,
            f"{p}.attention.output.LayerNorm",
        )
        inner = _gelu(self._linear(x, f"{p}.intermediate.dense"))
        return self._norm(self._linear(inner, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")


def _read_shape(path: Path) -> tuple[BertShape, dict[str, Any]]:
    config = model_config(path)
    if config.get("model_type") != "bert" or config.get("hidden_act", "gelu") != "gelu":
        raise ModelLoadError(f"{path} is not a BERT model; the numpy backend runs BERT only.")
    shape = BertShape(
        layers=int(config["num_hidden_layers"]),
        heads=int(config["num_attention_heads"]),
        eps=float(config.get("layer_norm_eps", 1e-12)),
        max_positions=int(config.get("max_position_embeddings", 512)),
        pad_id=int(config.get("pad_token_id") or 0),
    )
    return shape, config


class NumpyBertEmbedder(LocalEmbedder):
    """Sentence-transformers BERT embeddings (mean or CLS pooling), torch-free."""

    def __init__(self, resolved: ResolvedModel, config: EmbedderConfig) -> None:
        path = resolved.hf_folder("numpy", "BERT model")
        shape, settings = _read_shape(path)
        self._tokenizer = HFTokenizer.from_folder(path)
        self.max_length = min(
            config.max_length, shape.max_positions, sbert_max_length(path) or shape.max_positions
        )
        # Small batches keep the (batch, heads, len, len) scores cache-sized: measured 3x faster
        # at 2048 padded tokens than at 16384 for all-MiniLM-L6-v2 on a laptop-class CPU.
        self.batch_tokens = min(config.batch_tokens or NUMPY_BATCH_TOKENS, NUMPY_BATCH_TOKENS)
        self.pooling = declared_pooling(path) or "mean"
        native = int(settings["hidden_size"])
        # BERT sentence models are not Matryoshka-trained: only the native size is allowed.
        self.dim = check_dim(config.dim, native, native)
        self.info = ModelInfo(
            model_id=resolved.model_id,
            revision=resolved.revision,
            family="bert",
            pooling=self.pooling,
            min_dim=native,
            max_dim=native,
            uses_instruction=False,
            backend="numpy",
        )
        self.use_prefixes(resolved.entry)
        apply_blas_limit()  # polite, and far faster than a spinning pool on a busy CPU
        self._model = NumpyBert(self._load_weights(path), shape)

    @staticmethod
    def _load_weights(path: Path) -> dict[str, Array]:
        from safetensors.numpy import load_file

        try:
            raw = load_file(str(path / "model.safetensors"))
        except Exception as exc:  # missing or corrupt file
            raise ModelLoadError(f"Cannot read {path / 'model.safetensors'}: {exc}") from exc
        # The word table stays as stored: rows are cast when looked up, so a float16 table
        # (multilingual-e5-small's 250k x 384) takes half the memory of a float32 copy.
        return {
            k: v if k.endswith("word_embeddings.weight") else v.astype(np.float32)
            for k, v in raw.items()
            if v.dtype.kind == "f"
        }

    def embed_query(self, text: str, instruction: str | None = None) -> Vector:
        """The query with the model's query prefix (E5), else as is: BERT sentence models
        were trained without instructions."""
        vector: Vector = self._embed([self.query_prefix + text])[0]
        return vector

    def _forward(self, batch: list[list[int]]) -> Array:
        ids, mask = pad(batch, self._model.shape.pad_id, left=False)
        hidden = self._model(ids, mask)
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = mask[:, :, None].astype(np.float32)
        return ((hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)).astype(np.float32)

    def close(self) -> None:
        """Drop the weights."""
        self._model.w.clear()
        self._model.wt.clear()


def load_embedder(resolved: ResolvedModel, config: EmbedderConfig) -> NumpyBertEmbedder:
    """Backend entry point used by ``engine.factory``."""
    return NumpyBertEmbedder(resolved, config)


def load_reranker(resolved: ResolvedModel, config: object) -> None:
    """The numpy backend has no reranker; say so instead of failing obscurely."""
    raise ModelLoadError(
        "The numpy backend runs only the BERT starter embedding model, not rerankers."
    )
