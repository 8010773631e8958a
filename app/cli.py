"""The ``quarry`` command: dispatches to one module per subcommand; bare ``quarry`` opens the window.

Subcommand modules are imported lazily so ``quarry search`` never pays for Qt and
``quarry gui`` never pays for argparse trees it does not use.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
from collections.abc import Sequence
from types import ModuleType

from app import __version__

COMMANDS: dict[str, str] = {
    "index": "app.commands.index",
    "watch": "app.commands.watch",
    "search": "app.commands.search",
    "similar": "app.commands.similar",
    "status": "app.commands.status",
    "embed": "app.commands.embed",
    "rerank": "app.commands.rerank",
    "calibrate": "app.commands.calibrate",
    "serve": "app.commands.serve",
    "mcp": "app.commands.mcp",
    "gui": "app.commands.gui",
}


def _load(name: str) -> ModuleType | None:
    """Import a command module; a missing one means that command is not built yet."""
    try:
        return importlib.import_module(COMMANDS[name])
    except ModuleNotFoundError as exc:
        if exc.name == COMMANDS[name]:
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="quarry", description="Find your documents by meaning, offline."
    )
    parser.add_argument("--version", action="version", version=f"quarry {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = _load(name)
        if module is None:
            continue
        child = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(child)
        child.set_defaults(_module=module)
    return parser


def lossless_output() -> None:
    """Print file names that are not valid UTF-8 as the bytes they are, never raise on them.

    Python decodes such names with ``surrogateescape``; writing them back the same way
    shows the user exactly the name ``ls`` shows.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="surrogateescape")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the ``quarry`` script and ``python -m app``."""
    lossless_output()
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list:
        args_list = ["gui"]
    args = parser.parse_args(args_list)
    module: ModuleType | None = getattr(args, "_module", None)
    if module is None:
        parser.print_help(sys.stderr)
        return 2
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _ctrl_c)
    result: int = module.run(args)
    return result


def _ctrl_c(signum: int, frame: object) -> None:
    """Ctrl-C as Python's own handler has it (KeyboardInterrupt), recorded first: one that
    lands inside an SQL function reaches us as a database error otherwise
    (``storage.connection.note_ctrl_c``)."""
    from storage.connection import note_ctrl_c

    note_ctrl_c()
    raise KeyboardInterrupt
