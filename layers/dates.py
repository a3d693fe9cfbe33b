"""The range of days placerisk works with, for every date a user gives.

A day far outside it is a typing mistake (9999-12-31 overflows date arithmetic; 0001-01-01
makes a patrol plan for the year 1), so every date parameter is refused outside it with a
message naming the parameter, the value and the range.
"""

from __future__ import annotations

import datetime as dt
import re

from layers.errors import ParameterError

EARLIEST = dt.date(1990, 1, 1)  # before police.uk (2010) and any MACE hub
LATEST = dt.date(2100, 12, 31)


def out_of_range(day: dt.date, name: str) -> str | None:
    """The message for a day outside `EARLIEST`..`LATEST`, else ``None``.

    Examples
    --------
    >>> out_of_range(dt.date(2025, 6, 30), "date") is None
    True
    >>> out_of_range(dt.date(9999, 12, 31), "date")
    'date: 9999-12-31 is outside the days placerisk works with (1990-01-01 to 2100-12-31)'
    """
    if EARLIEST <= day <= LATEST:
        return None
    return f"{name}: {day} is outside the days placerisk works with ({EARLIEST} to {LATEST})"


def checked_day(day: dt.date) -> dt.date:
    """``day``, or `ValueError` when it is out of range (a pydantic after-validator)."""
    msg = out_of_range(day, "date")
    if msg:
        raise ValueError(msg.removeprefix("date: "))
    return day


def parse_day(text: str, name: str = "date") -> dt.date:
    """Read a ``YYYY-MM-DD`` day that a user typed: the one date parser of placerisk.

    Raises
    ------
    layers.errors.ParameterError
        Naming ``name`` and the text: not of the form ``YYYY-MM-DD``, not a day of the
        calendar, or outside `EARLIEST`..`LATEST`.

    Examples
    --------
    >>> parse_day("2025-06-30")
    datetime.date(2025, 6, 30)
    >>> parse_day("2025-02-30", "meeting")
    Traceback (most recent call last):
    ...
    layers.errors.ParameterError: meeting: '2025-02-30' is not a day of the calendar; use YYYY-MM-DD
    """
    if not _DATE.fullmatch(text):
        msg = f"{name}: {text!r} is not a date; use YYYY-MM-DD"
        raise ParameterError(msg)
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        msg = f"{name}: {text!r} is not a day of the calendar; use YYYY-MM-DD"
        raise ParameterError(msg) from None
    wrong = out_of_range(day, name)
    if wrong:
        raise ParameterError(wrong)
    return day


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only

__all__ = ["EARLIEST", "LATEST", "checked_day", "out_of_range", "parse_day"]
