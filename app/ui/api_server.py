"""The HTTP API inside the running window (setting ``api_server``, off by default).

The same server as ``quarry serve`` (``app.serve.web``), answering with the models the
window has loaded for its own searches: one model in memory, one index. It asks the
controller for the current search backend on every request, so a model change or an
index rebuilt at another dimension is followed without a restart. Each request still gets
its own ``SearchService`` (``app.serve.api``), so an assistant's search never cancels the
rerank the user is watching, nor the other way round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app import paths
from app.serve.api import Models, ModelSource, ReadApi
from app.serve.arguments import Refusal
from app.settings import Settings
from app.ui.adapters import RealSearch, ServiceUnavailable
from app.ui.protocols import WindowSearch

if TYPE_CHECKING:
    from app.serve.web import HttpServer

log = logging.getLogger(__name__)


def window_models(backend: Callable[[], WindowSearch]) -> ModelSource:
    """The models of the window's current search backend (loading them on first use)."""

    def models() -> Models:
        current = backend()
        if not isinstance(current, RealSearch):
            reason = getattr(current, "reason", "search is not available in the window yet")
            raise Refusal("search_unavailable", str(reason), 503)
        try:
            service = current.service()
        except ServiceUnavailable as exc:
            raise Refusal("search_unavailable", str(exc), 503) from None
        return service.embedder, service.reranker

    return models


@dataclass
class Running:
    """A started server and the API it answers with."""

    server: HttpServer
    api: ReadApi
    url: str
    port: int


class WindowApi:
    """Starts, stops and reconfigures the window's API server (never raises into Qt)."""

    def __init__(self, backend: Callable[[], WindowSearch]) -> None:
        self.backend = backend
        self.running: Running | None = None

    @property
    def url(self) -> str | None:
        """Where the API answers, None while it is off."""
        return self.running.url if self.running else None

    def apply(self, settings: Settings) -> str:
        """Make the server match ``settings``; returns what to tell the user.

        Raises OSError (port taken) or ImportError (the ``serve`` extra is missing) so the
        controller can show them; the server is then off.
        """
        current = self.running
        if current is not None and settings.api_server and current.port == settings.api_port:
            current.api.settings = settings  # new presets apply to the next request
            return f"API on {current.url}"
        self.stop()
        if not settings.api_server:
            return "API off" if current else ""
        self.running = self._start(settings)
        return f"API on {self.running.url} (token in {self._token_hint()})"

    def _db_path(self) -> Path:
        current = self.backend()
        return current.db_path if isinstance(current, RealSearch) else paths.database_path()

    def _start(self, settings: Settings) -> Running:
        from app.loaders import rerank_depth
        from app.serve.security import load_token
        from app.serve.web import HttpServer, build_app

        server = HttpServer("127.0.0.1", settings.api_port)
        api = ReadApi(
            self._db_path(),
            window_models(self.backend),
            settings,
            rerank_depth=rerank_depth(settings),
        )
        server.start(build_app(api, load_token()))
        return Running(server, api, server.url, settings.api_port)

    @staticmethod
    def _token_hint() -> str:
        from app.serve.security import token_hint

        return token_hint()

    def stop(self) -> None:
        """Stop serving (quitting, or the setting was turned off)."""
        running, self.running = self.running, None
        if running is None:
            return
        running.server.stop()
        running.api.close()
