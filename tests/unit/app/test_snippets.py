"""Snippet terms and spans: stopwords and 1-letter words stay unmarked, CJK still matches."""

from __future__ import annotations

import pytest

from app.snippets import best_snippet, match_spans, query_terms


def _marked(text: str, query: str) -> list[str]:
    snip = best_snippet(text, query)
    return [snip.text[s:e] for s, e in snip.spans]


def test_stopwords_and_single_letters_are_not_highlighted() -> None:
    assert query_terms("the history of a city") == ["history", "city", "histori", "citi"]
    text = "The history of a city is the story of its people."
    assert _marked(text, "the history of a city") == ["history", "city"]


def test_query_of_only_stopwords_still_marks_them() -> None:
    assert _marked("We saw The Who live.", "the who") == ["The", "Who"]
    assert query_terms("a i") == []


def test_cjk_keeps_substring_matching() -> None:
    assert query_terms("机器学习") == ["机器", "器学", "学习"]
    assert _marked("我的机器学习。", "的 学习") == ["的", "学习"]  # 1 CJK char is a word


def test_cjk_highlights_follow_the_bigram_units() -> None:
    text = "我们今天学习机器学习的基础知识"
    snip = best_snippet(text, "机器学习")
    assert snip.spans == [(4, 6), (6, 10)]  # a lone 学习, then the whole word
    assert _marked("東京で日本語を勉強しています", "日本語 勉強") == ["日本語", "勉強"]
    assert _marked("終了するプロセス", "プロセスを終了") == ["終了", "プロセス"]


def test_kana_voicing_and_hangul_syllables_are_not_folded_away() -> None:
    assert _marked("かきくけこ", "がき") == []
    assert _marked("하구 한국", "한국") == ["한국"]
    assert _marked("ｶﾀｶﾅ", "カタ") == ["ｶﾀ"]  # half-width kana match their usual forms


def test_stems_mark_inflected_forms() -> None:
    text = "Das Programm beendet einen Prozess sofort."
    assert _marked(text, "Prozesse beenden") == ["beendet", "Prozess"]


@pytest.mark.timeout(20)
def test_one_word_blob_is_marked_in_linear_time() -> None:
    """A 200 kB word (minified file, base64) once took a search minutes: one pass now."""
    blob = "x" * 200_000
    assert match_spans(blob + " xx end", ["xxxxxxxx", "xx"]) == [(0, 200_000), (200_001, 200_003)]
    assert match_spans("ab" * 100_000, ["ba"]) == []  # never at a word start
