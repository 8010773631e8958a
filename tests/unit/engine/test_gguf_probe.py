"""The GGUF crash probe: a native crash in a child falls back to safe settings, remembered."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from engine.backends.gguf_probe import MEMO_FILE, safe_runtime
from engine.backends.llama_native import Runtime
from engine.errors import ModelLoadError
from tests.unit.engine.probe_targets import always_crash, crash_with_extra_bufts

pytestmark = [pytest.mark.gguf, pytest.mark.slow]


@pytest.fixture(autouse=True)
def probing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARRY_GGUF_PROBE", "1")


def test_crash_falls_back_to_plain_kernels_and_is_remembered(
    tiny_embedding_gguf: Path, quarry_home: Path
) -> None:
    chosen, notice = safe_runtime(
        tiny_embedding_gguf, Runtime(threads=1), target=crash_with_extra_bufts
    )
    assert chosen.extra_bufts is False and chosen.threads == 1
    assert notice is not None and "crashed (signal 11)" in notice and "tiny-emb.gguf" in notice
    memo = quarry_home / "cache" / MEMO_FILE
    assert stat.S_IMODE(memo.stat().st_mode) == 0o600
    assert next(iter(json.loads(memo.read_text()).values()))["runtime"]["extra_bufts"] is False
    # Remembered: the next load starts at once, without running any child (this one would crash).
    again, notice_again = safe_runtime(tiny_embedding_gguf, Runtime(threads=1), target=always_crash)
    assert again == chosen and notice_again == notice


def test_model_that_always_crashes_is_a_clear_error(tiny_embedding_gguf: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"cannot run tiny-emb\.gguf.*crashed \(signal 11\)"):
        safe_runtime(tiny_embedding_gguf, Runtime(threads=1), target=always_crash)


def test_healthy_model_keeps_the_fast_settings(
    tiny_embedding_gguf: Path, quarry_home: Path
) -> None:
    """The real probe (a real decode in a real child) passes and the embedder says nothing."""
    pytest.importorskip("transformers")
    from engine.backends.llamacpp import LlamaCppEmbedder

    emb = LlamaCppEmbedder(tiny_embedding_gguf, max_length=64)
    try:
        assert emb.runtime.extra_bufts is True and emb.info.notice == ""
        assert emb.embed_documents(["fine"]).shape == (1, 64)
    finally:
        emb.close()
    assert (quarry_home / "cache" / MEMO_FILE).exists()


def test_the_app_tells_the_user_about_a_fallback(tiny_embedding_gguf: Path) -> None:
    """A fallback found earlier reaches the CLI/window through make_embedder's notice."""
    from app.loaders import make_embedder
    from app.settings import Settings

    safe_runtime(tiny_embedding_gguf, Runtime(threads=1), target=crash_with_extra_bufts)
    heard: list[str] = []
    settings = Settings(embed_model=str(tiny_embedding_gguf), embed_backend="llamacpp")
    embedder = make_embedder(settings, on_notice=heard.append)
    try:
        assert any("plain CPU kernels" in text for text in heard), heard
        assert embedder.info.notice in heard
    finally:
        embedder.close()
