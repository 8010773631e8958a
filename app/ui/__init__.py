"""The PySide6 window. Importing it first makes Python 3.11 safe for PySide6 6.12's
reference-count slips (see ``app.ui.immortal``)."""

from app.ui.immortal import keep_singletons_alive

keep_singletons_alive()
