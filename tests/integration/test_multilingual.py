"""Multilingual plumbing through the installed ``quarry`` command with the tiny Qwen3.

Indexing and the instruction advice run the installed command in a subprocess; the
searches call the same CLI entry point in-process, so torch is imported once, not per query.
The tiny model's weights are random, so these tests check what does not depend on them:
documents and file names in German, French, Chinese, Japanese and Korean (NFC and NFD
names) are indexed, searched in their own language through the hybrid path (the query
embedded by Qwen3 with its real tokenizer, keywords by stems and CJK bigrams), and come
back under their exact paths with the right words highlighted; a non-English instruction
gets the model card's advice on stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from app import settings
from app.cli import main

pytestmark = [pytest.mark.torch, pytest.mark.slow]

DOCS = {
    "Prozesse.md": "# Prozesse\n\nDas Programm beendet einen Prozess, indem es ihm ein Signal "
    "sendet. Ohne weitere Angaben wird das Signal TERM gesendet.",
    "fichiers-supprimés.txt": "Cette commande supprime les fichiers indiqués. Par défaut, elle "
    "ne supprime pas les répertoires.",
    "进程管理.txt": "终止进程需要发送信号。默认的终止信号是 TERM。",
    "日本語のメモ.txt": "東京で日本語を勉強しています。毎日漢字を練習します。",
    "한국어.txt": "한국어 문서를 검색합니다. 검색은 빠릅니다.",
    unicodedata.normalize("NFD", "Übersicht-Café.txt"): "Eine Übersicht über das Café am Markt.",
}


def _quarry(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("quarry", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "app"]
    env = {**os.environ, "QUARRY_HOME": str(home)}
    return subprocess.run([*cmd, *argv], capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, tiny_embedding_dir: Path) -> dict[str, Any]:
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("multilingual")
    home, folder, db = root / "home", root / "docs", root / "index.sqlite3"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return {"home": home, "folder": folder, "db": db, "model": tiny_embedding_dir}


def _search(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str], *argv: str
) -> list[dict[str, Any]]:
    """``quarry search`` in this process (the model loads in a second, not a new torch)."""
    assert main(["search", "--db", str(env["db"]), "--no-rerank", "--json", *argv]) == 0
    results: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return results


@pytest.fixture(scope="module")
def env(indexed: dict[str, Any]) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUARRY_HOME", str(indexed["home"]))
        conf = settings.Settings(
            embed_model=str(indexed["model"]), embed_backend="transformers", device="cpu",
            rerank_enabled=False, first_run_done=True,
        )  # fmt: skip
        settings.save(conf)
    argv = ("index", str(indexed["folder"]), "--db", str(indexed["db"]), "--json")
    done = _quarry(indexed["home"], *argv)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["ok"] == len(DOCS), summary
    return indexed


@pytest.mark.parametrize(
    ("query", "name", "marked"),
    [
        ("Prozesse beenden", "Prozesse.md", {"beendet", "Prozess"}),
        ("supprimer un fichier", "fichiers-supprimés.txt", {"supprime", "fichiers"}),
        ("进程", "进程管理.txt", {"进程"}),
        ("日本語", "日本語のメモ.txt", {"日本語"}),
        ("검색", "한국어.txt", {"검색"}),
    ],
)
def test_each_language_is_found_by_its_words_with_the_qwen3_query_path(
    env: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    name: str,
    marked: set[str],
) -> None:
    monkeypatch.setenv("QUARRY_HOME", str(env["home"]))
    results = _search(env, capsys, query)
    hit = next(r for r in results if Path(r["path"]).name == name)
    assert hit["scores"]["keyword"] is not None and hit["scores"]["vector"] is not None
    shown = {hit["snippet"][s:e] for s, e in hit["spans"]}
    assert marked <= shown


def test_file_names_in_any_script_and_normal_form_come_back_exactly(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUARRY_HOME", str(env["home"]))
    results = _search(env, capsys, "Übersicht Café")
    names = {Path(r["path"]).name for r in results}
    assert unicodedata.normalize("NFD", "Übersicht-Café.txt") in names
    assert {p.name for p in env["folder"].iterdir()} >= names


@pytest.mark.parametrize(
    ("lang", "names"),
    [
        ("de", {"Prozesse.md"}),
        ("zh", {"进程管理.txt"}),
        ("de,zh", {"Prozesse.md", "进程管理.txt"}),
        ("fr", set()),
    ],
)
def test_lang_keeps_passages_in_that_language(
    env: dict[str, Any], lang: str, names: set[str]
) -> None:
    """ "TERM" is in the German and the Chinese file; ``lang:`` keeps the one asked for."""
    base = ("search", "--db", str(env["db"]), "--no-rerank", "--json", "--mode", "keyword")
    every = _quarry(env["home"], *base, "TERM")
    assert {Path(r["path"]).name for r in json.loads(every.stdout)} >= {
        "Prozesse.md",
        "进程管理.txt",
    }
    out = _quarry(env["home"], *base, f"TERM lang:{lang}")
    assert out.returncode == 0, out.stderr
    assert {Path(r["path"]).name for r in json.loads(out.stdout)} == names


def test_a_non_english_instruction_gets_the_model_cards_advice(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installed command, in a subprocess: the advice reaches a real stderr."""
    base = ("search", "--db", str(env["db"]), "--no-rerank", "--json", "Prozess")
    german = "Finde die Dokumente, die diese Frage beantworten"
    out = _quarry(env["home"], *base, "--instruction", german)
    assert out.returncode == 0 and json.loads(out.stdout)
    assert "English" in out.stderr and "'de'" in out.stderr
    monkeypatch.setenv("QUARRY_HOME", str(env["home"]))
    assert main([*base, "--preset", "multilingual"]) == 0
    assert "English" not in capsys.readouterr().err
