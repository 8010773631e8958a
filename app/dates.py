"""Dates as people type them: ISO dates and times, "today", "yesterday", "3 days ago", "last week".

``quarry search --after/--before`` and the window's date filter read the same words, so a
date that works in one works in the other. Relative dates count back from local midnight.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
_AGO = re.compile(r"^(\d+|an?|one)\s+(day|week|month|year)s?\s+ago$")
_LAST = re.compile(r"^(?:last|past|this)\s+(day|week|month|year)$")
FORMS = "YYYY-MM-DD, today, yesterday, '3 days ago', 'last week' (month, year)"


def parse_date(text: str, now: datetime | None = None) -> datetime:
    """The moment ``text`` names; ValueError with the accepted forms otherwise."""
    words = " ".join(text.strip().lower().split())
    midnight = (now or datetime.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    if words == "today":
        return midnight
    if words == "yesterday":
        return midnight - timedelta(days=1)
    ago, last = _AGO.match(words), _LAST.match(words)
    if ago:
        count = int(ago[1]) if ago[1].isdigit() else 1
        return midnight - timedelta(days=count * _UNIT_DAYS[ago[2]])
    if last:
        return midnight - timedelta(days=_UNIT_DAYS[last[1]])
    try:
        return datetime.fromisoformat(words.upper() if "t" in words else words)
    except ValueError:
        raise ValueError(f"not a date: {text!r} (try {FORMS})") from None


def timestamp(text: str | None) -> float | None:
    """POSIX seconds of ``text`` (None stays None)."""
    return None if text is None else parse_date(text).timestamp()
