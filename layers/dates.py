"""The range of days placerisk works with, for every date a user gives.

A day far outside it is a typing mistake (9999-12-31 overflows date arithmetic; 0001-01-01
makes a patrol plan for the year 1), so every date parameter is refused outside it with a
message naming the parameter, the value and the range.
"""

from __future__ import annotations

import datetime as dt

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


__all__ = ["EARLIEST", "LATEST", "checked_day", "out_of_range"]
