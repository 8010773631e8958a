"""The sign-bit prefilter: Hamming/asymmetric stages against brute force, adaptive depth."""

from __future__ import annotations

import numpy as np
import pytest

from storage import prefilter
from storage.models import NewChunk
from storage.prefilter import BinaryIndex, Prefilter
from storage.store import Store
from storage.vectors import sign_bits
from tests.fixtures.store import DIM, FP


def _fill(store: Store, pts: np.ndarray) -> list[str]:
    hashes = [f"p{i:05d}" for i in range(len(pts))]  # write order = rowid order
    for f in range(0, len(pts), 500):
        part = hashes[f : f + 500]
        store.write_file(
            f"/p/{f}.txt",
            size=1,
            mtime=1.0,
            content_hash=str(f),
            chunks=[NewChunk(i, h, 0, 1, h) for i, h in enumerate(part)],
            vectors_by_hash=dict(zip(part, pts[f : f + 500], strict=True)),
            fingerprint=FP,
        )
    return hashes


def _unit_rows(n: int, seed: int) -> np.ndarray:
    pts = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return pts / np.linalg.norm(pts, axis=1, keepdims=True)


def _index(store: Store) -> BinaryIndex:
    index = BinaryIndex(int(store._meta("active_index") or 0), DIM)
    index.refresh(store.conn)
    return index


def test_stages_match_brute_force(store: Store) -> None:
    pts = _unit_rows(700, 1)
    _fill(store, pts)
    index = _index(store)
    q = _unit_rows(1, 2)[0]
    pre = Prefilter(index, q, None)
    brute = np.unpackbits((sign_bits(pts) ^ sign_bits(q)).view(np.uint8), axis=1).sum(axis=1)
    assert np.array_equal(pre.dist, brute)
    rows = np.arange(50)
    asym = index.asymmetric(pre.table, rows)
    assert np.allclose(asym, np.where(pts[:50] > 0, 1.0, -1.0) @ q, atol=1e-4)
    sel = pre.select(20, 160)
    assert len(sel.ids) == 20 and sel.ham_cut > sel.hamming.max()


def test_small_index_is_exact(store: Store) -> None:
    pts = _unit_rows(120, 3)
    hashes = _fill(store, pts)
    q = _unit_rows(1, 4)[0]
    got = prefilter.search(store.conn, _index(store), q, 10, None)
    best = np.argsort(-(pts @ q))[:10]
    assert [h for h, _ in got[:10]] == [hashes[i] for i in best]


@pytest.mark.parametrize("clustered", [True, False])
def test_depth_grows_only_when_unsure(
    store: Store, monkeypatch: pytest.MonkeyPatch, clustered: bool
) -> None:
    rng = np.random.default_rng(5)
    if clustered:
        centres = _unit_rows(40, 6)
        pts = centres[rng.integers(0, 40, 4000)] + 0.05 * _unit_rows(4000, 7)
        pts /= np.linalg.norm(pts, axis=1, keepdims=True)
        q = centres[0]
    else:
        pts, q = _unit_rows(4000, 8), _unit_rows(1, 9)[0]
    _fill(store, pts)
    counts: list[int] = []
    select = Prefilter.select

    def spy(self: Prefilter, count: int, wide: int) -> prefilter.Selection:
        counts.append(count)
        return select(self, count, wide)

    monkeypatch.setattr(Prefilter, "select", spy)
    prefilter.search(store.conn, _index(store), q, 10, None)
    assert (len(counts) == 1) is clustered  # random vectors need a deeper look
