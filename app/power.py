"""Is this machine running on battery? Phase 2 (embedding) can pause while it is.

``psutil.sensors_battery()`` answers on Linux, macOS and Windows. Where psutil is missing
(a trimmed bundle), Linux's ``/sys/class/power_supply`` is read directly: a mains adapter
that reports ``online`` wins; otherwise a battery whose status is ``Discharging`` means
battery power. No battery, or no answer, counts as mains power: a desktop must never stop
embedding because a sensor is absent.

The indexer takes the probe as a plain callable, so tests inject their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

PowerProbe = Callable[[], bool]
SYS_POWER = Path("/sys/class/power_supply")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return ""


def on_battery_sysfs(root: Path | None = None) -> bool | None:
    """The answer from Linux sysfs; None when it has no power supplies to ask.

    Batteries of devices (a wireless mouse: ``scope`` is ``Device``) do not count.
    """
    try:
        supplies = sorted((root or SYS_POWER).iterdir())
    except OSError:
        return None
    supplies = [s for s in supplies if _read(s / "scope") != "Device"]
    kinds = {supply: _read(supply / "type") for supply in supplies}
    mains = [s for s, kind in kinds.items() if kind in ("Mains", "USB", "USB_C")]
    batteries = [s for s, kind in kinds.items() if kind == "Battery"]
    if any(_read(s / "online") == "1" for s in mains):
        return False
    if batteries:
        return any(_read(s / "status") == "Discharging" for s in batteries)
    return None if not mains else True


def on_battery_psutil() -> bool | None:
    """psutil's answer; None when psutil or a battery sensor is missing."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        battery = psutil.sensors_battery()
    except Exception as exc:  # a sensor driver error is no reason to stop indexing
        log.debug("battery sensor unreadable: %s", exc)
        return None
    if battery is None or battery.power_plugged is None:  # no battery, or plug state unknown
        return None
    return not battery.power_plugged


def on_battery() -> bool:
    """True only when a sensor says the machine runs on battery."""
    answer = on_battery_psutil()
    if answer is None:
        answer = on_battery_sysfs()
    return bool(answer)


def never() -> bool:
    """The probe when pausing on battery is switched off."""
    return False
