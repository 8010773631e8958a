"""Snippet terms and spans: stopwords and 1-letter words stay unmarked, CJK still matches."""

from __future__ import annotations

from app.snippets import best_snippet, query_terms


def _marked(text: str, query: str) -> list[str]:
    snip = best_snippet(text, query)
    return [snip.text[s:e] for s, e in snip.spans]


def test_stopwords_and_single_letters_are_not_highlighted() -> None:
    assert query_terms("the history of a city") == ["history", "city"]
    text = "The history of a city is the story of its people."
    assert _marked(text, "the history of a city") == ["history", "city"]


def test_query_of_only_stopwords_still_marks_them() -> None:
    assert _marked("We saw The Who live.", "the who") == ["The", "Who"]
    assert query_terms("a i") == []


def test_cjk_keeps_substring_matching() -> None:
    assert query_terms("机器学习") == ["机器学习", "机器", "器学", "学习"]
    assert _marked("我的机器学习。", "的 学习") == ["的", "学习"]  # 1 CJK char is a word
