"""Dates as people type them (``quarry search --after``): the start of the period named."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.dates import parse_date

NOW = datetime(2026, 11, 27, 15, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", datetime(2026, 11, 27)),
        ("Yesterday", datetime(2026, 11, 26)),
        ("3 days ago", datetime(2026, 11, 24)),
        ("a week ago", datetime(2026, 11, 20)),
        ("one day ago", datetime(2026, 11, 26)),
        ("last month", datetime(2026, 10, 27, 15, 30)),  # a rolling month up to now
        ("2026-01-02", datetime(2026, 1, 2)),
        ("2026-01-02T10:00", datetime(2026, 1, 2, 10)),
    ],
)
def test_accepted_forms(text: str, expected: datetime) -> None:
    assert parse_date(text, NOW) == expected.timestamp()


def test_unknown_words_name_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match="yesterday"):
        parse_date("someday", NOW)
