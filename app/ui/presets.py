"""Instruction presets for the UI: the engine's defaults plus the user's own, read defensively.

``engine.instructions`` is built by the engine colleague; until it lands (or if it fails to
import) the window still offers the Qwen3 default task, so search never loses its preset.
"""

from __future__ import annotations

import importlib
import logging

from app.settings import Settings

log = logging.getLogger(__name__)

FALLBACK_PRESETS: dict[str, str] = {
    "web_search": "Given a web search query, retrieve relevant passages that answer the query",
}


def default_presets() -> dict[str, str]:
    """The engine's built-in presets (name -> task), or a one-entry fallback."""
    try:
        module = importlib.import_module("engine.instructions")
    except Exception as exc:  # not built yet, or broken: the UI must still open
        log.debug("engine.instructions unavailable: %s", exc)
        return dict(FALLBACK_PRESETS)
    presets = getattr(module, "PRESETS", None)
    if not isinstance(presets, dict) or not presets:
        return dict(FALLBACK_PRESETS)
    return {str(k): str(v) for k, v in presets.items()}


def all_presets(settings: Settings) -> dict[str, str]:
    """Built-in presets overlaid with the user's (a user entry may redefine a built-in)."""
    merged = default_presets()
    merged.update(settings.custom_presets)
    return merged
