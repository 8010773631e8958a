"""The start-up check for Qt's X11 libraries (issue 11, item 1)."""

from __future__ import annotations

import os

import pytest

from app import qtlibs
from tests.fixtures.cli import quarry


def test_missing_libraries_are_named_with_apt_and_dnf_packages() -> None:
    absent = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    missing = qtlibs.missing_libraries(lambda soname: soname not in absent)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    hint = qtlibs.install_hint(missing)
    assert "\n" not in hint
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in hint
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms" in hint


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DISPLAY": ":0"}, True),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, False),
        ({"QT_QPA_PLATFORM": "xcb"}, True),
        ({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, False),
        ({}, False),
    ],
)
def test_only_the_xcb_platform_is_checked(env: dict[str, str], expected: bool) -> None:
    assert qtlibs.uses_xcb(env, platform="linux") is expected
    assert qtlibs.uses_xcb(env, platform="darwin") is False


def test_gui_without_the_libraries_exits_1_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = qtlibs.missing_libraries()
    if not missing:
        pytest.skip("every library Qt's xcb plugin needs is installed here")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":" + str(900 + os.getpid() % 50))
    done = quarry("gui", timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == qtlibs.install_hint(missing)
