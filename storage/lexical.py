"""Text analysis for keyword search: language, Snowball stems and CJK bigrams (no SQL here).

What the FTS tables hold beside the exact words (``storage.fts`` writes and queries them):

- **stems**: every word of a chunk stemmed by the Snowball stemmer (PyStemmer) of the
  language it is written in, so "Prozesse beenden" finds "beendet einen Prozess". The
  language is detected per segment (a paragraph, or a few lines), not per file, because
  notes and manuals mix languages; segments too short to judge take the chunk's majority.
  Detection uses ``py3langid`` (BSD, its model ships in the wheel, numpy only): measured on
  this corpus' lines it was within 0-4 points of fastText's lite model on English, German and
  French, the languages whose stems depend on it (see /work/notes/issue-13.md).
- **grams**: Chinese, Japanese and Korean runs as overlapping bigrams (Lucene's CJK
  analyzer), so a two-character word is an FTS term that BM25 can rank; a run of one
  character is kept as itself. CJK is recognised by script, not by the detector: the
  bigrams are the same for all three languages.

Text is NFKC-normalised first (full-width Latin and half-width katakana become their usual
forms) and lower-cased; FTS5's ``unicode61 remove_diacritics 2`` then folds accents of the
stems (but not Japanese voicing marks: が stays apart from か).
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

# Word characters of CJK scripts: ideographs, kana (with ー and 々), Hangul. Punctuation
# such as 、。「」・ is left out so it splits runs instead of making odd bigrams.
CJK_CHARS = (
    "\u3005-\u3007\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\u1100-\u11ff\u3131-\u318e"
    "\uac00-\ud7af\U00020000-\U0003134f"
)
CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
_KANA = re.compile("[\u3041-\u3096\u30a1-\u30fa\uff66-\uff9f]")
_HANGUL = re.compile("[\u1100-\u11ff\u3131-\u318e\uac00-\ud7af]")
_WORD = re.compile(r"[^\W_]+")
_LETTER = re.compile(r"[^\W\d_]")
_LINE = re.compile(r"\n\s*\n|\n")
SEGMENT_CHARS = 300  # lines are joined into segments of about this size (a paragraph)
MIN_LETTERS = 20  # fewer letters than this: too short to judge, take the chunk's language
MAX_QUERY_LANGS = 3
UNDETERMINED = "und"

# ISO 639-1 (as py3langid reports it) -> Snowball stemmer name (PyStemmer's algorithms).
STEMMERS = {
    "ar": "arabic",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "eo": "esperanto",
    "es": "spanish",
    "et": "estonian",
    "eu": "basque",
    "fa": "persian",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "nl": "dutch",
    "no": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}


# Function words a keyword query drops when it holds anything else. In a collection of
# several languages each language's function words are rare in the others, so BM25 gives
# them real weight: "wie viel ... ist noch frei" ranked grep's German manual first. English
# is Lucene's classic list, which keeps question words ("who" is a command, "how much" a
# need); the others keep to articles, pronouns, prepositions, conjunctions and auxiliaries.
STOPWORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": """a an and are as at be but by for if in into is it no not of on or such that
            the their then there these they this to was will with""",
        "fr": """à au aux avec ce ces comme d dans de des du elle en est et il ils je l la le
            les leur lui mais me même mes n ne nous on ou où par pas pour qu que qui s sa se
            ses son sont sur t ta te tes un une vos votre vous y""",
        "de": """als am an auch auf aus bei bis das dass dem den der des die dies diese dieser
            durch ein eine einem einen einer es für hat im in ist mit nach nicht noch oder
            samt seit sich sie sind so und um vom von vor wann was wenn wie wird zu zum zur""",
        "es": """a al como con de del el en es esta este la las lo los para por que se sin
            su sus un una uno y""",
    }.items()
}


@dataclass(frozen=True)
class Analysis:
    """What the keyword index stores for one chunk beside its exact words."""

    lang: str  # the chunk's main language (ISO 639-1), or "und"
    stems: str  # space-separated stems of every word in a stemmable language
    grams: str  # space-separated CJK bigrams (single characters for 1-char runs)


@dataclass(frozen=True)
class QueryForms:
    """A user query split into what each FTS column is searched with."""

    words: list[str]  # exact words (lower-cased), for the unicode61 table
    stems: list[str]  # the words' stems in every plausible language
    grams: list[str]  # bigrams of the CJK runs
    runs: list[str]  # the CJK runs themselves (phrases; 1-char runs use LIKE)
    langs: list[str]  # the languages the query was stemmed for


class Detector:
    """py3langid's naive Bayes model, loaded once per process on first use."""

    _lock = threading.Lock()
    _model: Any = None

    @classmethod
    def model(cls) -> Any:
        """The loaded identifier (normalised probabilities), or an ImportError."""
        with cls._lock:
            if cls._model is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                cls._model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            return cls._model


@functools.cache
def _stemmer(lang: str) -> Any:
    import Stemmer

    return Stemmer.Stemmer(STEMMERS[lang])


def ensure_ready() -> None:
    """Load the detector and a stemmer now, so a broken install fails here, loudly."""
    Detector.model()
    _stemmer("en")


def normalise(text: str) -> str:
    """NFKC and lower case: the form both the index and the queries are analysed in."""
    return unicodedata.normalize("NFKC", text).lower()


def script_language(text: str) -> str | None:
    """ja / ko / zh when CJK letters outnumber the others in ``text``; else None."""
    cjk = sum(len(run) for run in CJK_RUN.findall(text))
    if cjk == 0 or cjk * 2 < len(_LETTER.findall(text)):
        return None
    if _KANA.search(text):
        return "ja"
    return "ko" if _HANGUL.search(text) else "zh"


