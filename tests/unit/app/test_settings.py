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
        "device": "gpu9",
        "precision": "int3",
        "max_file_mb": "big",
    }
    _write_settings(bad)
    found = quarry("search", "lighthouse", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["path"].endswith("a.txt")
    assert "Traceback" not in found.stderr
    for key in bad.keys() - {"embed_model"}:
        assert found.stderr.count(f"ignoring {key} ") == 1, (key, found.stderr)


def test_a_backend_this_model_cannot_run_on_falls_back_to_automatic(
    tmp_path: Path, starter_model_dir: Path
) -> None:
    """A valid but unusable choice (llama.cpp for a non-GGUF folder, CUDA on this CPU box)
    still finds by meaning: the automatic choices are used, and the CLI says so."""
    _indexed(tmp_path, starter_model_dir)
    for bad in ({"embed_backend": "llamacpp"}, {"embed_backend": "transformers", "device": "cuda"}):
        _write_settings({"embed_model": str(starter_model_dir), **bad})
        found = quarry("search", "lighthouse", "--json")
        assert found.returncode == 0, found.stderr
        top = json.loads(found.stdout)[0]
        assert top["path"].endswith("a.txt") and "vector" in top["scores"], (bad, top)
        assert "Traceback" not in found.stderr
        if bad["embed_backend"] == "llamacpp":
            assert "Using the automatic backend, device and precision" in found.stderr


def test_a_saved_preset_no_longer_known_searches_with_the_default_and_says_so(
    tmp_path: Path, starter_model_dir: Path
) -> None:
    _indexed(tmp_path, starter_model_dir)
    _write_settings({"embed_model": str(starter_model_dir), "query_preset": "deleted-one"})
    found = quarry("search", "lighthouse", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["path"].endswith("a.txt")
    assert "unknown instruction preset 'deleted-one' in Settings" in found.stderr
    assert "searching with 'web_search' instead" in found.stderr


def test_an_unknown_preset_typed_on_the_command_line_is_an_error(
    tmp_path: Path, starter_model_dir: Path
) -> None:
    _indexed(tmp_path, starter_model_dir)
    found = quarry("search", "lighthouse", "--preset", "deleted-one")
    assert found.returncode == 1 and not found.stdout
    assert "unknown preset 'deleted-one'; known: code_search" in found.stderr
