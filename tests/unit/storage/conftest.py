"""Helpers shared by storage tests: a fresh Store in tmp_path and deterministic vectors."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from storage.models import Fingerprint, NewChunk
from storage.store import Store

DIM = 64
FP = Fingerprint("test/model", "rev1", DIM, "last", chunker_version="c1")


def unit(seed: int | str, dim: int = DIM) -> np.ndarray:
    """A deterministic unit vector per seed."""
    # crc32, not hash(): str hashes change per process (PYTHONHASHSEED), making tests flaky.
    rng = np.random.default_rng(zlib.crc32(seed.encode()) if isinstance(seed, str) else seed)
    v = rng.standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def write(store: Store, path: str, texts: list[str], fp: Fingerprint = FP) -> None:
    """Index ``texts`` as chunks of ``path``, embedding only what the store says is missing."""
    chunks = [NewChunk(i, t, i * 100, i * 100 + len(t), f"h:{t}") for i, t in enumerate(texts)]
    missing = store.missing_embeddings(c.content_hash for c in chunks)
    vecs = {h: unit(h, fp.dim) for h in missing}
    store.write_file(
        path,
        size=len("".join(texts)),
        mtime=1000.0,
        content_hash=f"file:{texts}",
        chunks=chunks,
        vectors_by_hash=vecs,
        fingerprint=fp,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "index.sqlite3"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    s = Store.open(db)
    yield s
    s.close()
