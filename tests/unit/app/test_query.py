"""The query language: each operator, natural dates, malformed input as plain words."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.dates import parse_date, parse_period
from app.extract.images import IMAGE_EXTS
from app.query import parse
from storage.models import SearchFilters

IMAGE_EXTENSIONS = tuple(e.lstrip(".") for e in IMAGE_EXTS)

NOW = datetime(2026, 11, 27, 15, 30)  # a Friday


def ts(*parts: int) -> float:
    return datetime(*parts).timestamp()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024", ts(2024, 1, 1), ts(2025, 1, 1)),
        ("2024-05", ts(2024, 5, 1), ts(2024, 6, 1)),
        ("2024/02", ts(2024, 2, 1), ts(2024, 3, 1)),
        ("2024-05-17", ts(2024, 5, 17), ts(2024, 5, 18)),
        ("2024-05-17T09:30", ts(2024, 5, 17, 9, 30), ts(2024, 5, 17, 9, 30) + 1),
        ("today", ts(2026, 11, 27), ts(2026, 11, 28)),
        ("Yesterday", ts(2026, 11, 26), ts(2026, 11, 27)),
        ("last week", ts(2026, 11, 20, 15, 30), NOW.timestamp()),
        ("last-week", ts(2026, 11, 20, 15, 30), NOW.timestamp()),
        ("lastweek", ts(2026, 11, 20, 15, 30), NOW.timestamp()),
        ("past 3 days", ts(2026, 11, 24, 15, 30), NOW.timestamp()),
        ("last month", ts(2026, 10, 27, 15, 30), NOW.timestamp()),
        ("last year", ts(2025, 11, 27, 15, 30), NOW.timestamp()),
        ("this week", ts(2026, 11, 23), NOW.timestamp()),
        ("this month", ts(2026, 11, 1), NOW.timestamp()),
        ("this year", ts(2026, 1, 1), NOW.timestamp()),
        ("3 days ago", ts(2026, 11, 24), ts(2026, 11, 25)),
        ("2-weeks-ago", ts(2026, 11, 13), ts(2026, 11, 14)),
    ],
)
def test_dates_name_periods(text: str, start: float, end: float) -> None:
    period = parse_period(text, NOW)
    assert period is not None and (period.start, period.end) == (start, end)


@pytest.mark.parametrize("text", ["", "soon", "2024-13", "2024-02-30", "last fortnight", "99999"])
def test_what_is_no_date_gives_none_or_a_clear_error(text: str) -> None:
    assert parse_period(text, NOW) is None
    with pytest.raises(ValueError, match="not a date"):
        parse_date(text, NOW)


def test_month_arithmetic_clamps_to_the_month_end() -> None:
    period = parse_period("last month", datetime(2026, 3, 31, 12))
    assert period is not None and period.start == ts(2026, 2, 28, 12)


# Each operator: query -> (text searched, filters it sets)
TABLE = [
    ('"exact phrase" here', "exact phrase here", {"phrases": ("exact phrase",)}),
    ("cats -dogs", "cats", {"excluded": ("dogs",)}),
    ('cats -"hot dogs"', "cats", {"excluded": ("hot dogs",)}),
    ("report type:pdf", "report", {"extensions": ("pdf",)}),
    ("report ext:MD", "report", {"extensions": ("md", "markdown")}),
    ("report type:pdf,docx", "report", {"extensions": ("pdf", "docx")}),
    ("notes in:Projects", "notes", {"folder_names": ("Projects",)}),
    ('notes in:"My Projects"', "notes", {"folder_names": ("My Projects",)}),
    ("notes in:/home/me/work/", "notes", {"folders": ("/home/me/work",)}),
    ("notes path:invoice", "notes", {"path_parts": ("invoice",)}),
    ("notes after:2024-05", "notes", {"modified_after": ts(2024, 5, 1)}),
    ("notes before:2024", "notes", {"modified_before": ts(2024, 1, 1)}),
    ("notes after:yesterday", "notes", {"modified_after": ts(2026, 11, 26)}),
    ("notes after:last week", "notes", {"modified_after": ts(2026, 11, 20, 15, 30)}),
    ('notes after:"last week"', "notes", {"modified_after": ts(2026, 11, 20, 15, 30)}),
    ("notes since:3 days ago", "notes", {"modified_after": ts(2026, 11, 24)}),
    ("notes AFTER:2024 draft", "notes draft", {"modified_after": ts(2024, 1, 1)}),
    ("fees type:mail", "fees", {"mail_only": True, "extensions": ()}),
    ("fees from:anna@example.org", "fees", {"senders": ("anna@example.org",)}),
    ("scan type:image", "scan", {"extensions": IMAGE_EXTENSIONS}),
    ("Prozess lang:DE", "Prozess", {"languages": ("de",)}),
    ("notes language:de,fr", "notes", {"languages": ("de", "fr")}),
]

MALFORMED = [
    ("type: pdf", "type pdf"),  # empty value
    ("after:soon plans", "after soon plans"),  # no date
    ("before:2024-13", "before 2024-13"),
    ("http://example.com", "http //example.com"),  # unknown operator name
    ('say "unbalanced', "say unbalanced"),
    ("- alone", "- alone"),
    ("ext:*.pdf", "ext *.pdf"),  # no extension
    ("-- option", "-- option"),
    ("-", "-"),
    ("lang:german", "lang german"),  # no language code
]


@pytest.mark.parametrize(("query", "text", "expected"), TABLE)
def test_each_operator_sets_its_filter(query: str, text: str, expected: dict[str, object]) -> None:
    parsed = parse(query, NOW)
    assert parsed.text == text
    filters = parsed.filters()
    for name, value in expected.items():
        assert getattr(filters, name) == value
    assert filters.active
    assert len(parsed.operators) == (0 if "phrases" in expected else 1)


@pytest.mark.parametrize(("query", "text"), MALFORMED)
def test_malformed_operators_are_searched_as_plain_words(query: str, text: str) -> None:
    parsed = parse(query, NOW)
    assert parsed.text == text
    assert parsed.operators == () and parsed.filters() == SearchFilters()


def test_operators_are_chips_that_can_be_taken_out_again() -> None:
    query = "tax type:pdf in:Finance after:last week -draft"
    parsed = parse(query, NOW)
    assert [op.label for op in parsed.operators] == [
        "type: pdf",
        "in: Finance",
        "after: last week",
        "without: draft",
    ]
    assert parsed.without(parsed.operators[2]) == "tax type:pdf in:Finance -draft"
    assert parsed.without(parsed.operators[0]) == "tax in:Finance after:last week -draft"
    assert parse(parsed.without(parsed.operators[3]), NOW).excluded == ()


def test_query_filters_narrow_the_dropdown_filters() -> None:
    base = SearchFilters(extensions=("txt",), modified_after=ts(2020, 1, 1), folders=("/a",))
    narrowed = parse("x type:pdf after:2024 in:/b", NOW).filters(base)
    assert narrowed.extensions == ("pdf",)  # the query's choice wins
    assert narrowed.modified_after == ts(2024, 1, 1)  # the later of the two
    assert narrowed.folders == ("/b",)  # the query's folder, not either of the two


def test_type_mail_and_from_narrow_the_cli_filters() -> None:
    base = SearchFilters(senders=("bob",), extensions=("mbox",))
    narrowed = parse("fees type:pdf,mail from:Anna", NOW).filters(base)
    assert narrowed.mail_only and narrowed.extensions == ("pdf",)
    assert narrowed.senders == ("bob", "Anna")
    assert [op.label for op in parse("fees from:Anna", NOW).operators] == ["from: Anna"]
