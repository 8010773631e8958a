"""Argument checks shared by the MCP tools and the HTTP routes: shapes, ranges, paths."""

from __future__ import annotations

import pytest

from app.serve.arguments import (
    MAX_K,
    SEARCH_FIELDS,
    SIMILAR_FIELDS,
    Refusal,
    SearchRequest,
    SimilarRequest,
    bounded,
    checked_path,
    only,
)


@pytest.mark.parametrize(
    "path",
    [
        "relative/file.txt",
        "file.txt",
        "/docs/../etc/passwd",
        "/docs/a/..",
        "/docs/./a.txt",
        "/docs//a.txt",
        "/docs/a.txt/",
        "/docs/a\x00.txt",
        "",
        "   ",
        "/" + "x" * 5000,
    ],
)
def test_paths_that_could_mean_another_place_are_refused(path: str) -> None:
    with pytest.raises(Refusal) as refused:
        checked_path(path)
    assert refused.value.status == 400 and refused.value.message


def test_a_normal_absolute_path_passes_unchanged() -> None:
    assert checked_path("/home/me/Notes/a..b.md") == "/home/me/Notes/a..b.md"
    with pytest.raises(Refusal, match="must be a non-empty string"):
        checked_path(42)


def test_search_request_limits() -> None:
    assert SearchRequest("x", k=MAX_K).k == MAX_K
    for bad in ({"k": MAX_K + 1}, {"k": 0}, {"k": True}, {"k": "5"}):
        with pytest.raises(Refusal) as refused:
            SearchRequest("x", **bad)  # type: ignore[arg-type]
        assert "'k'" in refused.value.message
    with pytest.raises(Refusal, match="longer than"):
        SearchRequest("x" * 2001)
    with pytest.raises(Refusal, match="mode"):
        SearchRequest("x", mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(Refusal, match="date"):
        SearchRequest("x", after="the day the cat sang")
    with pytest.raises(Refusal, match="more than 32"):
        SearchRequest("x", folder=tuple(f"/f{i}" for i in range(33)))


def test_one_string_or_a_list_for_filters_and_their_cli_meaning() -> None:
    request = SearchRequest("x", type="PDF", folder=["~"])  # type: ignore[arg-type]
    assert request.type == ("PDF",) and request.extensions() == ("pdf",)
    assert request.folders()[0].startswith("/") and "~" not in request.folders()[0]


def test_only_refuses_unknown_and_missing_fields() -> None:
    assert only({"query": "x", "k": 3}, SEARCH_FIELDS, ("query",)) == {"query": "x", "k": 3}
    with pytest.raises(Refusal, match="unknown field 'kk'"):
        only({"query": "x", "kk": 3}, SEARCH_FIELDS, ("query",))
    with pytest.raises(Refusal, match="'query' is required"):
        only({}, SEARCH_FIELDS, ("query",))
    with pytest.raises(Refusal, match="JSON object"):
        only(["query"], SEARCH_FIELDS, ("query",))
    assert bounded("n", 3, 0, 5) == 3


def test_similar_request_checks_path_passage_k_and_filters() -> None:
    request = SimilarRequest("/docs/a.md", 2, type="PDF", after="2026-01-31")  # type: ignore[arg-type]
    filters = request.filters()
    assert filters.extensions == ("pdf",) and filters.modified_after is not None
    for path, code in [
        ("a.md", "bad_path"),
        ("/docs/../a.md", "bad_path"),
        (3, "invalid_argument"),
    ]:
        with pytest.raises(Refusal) as refused:
            SimilarRequest(path)  # type: ignore[arg-type]
        assert refused.value.code == code
    for bad in ({"k": 51}, {"k": 0}, {"passage": -1}, {"passage": 10**12}):
        with pytest.raises(Refusal) as refused:
            SimilarRequest("/docs/a.md", **bad)  # type: ignore[arg-type]
        assert refused.value.code == "limit"
    with pytest.raises(Refusal, match="date"):
        SimilarRequest("/docs/a.md", before="soon")
    assert set(SIMILAR_FIELDS) == {"path", "passage", "k", "folder", "type", "after", "before"}
