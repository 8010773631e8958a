"""Driving a background index rebuild (new dimension) through the store's rebuild API.

The store builds the new vector index beside the active one; search keeps using the old
index until ``finish_rebuild`` swaps them in one transaction. Qt-free.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from app.settings import Settings
from app.ui.backend import Progress, ProgressCallback

log = logging.getLogger(__name__)
BATCH = 64


def embed_text(chunk: Any, heading_prefix: bool) -> str:
    """The text exactly as the pipeline embeds it (heading path prefix when enabled)."""
    if heading_prefix and chunk.heading:
        return f"{chunk.heading}\n\n{chunk.text}"
    return str(chunk.text)


def rebuild_index(
    settings: Settings, db_path: Path, on_progress: ProgressCallback, cancel: threading.Event
) -> None:
    """Embed every stored chunk with the new settings' model/dimension, then swap."""
    from app.context import make_embedder
    from app.indexer import make_fingerprint
    from app.pipeline import chunker_for
    from storage.errors import RebuildError
    from storage.store import Store

    embedder = make_embedder(settings)
    try:
        fingerprint = make_fingerprint(embedder, chunker_for(embedder, settings))
        with Store.open(db_path) as store:
            store.begin_rebuild(fingerprint)
            total = max(1, store.stats(problem_limit=0).chunks)
            done, started = 0, time.monotonic()
            while not cancel.is_set():
                batch = store.rebuild_missing(BATCH)
                if not batch:
                    try:
                        store.finish_rebuild()
                        break
                    except RebuildError:  # chunks written meanwhile: embed them too
                        continue
                texts = [embed_text(c, fingerprint.heading_prefix) for c in batch]
                store.add_rebuild_vectors(
                    [c.content_hash for c in batch], embedder.embed_documents(texts)
                )
                done += len(batch)
                rate = done / max(1e-6, time.monotonic() - started)
                eta = max(0, total - done) / rate if rate else None
                on_progress(Progress("rebuilding", done, max(done, total), done, 0.0, eta))
    finally:
        embedder.close()
    on_progress(Progress("idle"))
