"""Adapters from the real services (store, search, pipeline) to the window's protocols.

Built only here, so the rest of ``app/ui`` depends on protocols. Until a service exists
(or when it cannot start, e.g. no model), the window still opens and says why.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from app.settings import Settings
from app.ui.backend import (
    CancelCheck,
    Hit,
    IndexingBackend,
    Preview,
    SearchBackend,
    SearchOptions,
    UpdateCallback,
)
from app.ui.presets import all_presets

log = logging.getLogger(__name__)


class ServiceUnavailable(Exception):
    """Search cannot run yet (no index, no model); the message is shown as is."""


class UnavailableSearch:
    """Answers every search with a calm explanation instead of results."""

    def __init__(self, reason: str, settings: Settings) -> None:
        self.reason = reason
        self._presets = all_presets(settings)

    def search(self, query: str, options: SearchOptions) -> list[Hit]:
        raise ServiceUnavailable(self.reason)

    def rerank(
        self,
        query: str,
        hits: Sequence[Hit],
        options: SearchOptions,
        on_update: UpdateCallback,
        is_cancelled: CancelCheck,
    ) -> list[Hit]:
        return list(hits)

    def preview(self, hit: Hit) -> Preview:
        return Preview(text=hit.snippet, spans=hit.spans)

    def presets(self) -> dict[str, str]:
        return dict(self._presets)


def build_backends(settings: Settings) -> tuple[SearchBackend, IndexingBackend | None]:
    """The real search and indexing adapters for ``settings`` (cheap: models load lazily)."""
    return UnavailableSearch("The search service is not available yet.", settings), None
