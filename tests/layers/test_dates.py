"""The one date parser of placerisk (`layers.dates.parse_day`) and its range of days."""

from __future__ import annotations

import datetime as dt

import pytest

from layers.dates import EARLIEST, LATEST, checked_day, out_of_range, parse_day
from layers.errors import ParameterError


@pytest.mark.parametrize(("text", "day"), [
    ("2025-06-30", dt.date(2025, 6, 30)),
    ("2024-02-29", dt.date(2024, 2, 29)),  # a leap day
    ("1990-01-01", EARLIEST),
    ("2100-12-31", LATEST),
])
def test_parse_day_reads_yyyy_mm_dd(text: str, day: dt.date) -> None:
    assert parse_day(text) == day


@pytest.mark.parametrize("text", [
    "30/06/2025", "2025-6-30", "20250630", "2025-06-30T00:00", " 2025-06-30", "2025-06-30\n",
    "", "yesterday", "+2025-06-30",
])
def test_parse_day_refuses_other_forms(text: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_day(text, "since")
    assert str(caught.value) == f"since: {text!r} is not a date; use YYYY-MM-DD"


@pytest.mark.parametrize("text", ["2025-02-29", "2025-02-30", "2025-13-01", "2025-00-10",
                                  "2025-04-31", "0000-01-01"])
def test_parse_day_refuses_impossible_days(text: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_day(text, "meeting")
    assert str(caught.value) == f"meeting: {text!r} is not a day of the calendar; use YYYY-MM-DD"


@pytest.mark.parametrize("text", ["1989-12-31", "2101-01-01", "0001-01-01", "9999-12-31"])
def test_parse_day_refuses_days_outside_the_range(text: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_day(text, "as_of")
    assert str(caught.value) == (f"as_of: {text} is outside the days placerisk works with "
                                 "(1990-01-01 to 2100-12-31)")


def test_parse_day_names_date_by_default() -> None:
    with pytest.raises(ParameterError, match=r"^date: 'x' is not a date"):
        parse_day("x")


@pytest.mark.parametrize("text", ["\u0662\u0660\u0662\u0665-\u0660\u0666-\u0663\u0660",
                                  "\uff12\uff10\uff12\uff15-\uff10\uff16-\uff13\uff10"])
def test_parse_day_calls_non_ascii_digits_not_a_date(text: str) -> None:
    with pytest.raises(ParameterError, match="is not a date; use YYYY-MM-DD"):
        parse_day(text)


def test_out_of_range_and_checked_day() -> None:
    assert out_of_range(EARLIEST, "x") is None and out_of_range(LATEST, "x") is None
    assert out_of_range(LATEST + dt.timedelta(days=1), "until") == (
        "until: 2101-01-01 is outside the days placerisk works with (1990-01-01 to 2100-12-31)")
    assert checked_day(dt.date(2025, 6, 30)) == dt.date(2025, 6, 30)
    with pytest.raises(ValueError, match=r"^1989-12-31 is outside the days"):
        checked_day(EARLIEST - dt.timedelta(days=1))
