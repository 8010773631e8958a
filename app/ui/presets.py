"""Instruction presets for the UI: the engine's built-in ones plus the user's own."""

from __future__ import annotations

from app.settings import Settings
from engine.instructions import PRESETS, merged_presets, preset_or_default


def default_presets() -> dict[str, str]:
    """The engine's built-in presets (name -> task)."""
    return dict(PRESETS)


def all_presets(settings: Settings) -> dict[str, str]:
    """Built-in presets overlaid with the user's (a user entry may redefine a built-in)."""
    return merged_presets(settings.custom_presets)


def saved_preset(settings: Settings) -> tuple[str, str | None]:
    """Settings' default preset, or the built-in default and the note saying why."""
    return preset_or_default(settings.query_preset, settings.custom_presets)
