"""Models and API for the command-line servers (``quarry mcp``, ``quarry serve``), loaded once.

Loading prints nothing on stdout: for ``quarry mcp`` stdout is the protocol channel, so
notices go to stderr and anything a library prints while loading is sent there too.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import replace
from pathlib import Path

from app import paths, settings
from app.serve.api import ReadApi


def load_api(command: str, db: Path | None, rerank: bool | None, workers: int = 2) -> ReadApi:
    """The saved settings' models (never downloading), loaded now, behind a ``ReadApi``.

    ``rerank`` None follows the settings, as ``quarry search`` does. Raises EngineError
    when no model can be loaded.
    """
    from app.loaders import make_embedder, make_reranker, rerank_depth

    conf = replace(settings.load(), allow_download=False)
    if rerank is not None:
        conf = replace(conf, rerank_enabled=rerank)

    def tell(text: str) -> None:
        print(f"quarry {command}: note: {text}", file=sys.stderr)

    with contextlib.redirect_stdout(sys.stderr):
        embedder = make_embedder(conf, on_notice=tell)
        reranker = make_reranker(conf)
    models = (embedder, reranker)
    return ReadApi(
        db or paths.database_path(),
        lambda: models,
        conf,
        rerank_depth=rerank_depth(conf),
        workers=workers,
    )
