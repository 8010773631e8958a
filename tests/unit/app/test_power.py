"""Battery detection from a Linux-style /sys/class/power_supply tree in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import power


def supply(root: Path, name: str, **files: str) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    for key, value in files.items():
        (folder / key).write_text(value + "\n")


def test_laptop_unplugged_is_on_battery(tmp_path: Path) -> None:
    supply(tmp_path, "AC", type="Mains", online="0")
    supply(tmp_path, "BAT0", type="Battery", status="Discharging")
    assert power.on_battery_sysfs(tmp_path) is True


def test_laptop_plugged_in_is_not(tmp_path: Path) -> None:
    supply(tmp_path, "AC", type="Mains", online="1")
    supply(tmp_path, "BAT0", type="Battery", status="Discharging")  # stale status: mains wins
    assert power.on_battery_sysfs(tmp_path) is False


def test_full_battery_without_mains_info_is_not(tmp_path: Path) -> None:
    supply(tmp_path, "BAT1", type="Battery", status="Full")
    assert power.on_battery_sysfs(tmp_path) is False


def test_desktop_without_supplies_is_unknown(tmp_path: Path) -> None:
    assert power.on_battery_sysfs(tmp_path) is None
    assert power.on_battery_sysfs(tmp_path / "missing") is None
    supply(tmp_path, "hidpp_battery_0", type="Battery", status="Discharging", scope="Device")
    assert power.on_battery_sysfs(tmp_path) is None  # a wireless mouse's battery


def test_psutil_first_then_sysfs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(power, "SYS_POWER", tmp_path)
    supply(tmp_path, "BAT0", type="Battery", status="Discharging")
    monkeypatch.setattr(power, "on_battery_psutil", lambda: False)
    assert power.on_battery() is False  # psutil's answer wins
    monkeypatch.setattr(power, "on_battery_psutil", lambda: None)
    assert power.on_battery() is True  # no psutil answer: sysfs decides
    (tmp_path / "BAT0" / "status").write_text("Charging\n")
    assert power.on_battery() is False
