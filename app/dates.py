"""Dates people type: ISO dates and a few natural words, each read as a period of time.

One parser for the query language (``after:``/``before:``), the CLI's ``--after``/
``--before`` and the window's date filter, so all three agree on what "last week" means.

A date names a period ``[start, end)`` in local time:

- ``2024`` the year, ``2024-05`` (or ``2024/05``) the month, ``2024-05-17`` the day, an ISO
  date-time (``2024-05-17T09:30``) that instant;
- ``today``, ``yesterday``; ``this week`` (since Monday), ``this month``, ``this year``;
- ``last week`` / ``past week`` (the 7 days up to now), ``last month``, ``last year``, and
  ``last 3 days`` / ``past 2 weeks``: rolling windows that end now, like a date filter's
  "Past week";
- ``3 days ago``, ``2 weeks ago``, ``a month ago``: that day.

Words may be joined by spaces, ``-`` or ``_`` (``last-week``), case does not matter.
``after:X`` keeps files modified at or after X's start; ``before:X`` those modified before
X's start, so ``before:2024`` means "up to the end of 2023" and ``after:2024-05`` "since
1 May 2024". Text that is no date gives ``None``, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

_UNITS = {"day": 1, "week": 7}
_CALENDAR = ("month", "year")
_ROLLING = re.compile(r"(?:last|past)(?: (\d{1,4}))? (day|week|month|year)s?")
_AGO = re.compile(r"(\d{1,4}|an?|one) (day|week|month|year)s? ago")
_THIS = re.compile(r"this (week|month|year)")
_YEAR = re.compile(r"\d{4}")
_MONTH = re.compile(r"(\d{4})[-/](\d{1,2})")
_DAY = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")
#: Words that start a natural date of more than one word (the query parser reads on).
LEADING_WORDS = frozenset({"last", "past", "this"})


@dataclass(frozen=True)
class Period:
    """A span of local time, as POSIX seconds: ``start <= t < end``."""

    start: float
    end: float


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _shift_months(when: datetime, months: int) -> datetime:
    """``when`` moved back ``months`` calendar months (the day clamped to the month's end)."""
    index = when.year * 12 + when.month - 1 - months
    year, month = divmod(index, 12)
    day = min(when.day, _days_in(year, month + 1))
    return when.replace(year=year, month=month + 1, day=day)


def _days_in(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def _back(now: datetime, count: int, unit: str) -> datetime:
    """``now`` moved back ``count`` units (calendar months and years, fixed days/weeks)."""
    if unit in _CALENDAR:
        return _shift_months(now, count * (12 if unit == "year" else 1))
    return now - timedelta(days=count * _UNITS[unit])


def _span(start: datetime, end: datetime) -> Period:
    return Period(start.timestamp(), end.timestamp())


def _iso(text: str) -> Period | None:
    """Year, month, day or ISO date-time; None if ``text`` is none of those or impossible."""
    try:
        if _YEAR.fullmatch(text):
            year = int(text)
            return _span(datetime(year, 1, 1), datetime(year + 1, 1, 1))
        if m := _MONTH.fullmatch(text):
            year, month = int(m[1]), int(m[2])
            start = datetime(year, month, 1)
            return _span(start, start + timedelta(days=_days_in(year, month)))
        if m := _DAY.fullmatch(text):
            start = datetime(int(m[1]), int(m[2]), int(m[3]))
            return _span(start, start + timedelta(days=1))
        if "t" in text or ":" in text:
            when = datetime.fromisoformat(text.upper())
            return Period(when.timestamp(), when.timestamp() + 1)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _natural(text: str, now: datetime) -> Period | None:
    today = _midnight(now.date())
    if text == "today":
        return _span(today, today + timedelta(days=1))
    if text == "yesterday":
        return _span(today - timedelta(days=1), today)
    if m := _THIS.fullmatch(text):
        unit = m[1]
        if unit == "week":
            start = today - timedelta(days=today.weekday())
        else:
            start = today.replace(day=1, month=1 if unit == "year" else today.month)
        return _span(start, now)
    if m := _ROLLING.fullmatch(text):
        return _span(_back(now, int(m[1] or 1), m[2]), now)
    if m := _AGO.fullmatch(text):
        count = int(m[1]) if m[1].isdigit() else 1  # "a week ago"
        day = _midnight(_back(now, count, m[2]).date())
        return _span(day, day + timedelta(days=1))
    return None


DATE_FORMS = (
    "2024-05-17, 2024-05, 2024, today, yesterday, last week, last month, 3 days ago, a week ago"
)


def parse_period(text: str, now: datetime | None = None) -> Period | None:
    """The period ``text`` names (see the module docstring), or None when it names none."""
    words = re.sub(r"[\s_]+|(?<=[a-z])-(?=[a-z\d])|(?<=\d)-(?=[a-z])", " ", text.strip().lower())
    words = re.sub(r"^(last|past|this)(?=[a-z])", r"\1 ", words)  # "lastweek"
    if not words:
        return None
    current = now or datetime.now()
    try:
        return _iso(words) or _natural(words, current)
    except (ValueError, OverflowError, OSError):  # a year 0 or 9999 + 1, say
        return None


def parse_date(text: str, now: datetime | None = None) -> float:
    """Start of the period ``text`` names, for ``--after``/``--before``; ValueError if none."""
    period = parse_period(text, now)
    if period is None:
        raise ValueError(f"not a date: {text!r} (try {DATE_FORMS})")
    return period.start
