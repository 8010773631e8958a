"""Instruction presets for the UI: the engine's built-in ones plus the user's own."""

from __future__ import annotations

from app.settings import Settings
from engine.instructions import PRESETS, merged_presets, preset_or_default, resolve_instruction


def default_presets() -> dict[str, str]:
    """The engine's built-in presets (name -> task)."""
    return dict(PRESETS)


def all_presets(settings: Settings) -> dict[str, str]:
    """Built-in presets overlaid with the user's (a user entry may redefine a built-in)."""
    return merged_presets(settings.custom_presets)


def saved_preset(settings: Settings) -> tuple[str, str | None]:
    """Settings' default preset, or the built-in default and the note saying why."""
    return preset_or_default(settings.query_preset, settings.custom_presets)


def task_for(settings: Settings, preset: str | None) -> str:
    """The task text of ``preset`` (None: Settings' default), falling back as the CLI does
    for a saved choice: a preset the list no longer has searches with the default."""
    user = settings.custom_presets
    name, _note = preset_or_default(preset or settings.query_preset, user)
    return resolve_instruction(None, name, user)
