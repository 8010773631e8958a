"""The window's side of a background rebuild: ``app.rebuild`` reported as status-bar progress.

The rebuild itself (embedding, resume, atomic swap) lives in the Qt-free ``app.rebuild``;
a running pipeline's writer does it (``Pipeline.rebuild``), else ``rebuild_index`` here.
"""

from __future__ import annotations

import threading
from pathlib import Path

from app.phases import Progress
from app.rebuild import RebuildCallback, RebuildProgress
from app.settings import Settings
from app.ui.protocols import ProgressCallback


def to_progress(progress: RebuildProgress) -> Progress:
    """``app.rebuild.RebuildProgress`` -> the status bar's "rebuilding" ``Progress``."""
    return Progress(
        "rebuilding",
        progress.done,
        progress.total,
        chunks=progress.done,
        tokens_per_s=progress.chunks_per_s,
        eta_s=progress.eta_s,
    )


def reporter(on_progress: ProgressCallback) -> RebuildCallback:
    """A rebuild callback that forwards converted snapshots to the window's callback."""
    return lambda progress: on_progress(to_progress(progress))


def rebuild_index(
    settings: Settings,
    db_path: Path,
    on_progress: ProgressCallback,
    cancel: threading.Event,
) -> None:
    """Rebuild at ``settings.dimension`` beside the active index, then swap (blocks).

    For when no indexing run is going: a pipeline at the new dimension is the one writer.
    """
    from app.pipeline import rebuild_database

    try:
        rebuild_database(
            db_path,
            settings,
            settings.dimension,
            on_progress=reporter(on_progress),
            cancelled=cancel.is_set,
        )
    finally:
        on_progress(Progress("idle"))
