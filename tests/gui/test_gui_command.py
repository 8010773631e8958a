"""``quarry`` with no arguments and ``quarry gui`` both reach the window command."""

from __future__ import annotations

import pytest

from app import cli
from app.commands import gui


def test_gui_command_is_registered() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["gui", "--folder", "/x", "--hidden"])
    assert args._module is gui
    assert args.folder == ["/x"] and args.hidden


def test_bare_quarry_runs_gui(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    monkeypatch.setattr(gui, "run", lambda args: seen.append(args.command) or 0)
    assert cli.main([]) == 0
    assert seen == ["gui"]
