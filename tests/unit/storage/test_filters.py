"""Filters inside both searches: folder names, path text, required phrases, excluded words."""

from __future__ import annotations

from storage.models import SearchFilters
from storage.store import Store
from tests.fixtures.store import unit, write


def _paths(
    store: Store, filters: SearchFilters, query: str = "report"
) -> tuple[list[str], list[str]]:
    """(keyword paths, vector paths) under ``filters``."""
    out = []
    for hits in (
        store.keyword_search(query, 10, filters),
        store.vector_search(unit(0), 10, filters),
    ):
        chunks = store.chunks_by_id(h.chunk_id for h in hits)
        out.append(sorted({chunks[h.chunk_id].path for h in hits}))
    return out[0], out[1]


def _corpus(store: Store) -> None:
    write(store, "/home/me/Projects/a.txt", ["annual report on budget planning"])
    write(store, "/home/me/Projects/b.txt", ["report about the java migration"])
    write(store, "/home/me/Notes/projects-old.txt", ["old report planning budget"])
    write(store, "/home/me/Notes/Übersicht.txt", ["Übersicht report", "budget planning again"])


def test_folder_names_match_whole_folders_anywhere(store: Store) -> None:
    _corpus(store)
    keyword, vector = _paths(store, SearchFilters(folder_names=("projects",)))
    assert keyword == vector == ["/home/me/Projects/a.txt", "/home/me/Projects/b.txt"]


def test_path_parts_match_any_text_of_the_path(store: Store) -> None:
    _corpus(store)
    keyword, vector = _paths(store, SearchFilters(path_parts=("ÜBERSICHT",)))
    assert keyword == vector == ["/home/me/Notes/Übersicht.txt"]


def test_phrases_are_required_in_the_chunk(store: Store) -> None:
    _corpus(store)
    keyword, vector = _paths(store, SearchFilters(phrases=("budget planning",)))
    assert keyword == vector == ["/home/me/Notes/Übersicht.txt", "/home/me/Projects/a.txt"]


def test_excluded_words_drop_the_whole_file(store: Store) -> None:
    _corpus(store)
    keyword, vector = _paths(store, SearchFilters(excluded=("java", "übersicht")))
    assert "/home/me/Projects/b.txt" not in keyword and "/home/me/Projects/b.txt" not in vector
    assert "/home/me/Notes/Übersicht.txt" not in keyword + vector  # excluded by its other chunk
    assert "/home/me/Projects/a.txt" in keyword and "/home/me/Projects/a.txt" in vector


def test_cjk_phrases_and_exclusions_use_the_bigrams(store: Store) -> None:
    write(store, "/d/fuji.txt", ["富士山に登りました"])
    write(store, "/d/other.txt", ["富士の山は高い"])
    keyword, vector = _paths(store, SearchFilters(phrases=("富士山",)), "富士")
    assert keyword == vector == ["/d/fuji.txt"]
    keyword, _ = _paths(store, SearchFilters(excluded=("富士山",)), "富士")
    assert keyword == ["/d/other.txt"]
