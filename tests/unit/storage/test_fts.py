"""Keyword search: hostile input never raises; Latin with accents; CJK of 2 and 3+ chars."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.store import Store
from tests.unit.storage.conftest import write

HOSTILE = ["AND", "OR NOT", '"', '""', "*", "-foo", "(", ")", "a:b", "NEAR(a b)", "'", "^x", "{}"]


def test_hostile_fixed_inputs(store: Store) -> None:
    write(store, "/d/a.txt", ["foo AND bar", "naïve café"])
    for text in HOSTILE:
        store.keyword_search(text, 5)
    assert store.keyword_search("AND", 5)


@settings(
    max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(st.text(max_size=40) | st.lists(st.sampled_from([*HOSTILE, "foo", "中文"])).map(" ".join))
def test_any_text_is_safe(store: Store, text: str) -> None:
    store.keyword_search(text, 5)


def test_accents_and_case_fold(store: Store) -> None:
    write(store, "/d/a.txt", ["Le Café est naïf"])
    assert store.keyword_search("cafe NAIF", 5)


def test_cjk_two_and_three_char_queries(store: Store) -> None:
    write(store, "/d/zh.txt", ["我们今天学习机器学习的基础知识", "unrelated english text"])
    write(store, "/d/ja.txt", ["東京で日本語を勉強しています"])
    zh2 = store.keyword_search("机器", 5)
    zh4 = store.keyword_search("机器学习", 5)
    ja2 = store.keyword_search("東京", 5)
    ja3 = store.keyword_search("日本語", 5)
    texts = {
        h.chunk_id: store.chunks_by_id([h.chunk_id])[h.chunk_id].text for h in zh2 + zh4 + ja2 + ja3
    }
    assert [texts[h.chunk_id] for h in zh2] == ["我们今天学习机器学习的基础知识"]
    assert [texts[h.chunk_id] for h in zh4] == ["我们今天学习机器学习的基础知识"]
    assert [texts[h.chunk_id] for h in ja2] == ["東京で日本語を勉強しています"]
    assert [texts[h.chunk_id] for h in ja3] == ["東京で日本語を勉強しています"]
