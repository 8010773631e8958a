"""Keep ``None``, ``True`` and ``False`` alive under the PySide6 build Quarry runs on with
Python 3.11.

PySide6 6.12 drops references it never took: one to ``None`` on many calls that return
nothing (``QWidget.setVisible``, ``QTimer.start``, ``QComboBox.setCurrentIndex``...) and
on every ``itemData``/``currentData`` that answers ``None`` (measured: 500 references lost
in 500 calls), and one to ``True`` on **every** ``Signal.emit`` (measured: 100 emits, 100
references lost, connected or not). From Python 3.12 on these objects are immortal and
this is harmless; on 3.11 each starts a window session with a few thousand references, so
a few hundred keystrokes, or a few thousand progress signals of an indexing run, abort the
interpreter ("Fatal Python error: none_dealloc" / "bool_dealloc", often only at exit when
garbage collection drops the last real references: the crash on quit).

``keep_singletons_alive`` gives the three the headroom 3.12 gives them: it adds 2**40
references each, which no session can use up. They are never freed in any case, so the
extra count changes nothing else. Only CPython before 3.12 needs it. ``app.ui`` calls it
on import, before any PySide6 call.
"""

from __future__ import annotations

import ctypes
import platform
import sys

HEADROOM = 1 << 40
_done = False


def keep_singletons_alive() -> bool:
    """Top up the singletons' reference counts once per process; True if it was needed."""
    global _done
    if _done or sys.version_info >= (3, 12) or platform.python_implementation() != "CPython":
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += HEADROOM  # ob_refcnt first
    _done = True
    return True
