"""The CLI as a new user meets it, through the installed ``quarry`` command (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import paths
from tests.fixtures.cli import quarry

BROKEN_PDF = b"%PDF-1.4\n1 0 obj<<>>\nstream\nxx"


@pytest.fixture
def indexed(tmp_path: Path, starter_model_dir: Path) -> Path:
    """Two text files, one binary file (skipped) and one broken PDF (failed), indexed."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The lighthouse keeper logs every passing ship.")
    (docs / "b.txt").write_text("Knead the dough and let the bread rise.")
    (docs / "blob.txt").write_bytes(b"\x00\x01\x02binary\x00" * 200)
    (docs / "bad.pdf").write_bytes(BROKEN_PDF)
    paths.settings_path().write_text(json.dumps({"embed_model": str(starter_model_dir)}))
    first = quarry("index", str(docs), "--json")
    assert first.returncode == 1, first.stderr  # the broken PDF is a new failure
    return docs


def test_rerun_counts_every_file(indexed: Path) -> None:
    again = quarry("index", str(indexed), "--json")
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    counts = {k: summary[k] for k in ("ok", "unchanged", "skipped", "failed")}
    # bad.pdf is retried (it has tries left): it fails again, unchanged
    assert counts == {"ok": 0, "unchanged": 2, "skipped": 1, "failed": 1}, again.stdout
    text = quarry("index", str(indexed))
    assert "0 indexed, 2 unchanged, 1 skipped, 1 failed" in text.stdout, text.stdout


def test_status_prints_a_table(indexed: Path) -> None:
    shown = quarry("status")
    assert shown.returncode == 0, shown.stderr
    assert "{" not in shown.stdout, shown.stdout
    table = shown.stdout.split("\nfiles\n", 1)[1].splitlines()[:5]  # 4 statuses + total
    rows = dict(line.split() for line in table)
    assert rows["ok"] == "2" and rows["skipped"] == "1" and rows["failed"] == "1"
    assert rows["total"] == "4"


def test_search_dates_empty_results_rerank_and_preset(indexed: Path) -> None:
    recent = quarry("search", "lighthouse", "--after", "yesterday", "--json")
    assert recent.returncode == 0, recent.stderr
    assert json.loads(recent.stdout)[0]["path"].endswith("a.txt")
    future = quarry("search", "lighthouse", "--after", "2030-01-01")
    assert future.returncode == 0 and future.stdout.strip() == "no results"
    future_json = quarry("search", "lighthouse", "--after", "2030-01-01", "--json")
    assert json.loads(future_json.stdout) == []
    bad_date = quarry("search", "lighthouse", "--after", "someday")
    assert bad_date.returncode == 1 and "yesterday" in bad_date.stderr
    rerank = quarry("search", "lighthouse", "--rerank")
    assert rerank.returncode == 0 and "no reranker" in rerank.stderr
    preset = quarry("search", "lighthouse", "--preset", "nope")
    assert preset.returncode == 1
    assert preset.stderr.startswith("quarry search: unknown preset 'nope'"), preset.stderr


def test_model_from_settings_is_named_on_stderr(indexed: Path, starter_model_dir: Path) -> None:
    for argv in (("search", "lighthouse"), ("index", str(indexed))):
        done = quarry(*argv)
        assert f"using the embedding model {starter_model_dir}" in done.stderr, done.stderr
