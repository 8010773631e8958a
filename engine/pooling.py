"""Backend-independent pieces of embedding: pooling detection, MRL, length-sorted batches.

Every backend shares these so that the same weights give the same vectors (and the same
dimension checks) whichever library runs them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.errors import DimensionError, ModelLoadError

_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_lasttoken": "last",
    "pooling_mode_max_tokens": "max",
}


def model_config(folder: Path) -> dict[str, Any]:
    """A HF folder's ``config.json``; unreadable or malformed is a ModelLoadError."""
    try:
        data: dict[str, Any] = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Cannot read {folder / 'config.json'}: {exc}") from exc
    return data


def declared_pooling(folder: Path) -> str | None:
    """The pooling a sentence-transformers folder declares (``1_Pooling/config.json``).

    Returns None for plain HF folders, whose pooling the caller infers from the family.
    """
    modules = folder / "modules.json"
    if not modules.exists():
        return None
    for module in json.loads(modules.read_text(encoding="utf-8")):
        if module.get("type", "").endswith("Pooling"):
            config = folder / module.get("path", "") / "config.json"
            settings = json.loads(config.read_text(encoding="utf-8"))
            for key, name in _POOLING_KEYS.items():
                if settings.get(key):
                    return name
    return None


def sbert_max_length(folder: Path) -> int | None:
    """``max_seq_length`` from ``sentence_bert_config.json``: the length the model was tuned on."""
    config = folder / "sentence_bert_config.json"
    if not config.exists():
        return None
    value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
    return int(value) if value else None


def check_dim(dim: int | None, min_dim: int, max_dim: int) -> int:
    """The output dimension to use; outside [min_dim, max_dim] is a DimensionError."""
    if dim is None or dim == 0:
        return max_dim
    if not min_dim <= dim <= max_dim:
        if min_dim == max_dim:
            detail = f"this model only supports {max_dim} (it was not trained for shorter vectors)"
        else:
            detail = f"this model supports {min_dim}..{max_dim}"
        raise DimensionError(f"Embedding dimension {dim} is not possible: {detail}.")
    return dim


def truncate_normalize(vectors: NDArray[np.floating], dim: int) -> NDArray[np.float32]:
    """Matryoshka: keep the first ``dim`` components of the raw vectors, then L2-normalise.

    Normalising after truncation (not before) is what the Qwen3 card prescribes; a
    pre-normalised vector cut short would no longer have unit length.
    """
    cut = np.asarray(vectors, dtype=np.float32)[:, :dim]
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return np.ascontiguousarray(cut / np.maximum(norms, 1e-12), dtype=np.float32)


def length_batches(lengths: Sequence[int], batch_tokens: int) -> Iterator[list[int]]:
    """Indices grouped longest first, each group's padded size within ``batch_tokens``.

    Sorting by length wastes almost no compute on padding; a text longer than the budget
    still gets a batch of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batch: list[int] = []
    for index in order:
        longest = lengths[batch[0]] if batch else lengths[index]
        if batch and longest * (len(batch) + 1) > batch_tokens:
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def embed_batched(
    ids: Sequence[list[int]],
    forward: Callable[[list[list[int]]], NDArray[np.floating]],
    batch_tokens: int,
    width: int,
    dim: int,
) -> NDArray[np.float32]:
    """Run ``forward`` (raw pooled vectors of ``width``) over length-sorted batches, then MRL-cut.

    The rows come back in the order of ``ids``, truncated to ``dim`` and L2-normalised.
    """
    if not ids:
        return np.zeros((0, dim), dtype=np.float32)
    out = np.zeros((len(ids), width), dtype=np.float32)
    for batch in length_batches([len(x) for x in ids], batch_tokens):
        out[batch] = forward([ids[i] for i in batch])
    return truncate_normalize(out, dim)


def cut_keeping_last(ids: list[int], max_length: int) -> list[int]:
    """``ids`` cut to ``max_length`` while keeping the final special token (BERT's [SEP])."""
    return ids if len(ids) <= max_length else [*ids[: max_length - 1], ids[-1]]


def with_single_eos(ids: list[int], eos_id: int, max_length: int) -> list[int]:
    """``ids`` cut to fit, ending in exactly one EOS (Qwen3 pools the EOS position).

    Trailing EOS ids (from a post-processor, or a text ending in the literal token) are
    dropped first, so the result never carries two.
    """
    end = len(ids)
    while end and ids[end - 1] == eos_id:
        end -= 1
    return [*ids[: min(end, max(max_length - 1, 0))], eos_id]


def pad(
    batch: Sequence[list[int]], pad_id: int, *, left: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Input ids and attention mask as arrays, padded on the left (causal) or right (BERT)."""
    width = max(len(ids) for ids in batch)
    input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, ids in enumerate(batch):
        span = slice(width - len(ids), width) if left else slice(0, len(ids))
        input_ids[row, span] = ids
        mask[row, span] = 1
    return input_ids, mask
