"""``quarry search`` and ``quarry similar`` as a script runs them: the installed command in a
subprocess, over the real document index (``tests/fixtures/documents.py``) and the real
starter model. One object per file with its passages, the old flat list, the cut-off and
``--all``, the query language and natural dates, more like this without a model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import settings

pytestmark = pytest.mark.slow

TOP_FIELDS = {"path", "score", "snippet", "page", "start", "end", "heading", "scores", "passages"}


@pytest.fixture
def quarry(quarry_home: Path, document_index: Path, starter_model_dir: Path) -> Any:
    settings.save(
        settings.Settings(
            embed_model=str(starter_model_dir), rerank_enabled=False, first_run_done=True
        )
    )
    exe = shutil.which("quarry", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "app"]

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cmd, *argv, "--db", str(document_index)],
            capture_output=True, text=True, timeout=240, env=dict(os.environ),
        )  # fmt: skip

    return run


def _json(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert done.returncode == 0, done.stderr
    out: list[dict[str, Any]] = json.loads(done.stdout)
    return out


def test_search_prints_one_object_per_file_and_the_flat_list_on_request(quarry: Any) -> None:
    files = _json(quarry("search", "special method names called by operators", "--json"))
    paths = [f["path"] for f in files]
    assert paths and len(paths) == len(set(paths))
    special = next(f for f in files if f["path"].endswith("specialnames.txt"))
    assert set(special) >= TOP_FIELDS and len(special["passages"]) > 1
    assert special["snippet"] == special["passages"][0]["snippet"]
    assert {"fused", "vector", "keyword"} <= set(special["scores"])
    chunks = _json(quarry("search", "special method names", "--json", "--passages", "--k", "15"))
    assert sum(c["path"].endswith("specialnames.txt") for c in chunks) > 1  # chunks, not files


def test_weaker_matches_are_left_out_unless_all_is_given(quarry: Any) -> None:
    plain = quarry("search", "glacier ice melting", "--json")
    assert "packing-list.md" not in plain.stdout
    assert "weaker match(es) not shown (--all lists them)" in plain.stderr
    every = _json(quarry("search", "glacier ice melting", "--json", "--all"))
    weak = [f for f in every if f["path"].endswith("packing-list.md")]
    assert weak and weak[0]["weak"] is True


def test_query_language_and_natural_dates(quarry: Any) -> None:
    pdf = _json(quarry("search", "lighthouse", "type:pdf", "--json"))
    assert [Path(f["path"]).name for f in pdf] == ["lighthouse-log.pdf"]
    assert _json(quarry("search", "lighthouse", "--before", "yesterday", "--json")) == []
    today = _json(quarry("search", "lighthouse after:today", "--json"))
    assert [Path(f["path"]).name for f in today][:1] == ["lighthouse-log.pdf"]
    odd = _json(quarry("search", "lighthouse type: after:someday", "--json", "--all"))
    assert odd  # malformed operators are plain words, never an error


def test_similar_lists_related_files_never_itself_and_explains_bad_input(
    quarry: Any, document_index: Path
) -> None:
    target = str(document_index.parent / "docs" / "try.txt")
    files = _json(quarry("similar", target, "--json", "--k", "5"))
    names = [Path(f["path"]).name for f in files]
    assert "try.txt" not in names and names[0] in ("exceptions.txt", "raise.txt", "with.txt")
    missing = quarry("similar", "/nowhere/x.txt")
    assert missing.returncode == 1 and "not in the index" in missing.stderr
