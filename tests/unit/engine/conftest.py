"""Engine test fixtures: model variants derived from the session's tiny models."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_embedding_noeos_dir(
    tiny_embedding_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The same tiny embedding weights with a tokenizer that appends no EOS.

    Community conversions and some GGUF exports ship such tokenizers; the engine must
    still feed the model exactly one trailing ``<|endoftext|>``.
    """
    from tests.fixtures.tiny_models import _save_tokenizer

    folder = tmp_path_factory.mktemp("tiny-emb-noeos")
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_embedding_dir / name, folder / name)
    _save_tokenizer(folder, append_eos=False)
    return folder