def detect(text: str) -> str | None:
    """The language of one segment, or None when it has too few letters to judge."""
    by_script = script_language(text)
    if by_script is not None:
        return by_script
    if len(_LETTER.findall(text)) < MIN_LETTERS:
        return None
    return str(Detector.model().classify(text)[0])


def segments(text: str) -> list[str]:
    """Paragraphs, or runs of lines joined up to about ``SEGMENT_CHARS`` characters."""
    out: list[str] = []
    current = ""
    for part in _LINE.split(text):
        if current and len(current) + len(part) > SEGMENT_CHARS:
            out.append(current)
            current = ""
        current = f"{current}\n{part}" if current else part
    if current.strip():
        out.append(current)
    return out


def _languages(parts: list[str]) -> tuple[str, list[str]]:
    """(main language, language per segment); undecided segments take the main one."""
    found = [detect(part) for part in parts]
    weight: dict[str, int] = {}
    for part, lang in zip(parts, found, strict=True):
        if lang is not None:
            weight[lang] = weight.get(lang, 0) + len(part)
    main = max(weight, key=lambda lang: weight[lang]) if weight else UNDETERMINED
    return main, [lang or main for lang in found]


def stem_words(words: list[str], lang: str) -> list[str]:
    """Snowball stems of ``words`` (already normalised); [] for a language without one."""
    if lang not in STEMMERS or not words:
        return []
    return list(_stemmer(lang).stemWords(words))


def bigrams(run: str) -> list[str]:
    """Overlapping pairs of a CJK run; a one-character run is its own unit."""
    if len(run) < 2:
        return [run] if run else []
    return [run[i : i + 2] for i in range(len(run) - 1)]


def words_of(text: str) -> list[str]:
    """Non-CJK words of already normalised text, in order."""
    return _WORD.findall(CJK_RUN.sub(" ", text))


@functools.lru_cache(maxsize=16)
def analyze(text: str) -> Analysis:
    """Stems and bigrams of a chunk (cached: the insert trigger asks for each part)."""
    norm = normalise(text)
    parts = segments(norm)
    main, langs = _languages(parts)
    stems: list[str] = []
    grams: list[str] = []
    for part, lang in zip(parts, langs, strict=True):
        stems += stem_words(words_of(part), lang)
        for run in CJK_RUN.findall(part):
            grams += bigrams(run)
    return Analysis(main, " ".join(stems), " ".join(grams))


#: Characters of a name, title or heading path that are indexed. Real ones are far shorter;
#: a hostile Markdown heading of 300,000 characters, repeated on each of its 1,457 chunks,
#: took 47 s to index uncapped (tests/hostile: pathological heading).
FIELD_CHARS = 1_000


def field_terms(text: str, lang: str) -> str:
    """What a short field (file name, title, heading path) is indexed as: its words, their
    stems in ``lang`` (the chunk's language: a heading is too short to detect its own) and
    its CJK bigrams, in one space-separated string for one FTS5 column."""
    norm = normalise(text[:FIELD_CHARS])
    words = words_of(norm)
    grams = [g for run in CJK_RUN.findall(norm) for g in bigrams(run)]
    return " ".join([*words, *stem_words(words, lang), *grams])


def name_of(path: str) -> str:
    """A file's name without folder and extension ("/d/Tar-Guide.md" -> "Tar-Guide")."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem else name


def plausible_languages(query: str, present: list[str]) -> list[str]:
    """Stemmable languages the query may be in, best first, among those in the index.

    Short queries are ambiguous ("sort lines" ranks Walloon first), so the detector's
    probabilities are renormalised over the stemmable languages the index holds (all
    stemmable ones for an empty index) and every language above 15 % is kept.
    """
    allowed = [lang for lang in present if lang in STEMMERS] or list(STEMMERS)
    ranked = [(lang, p) for lang, p in Detector.model().rank(query) if lang in allowed]
    total = sum(p for _, p in ranked) or 1.0
    picked = [lang for lang, p in ranked[:MAX_QUERY_LANGS] if p / total >= 0.15]
    return picked or allowed[:1]


def query_languages(query: str, present: list[str]) -> list[str]:
    """Languages ``query`` plausibly is in: ja/ko/zh by script, else ``plausible_languages``."""
    norm = normalise(query)
    by_script = script_language(norm)
    if by_script is not None:
        return [by_script]
    words = words_of(norm)
    return plausible_languages(" ".join(words), present) if words else []


def content_words(words: list[str], langs: list[str]) -> list[str]:
    """``words`` without the stopwords of ``langs``; all of them when nothing else is left."""
    stop = frozenset().union(*(STOPWORDS.get(lang, frozenset()) for lang in langs))
    return [w for w in words if w not in stop] or words


def query_forms(query: str, present: list[str] | None = None, limit: int = 32) -> QueryForms:
    """The exact words, stems, bigrams and CJK runs of a user query (de-duplicated).

    Stopwords of the query's plausible languages are left out of the words and stems
    unless the query has nothing else ("The Who").
    """
    norm = normalise(query)
    runs = list(dict.fromkeys(CJK_RUN.findall(norm)))[:limit]
    words = list(dict.fromkeys(words_of(norm)))[:limit]
    langs = plausible_languages(" ".join(words), present or []) if words else []
    words = content_words(words, [*langs, "en"])
    stems = [s for lang in langs for s in stem_words(words, lang)]
    grams = [g for run in runs if len(run) > 1 for g in bigrams(run)]
    return QueryForms(
        words=words,
        stems=list(dict.fromkeys(stems))[:limit],
        grams=list(dict.fromkeys(grams))[:limit],
        runs=runs,
        langs=langs,
    )


def is_cjk(text: str) -> bool:
    """True when ``text`` holds a CJK word character."""
    return CJK_RUN.search(text) is not None
