"""Settings as loaded from a hand-edited file: a bad value falls back with one warning."""

from __future__ import annotations

import json
from pathlib import Path

from app import paths
from tests.fixtures.cli import quarry


def _write_settings(values: dict[str, object]) -> Path:
    target = paths.settings_path()
    target.write_text(json.dumps(values), encoding="utf-8")
    return target


def _indexed(tmp_path: Path, starter_model_dir: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The lighthouse keeper logs every passing ship.")
    _write_settings({"embed_model": str(starter_model_dir)})
    done = quarry("index", str(docs))
    assert done.returncode == 0, done.stderr
    return docs


def test_dimension_the_model_cannot_give_keeps_search_working(
    tmp_path: Path, starter_model_dir: Path
) -> None:
    _indexed(tmp_path, starter_model_dir)
    _write_settings({"embed_model": str(starter_model_dir), "dimension": 256})
    found = quarry("search", "lighthouse", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["path"].endswith("a.txt")
    assert "256" in found.stderr and "Traceback" not in found.stderr
    again = quarry("index", str(tmp_path / "docs"))
    assert again.returncode == 0, again.stderr


def test_bad_values_fall_back_to_defaults_with_one_warning_each(
    tmp_path: Path, starter_model_dir: Path
) -> None:
    _indexed(tmp_path, starter_model_dir)
    bad = {
        "embed_model": str(starter_model_dir),
        "dimension": -5,
        "embed_backend": "bogus",
        "chunk_overlap": 9999,
        "query_preset": "no-such-preset",
        "max_file_mb": "big",
    }
    _write_settings(bad)
    found = quarry("search", "lighthouse", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["path"].endswith("a.txt")
    assert "Traceback" not in found.stderr
    for key in bad.keys() - {"embed_model"}:
        assert found.stderr.count(f"ignoring {key} ") == 1, (key, found.stderr)
