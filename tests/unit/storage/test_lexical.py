"""Text analysis for the keyword index: per-segment languages, stems, CJK bigrams, queries."""

from __future__ import annotations

from storage import lexical

GERMAN = (
    "Der Befehl beendet einen Prozess, indem er ihm ein Signal sendet. Ohne weitere Angaben "
    "wird das Signal TERM gesendet, das die meisten Programme sauber beenden lässt."
)
FRENCH = (
    "Cette commande supprime les fichiers indiqués. Par défaut, elle ne supprime pas les "
    "répertoires, et elle demande une confirmation avant d'effacer un fichier protégé."
)


def test_mixed_language_text_is_stemmed_per_segment() -> None:
    found = lexical.analyze(f"{GERMAN}\n\n{FRENCH}")
    stems = found.stems.split()
    assert found.lang in ("de", "fr")
    assert "prozess" in stems and "beendet" not in stems  # German stemmer on German
    assert "supprim" in stems and "fichi" in stems  # French stemmer on French


def test_segments_too_short_to_judge_take_the_chunk_language() -> None:
    found = lexical.analyze(f"Prozesse\n{GERMAN}")
    assert found.lang == "de"
    assert found.stems.split()[0] == "prozess"


def test_cjk_is_recognised_by_script_and_split_into_bigrams() -> None:
    assert lexical.analyze("東京で日本語を勉強しています").lang == "ja"
    assert lexical.analyze("我们学习机器学习").lang == "zh"
    assert lexical.analyze("한국어 문서를 검색합니다").lang == "ko"
    found = lexical.analyze("東京で日本語、 学")
    assert found.grams.split() == ["東京", "京で", "で日", "日本", "本語", "学"]
    assert found.stems == ""


def test_full_width_latin_is_normalised() -> None:
    forms = lexical.query_forms("Ｌｉｎｕｘ")
    assert forms.words == ["linux"]


def test_query_is_stemmed_for_the_languages_it_plausibly_is_in() -> None:
    forms = lexical.query_forms("Prozesse beenden", ["de", "en", "fr"])
    assert forms.langs[0] == "de"
    assert {"prozess", "beend"} <= set(forms.stems)
    assert forms.words == ["prozesse", "beenden"]


def test_query_languages_are_limited_to_those_in_the_index() -> None:
    forms = lexical.query_forms("sort lines", ["en"])
    assert forms.langs == ["en"]
    assert forms.stems == ["sort", "line"]


def test_cjk_query_forms() -> None:
    forms = lexical.query_forms("机器学习 的")
    assert forms.runs == ["机器学习", "的"]
    assert forms.grams == ["机器", "器学", "学习"]
    assert forms.words == [] and forms.stems == []


def test_a_field_indexes_its_words_stems_and_bigrams_up_to_a_cap() -> None:
    terms = lexical.field_terms("Running Backups 富士山", "en").split()
    assert {"running", "run", "backups", "backup", "富士", "士山"} <= set(terms)
    hostile = "a" + " #" * 150_000 + " zebra"  # a heading that is no heading
    assert set(lexical.field_terms(hostile, "en").split()) == {"a"}  # the tail is not indexed
