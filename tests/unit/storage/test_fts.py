"""Keyword search: hostile input never raises; Latin with accents; CJK of 2 and 3+ chars."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.store import Store
from tests.fixtures.store import write

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


def _paths(store: Store, query: str) -> list[str]:
    hits = store.keyword_search(query, 10)
    chunks = store.chunks_by_id(h.chunk_id for h in hits)
    return list(dict.fromkeys(chunks[h.chunk_id].path for h in hits))


GERMAN_EXACT = "Mit diesem Befehl können Sie Prozesse beenden, die nicht mehr reagieren."
GERMAN_INFLECTED = "Das Programm beendet einen Prozess, indem es ihm das Signal TERM sendet."
FRENCH = "Cette commande supprime les fichiers indiqués sans demander de confirmation."
SPANISH = "Este comando borra los archivos temporales que ya no necesita el sistema."


def test_stemming_matches_inflected_forms_and_exact_words_rank_first(store: Store) -> None:
    write(store, "/d/inflected.txt", [GERMAN_INFLECTED])
    write(store, "/d/exact.txt", [GERMAN_EXACT])
    write(store, "/d/fr.txt", [FRENCH])
    write(store, "/d/es.txt", [SPANISH])
    write(store, "/d/en.txt", ["The weather was fine and the garden needed water."])
    assert _paths(store, "Prozesse beenden") == ["/d/exact.txt", "/d/inflected.txt"]
    assert _paths(store, "beende den Prozess")[0] == "/d/inflected.txt"
    assert _paths(store, "supprimer un fichier") == ["/d/fr.txt"]
    assert _paths(store, "borrar el archivo temporal") == ["/d/es.txt"]


def test_two_character_cjk_words_are_ranked_by_fts_not_like(store: Store) -> None:
    write(store, "/d/zh-twice.txt", ["进程可以被终止。终止进程需要发送信号。"])
    write(store, "/d/zh-once.txt", ["这个命令可以终止一个作业，也可以列出所有的信号名称和编号。"])
    write(store, "/d/ja.txt", ["東京で日本語を勉強しています。"])
    write(store, "/d/other.txt", ["今天天气很好"])
    # The LIKE fallback only scans chunks flagged as CJK: unflag them all, so whatever is
    # found below came through the bigram column's MATCH and BM25.
    store.conn.execute("UPDATE chunks SET cjk = 0")
    assert _paths(store, "终止") == ["/d/zh-twice.txt", "/d/zh-once.txt"]
    assert _paths(store, "進程 東京") == ["/d/ja.txt"]
    assert _paths(store, "日本語") == ["/d/ja.txt"]
    assert _paths(store, "终止进程")[0] == "/d/zh-twice.txt"
    assert _paths(store, "勉強") == ["/d/ja.txt"]


def test_one_character_cjk_query_still_uses_the_like_fallback(store: Store) -> None:
    write(store, "/d/zh.txt", ["我们今天学习"])
    assert _paths(store, "学") == ["/d/zh.txt"]


def test_mixed_language_file_gets_a_language_per_chunk_and_per_paragraph(store: Store) -> None:
    mixed = f"{GERMAN_INFLECTED} {GERMAN_EXACT}\n\n{FRENCH}"  # mostly German
    write(store, "/d/mixed.txt", [mixed, "東京で日本語を勉強しています。", SPANISH])
    assert dict(store.conn.execute("SELECT lang, n FROM chunk_langs")) == {
        "de": 1,
        "ja": 1,
        "es": 1,
    }
    assert _paths(store, "supprimer fichier") == ["/d/mixed.txt"]  # French part of a German chunk
    assert _paths(store, "beenden") == ["/d/mixed.txt"]


def test_deleting_chunks_keeps_the_keyword_tables_in_step(store: Store) -> None:
    write(store, "/d/a.txt", [GERMAN_INFLECTED, "東京で日本語"])
    write(store, "/d/a.txt", [FRENCH])  # a rewrite replaces the chunks
    assert _paths(store, "beenden") == []
    assert _paths(store, "東京") == []
    assert dict(store.conn.execute("SELECT lang, n FROM chunk_langs WHERE n > 0")) == {"fr": 1}
    store.delete_file("/d/a.txt")
    assert store.conn.execute("SELECT count(*) FROM chunks_lex").fetchone()[0] == 0
    assert store.integrity_check() == []


def test_integrity_check_notices_chunks_missing_from_the_keyword_columns(store: Store) -> None:
    write(store, "/d/a.txt", [GERMAN_INFLECTED, FRENCH])
    assert store.integrity_check() == []
    store.conn.execute("DELETE FROM chunks_lex WHERE rowid = (SELECT min(id) FROM chunks)")
    assert store.integrity_check() == ["chunks_lex: 1 chunk(s) without stems/bigrams"]


def _paths(store: Store, query: str, k: int = 5) -> list[str]:
    hits = store.keyword_search(query, k)
    chunks = store.chunks_by_id(h.chunk_id for h in hits)
    return list(dict.fromkeys(chunks[h.chunk_id].path for h in hits))


def test_file_name_title_and_heading_are_their_own_columns(store: Store) -> None:
    """A query naming the file finds it before pages that only mention the word."""
    write(store, "/d/notes.md", ["We used tar and tar again to pack tar files with tar."])
    write(store, "/d/tar.md", ["The tar command packs files into one archive with -c."])
    write(store, "/d/pandoc-guide.md", ["Convert between markup formats."])
    write(store, "/d/other.md", ["Mentions pandoc once."])
    assert _paths(store, "tar")[0] == "/d/tar.md"
    assert _paths(store, "pandoc")[0] == "/d/pandoc-guide.md"
    row = store.conn.execute("SELECT name FROM chunks_fields WHERE rowid = 2").fetchone()
    assert row[0].split()[:1] == ["tar"]


def test_title_and_heading_fields_are_searched_and_stemmed(store: Store) -> None:
    from storage.models import NewChunk
    from tests.fixtures.store import FP, unit

    chunk = NewChunk(
        0, "Body text about nothing in particular.", 0, 38, "h:t", heading="Installing Packages"
    )
    store.write_file(
        "/d/x.html", size=1, mtime=1.0, content_hash="x", chunks=[chunk],
        vectors_by_hash={"h:t": unit(1)}, fingerprint=FP, title="Release Checklist",
    )  # fmt: skip
    write(store, "/d/y.txt", ["Nothing relevant here."])
    assert _paths(store, "checklist") == ["/d/x.html"]
    assert _paths(store, "install package") == ["/d/x.html"]  # stems of the heading
    assert store.get_file("/d/x.html").title == "Release Checklist"  # type: ignore[union-attr]


def test_renaming_a_file_renames_its_name_column(store: Store) -> None:
    write(store, "/d/a.txt", ["some text"])
    store.move_file("/d/a.txt", "/d/quarterly-budget.txt")
    assert _paths(store, "budget") == ["/d/quarterly-budget.txt"]
    store.delete_file("/d/quarterly-budget.txt")
    assert store.conn.execute("SELECT count(*) FROM chunks_fields").fetchone()[0] == 0


def test_phrase_matches_outrank_scattered_terms(store: Store) -> None:
    write(store, "/d/scattered.txt", ["Leaks happen in pipes; memory of the plumber is short."])
    write(store, "/d/phrase.txt", ["Find memory leaks with valgrind; it reports each leak."])
    assert _paths(store, "memory leaks") == ["/d/phrase.txt", "/d/scattered.txt"]
    assert _paths(store, "leaks memory")[0] == "/d/phrase.txt"  # the scattered one is no better


def test_word_pairs_skip_pairs_of_stopwords() -> None:
    from storage.fts import word_pairs

    assert word_pairs("how to find memory leaks in my C program") == [
        "how to", "to find", "find memory", "memory leaks", "leaks in", "in my", "my c", "c program",
    ]  # fmt: skip
